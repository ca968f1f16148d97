//! The error envelope everywhere: routes, methods, bodies, ranges.

use serde_json::{json, Value};

use crate::helpers::{Db, TestApp};

both_dbs!(
    envelope_on_routes_methods_and_bodies,
    out_of_range_values,
    unknown_references
);

async fn raw(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    ct: Option<&str>,
    body: Vec<u8>,
) -> (u16, Option<String>, Value) {
    let mut req = app
        .client
        .request(method, app.url(path))
        .bearer_auth(&app.key)
        .body(body);
    if let Some(ct) = ct {
        req = req.header("content-type", ct);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let header = resp
        .headers()
        .get("x-request-id")
        .map(|v| v.to_str().unwrap().to_string());
    assert_eq!(
        resp.headers().get("flashcat-request-id"),
        resp.headers().get("x-request-id"),
        "the hosted product's SDK reads the request id from Flashcat-Request-Id"
    );
    let v: Value = resp.json().await.unwrap();
    (status, header, v)
}

async fn envelope_on_routes_methods_and_bodies(db: Db) {
    let app = TestApp::spawn(db).await;
    let (s, header, v) = raw(&app, reqwest::Method::POST, "/no/such/path", None, vec![]).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (404, Some("RouteNotFound"))
    );
    assert_eq!(
        header.as_deref(),
        v["request_id"].as_str(),
        "the header and the body carry the same request id"
    );

    let (s, _, v) = raw(&app, reqwest::Method::GET, "/incident/list", None, vec![]).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (405, Some("MethodNotAllowed"))
    );
    let (s, _, v) = raw(&app, reqwest::Method::POST, "/health", None, vec![]).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (405, Some("MethodNotAllowed"))
    );

    let (s, _, v) = raw(
        &app,
        reqwest::Method::POST,
        "/channel/create",
        Some("text/plain"),
        b"{\"channel_name\":\"x\"}".to_vec(),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("InvalidContentType"))
    );
    let (s, _, v) = raw(
        &app,
        reqwest::Method::POST,
        "/channel/create",
        None,
        b"{\"channel_name\":\"x\"}".to_vec(),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("InvalidContentType"))
    );

    let (s, _, v) = raw(
        &app,
        reqwest::Method::POST,
        "/channel/create",
        Some("application/json"),
        b"{\"channel_name\": \"x\",\n  oops}".to_vec(),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("InvalidParameter"))
    );
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("line 2"), "the message says where: {msg}");

    let (s, _, v) = raw(
        &app,
        reqwest::Method::POST,
        "/channel/create",
        Some("application/json; charset=utf-8"),
        b"{\"channel_name\": 5}".to_vec(),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("InvalidParameter"))
    );
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("channel_name"),
        "{v}"
    );

    let big = format!("{{\"comment\": \"{}\"}}", "x".repeat(1024 * 1024));
    let (s, _, v) = raw(
        &app,
        reqwest::Method::POST,
        "/incident/comment",
        Some("application/json"),
        big.into_bytes(),
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (413, Some("EntityTooLarge"))
    );

    // An empty body means {}: here that is a missing required field, named.
    let (s, _, v) = raw(
        &app,
        reqwest::Method::POST,
        "/incident/create",
        None,
        vec![],
    )
    .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (400, Some("InvalidParameter"))
    );
    assert!(
        v["error"]["message"].as_str().unwrap().contains("title"),
        "{v}"
    );
    // An empty body is fine where nothing is required.
    let (s, _, v) = raw(&app, reqwest::Method::POST, "/channel/list", None, vec![]).await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["data"]["items"], json!([]));
    // Unknown fields are ignored.
    app.ok("/channel/list", json!({"p": 1, "whatever": true}))
        .await;
    assert_eq!(app.event_count().await, 0);
}

async fn out_of_range_values(db: Db) {
    let app = TestApp::spawn(db).await;
    for (limit, p) in [(0, 1), (101, 1), (20, 0), (20, -1)] {
        app.fails(
            "/person/list",
            json!({"limit": limit, "p": p}),
            400,
            "InvalidParameter",
        )
        .await;
    }
    app.ok("/person/list", json!({"limit": 100})).await;
    for title in ["ab", "  ab  ", &"t".repeat(513)] {
        let m = app
            .fails(
                "/incident/create",
                json!({"title": title, "incident_severity": "Info"}),
                400,
                "InvalidParameter",
            )
            .await;
        assert!(m.starts_with("title"), "{m}");
    }
    app.ok(
        "/incident/create",
        json!({"title": "abc", "incident_severity": "Info"}),
    )
    .await;
    app.ok(
        "/incident/create",
        json!({"title": "t".repeat(512), "incident_severity": "Info"}),
    )
    .await;
    app.fails(
        "/incident/create",
        json!({"title": "abc", "incident_severity": "critical"}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/incident/create",
        json!({"title": "abc", "incident_severity": "Info", "description": "d".repeat(6145)}),
        400,
        "InvalidParameter",
    )
    .await;
    app.ok(
        "/incident/create",
        json!({"title": "abc", "incident_severity": "Info", "description": "d".repeat(6144)}),
    )
    .await;
    app.fails(
        "/incident/info",
        json!({"incident_id": "not-an-id"}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/incident/info",
        json!({"incident_id": "ABCDEF0123456789ABCDEF01"}),
        400,
        "InvalidParameter",
    )
    .await;
    let ids: Vec<String> = (0..101).map(|i| format!("{i:024x}")).collect();
    app.fails(
        "/incident/ack",
        json!({"incident_ids": ids}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/incident/ack",
        json!({"incident_ids": []}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/incident/list",
        json!({"start_time": 100}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/incident/list",
        json!({"start_time": 100, "end_time": 50}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/incident/list",
        json!({"start_time": 0, "end_time": 50, "progress": "Open"}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/channel/create",
        json!({"channel_name": "c", "storm_thresholds": [1]}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/channel/create",
        json!({"channel_name": "c", "grouping": {"method": "x"}}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/channel/create",
        json!({"channel_name": "c", "grouping": {"method": "p", "dimensions": []}}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/person/create",
        json!({"person_name": "X", "email": "not-an-email"}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/person/create",
        json!({"person_name": "X", "email": "x@example.com", "role": "root"}),
        400,
        "InvalidParameter",
    )
    .await;
    assert_eq!(
        app.events().await.len(),
        3,
        "only the three valid creations emitted events"
    );
}

async fn unknown_references(db: Db) {
    let app = TestApp::spawn(db).await;
    let ghost = "0123456789abcdef01234567";
    app.fails(
        "/incident/info",
        json!({"incident_id": ghost}),
        404,
        "ResourceNotFound",
    )
    .await;
    app.fails(
        "/incident/feed",
        json!({"incident_id": ghost}),
        404,
        "ResourceNotFound",
    )
    .await;
    app.fails(
        "/incident/ack",
        json!({"incident_ids": [ghost]}),
        404,
        "ResourceNotFound",
    )
    .await;
    app.fails(
        "/incident/create",
        json!({"title": "abc", "incident_severity": "Info", "channel_id": 77}),
        404,
        "ResourceNotFound",
    )
    .await;
    app.fails("/incident/create", json!({"title": "abc", "incident_severity": "Info", "assigned_to": {"type": "assign", "person_ids": [77]}}), 404, "ResourceNotFound").await;
    app.fails(
        "/person/info",
        json!({"person_id": 77}),
        404,
        "ResourceNotFound",
    )
    .await;
    app.fails(
        "/channel/info",
        json!({"channel_id": 77}),
        404,
        "ResourceNotFound",
    )
    .await;
    app.fails(
        "/channel/update",
        json!({"channel_id": 77, "channel_name": "x"}),
        404,
        "ResourceNotFound",
    )
    .await;
    app.fails(
        "/team/update",
        json!({"team_id": 77, "team_name": "x"}),
        404,
        "ResourceNotFound",
    )
    .await;
    app.fails(
        "/team/create",
        json!({"team_name": "t", "person_ids": [77]}),
        404,
        "ResourceNotFound",
    )
    .await;
    app.fails(
        "/field/delete",
        json!({"field_id": 77}),
        404,
        "ResourceNotFound",
    )
    .await;
    app.fails(
        "/app-key/delete",
        json!({"app_key_id": 77}),
        404,
        "ResourceNotFound",
    )
    .await;
    assert_eq!(app.event_count().await, 0);
}
