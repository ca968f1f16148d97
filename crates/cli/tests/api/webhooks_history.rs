//! Webhooks beyond one push: order per incident, the history with resend
//! and test pushes, secrets masked and rotated, validation of every field.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{now_s, Db, TestApp};
use crate::receiver::{Reply, TestReceiver};
use crate::webhooks::{check_signed, hook, wait_history};

both_dbs!(
    order_per_incident_holds,
    history_resend_and_test_push,
    secrets_are_masked_and_rotation_signs_twice,
    endpoints_and_fields_are_validated,
);

async fn order_per_incident_holds(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    // The first push of every incident fails once, so order must survive retries.
    rx.script([
        Reply::status(500),
        Reply {
            delay: Duration::from_millis(30),
            ..Reply::status(200)
        },
    ]);
    hook(&app, &rx.url, json!({})).await;
    let a = app.incident("Ordered A").await;
    let b = app.incident("Ordered B").await;
    for i in 0..5 {
        app.ok(
            "/incident/comment",
            json!({"incident_ids": [a, b], "comment": format!("c{i}")}),
        )
        .await;
    }
    let outbox = app.store.events_after(0, 100).await.unwrap();
    let got = rx.wait_for(outbox.len() + 1).await;
    assert_eq!(
        rx.overlaps(),
        0,
        "a push was sent before the previous one of its incident was answered"
    );
    assert!(got.len() >= 12);
    for id in [&a, &b] {
        let expected: Vec<&str> = outbox
            .iter()
            .filter(|e| &e.subject_id == id)
            .map(|e| e.event_id.as_str())
            .collect();
        let mut seen: Vec<String> = vec![];
        for r in got
            .iter()
            .filter(|r| r.json()["incident"]["incident_id"] == json!(id))
        {
            let eid = r.header("webhook-id");
            if seen.last() != Some(&eid) {
                seen.push(eid);
            }
        }
        assert_eq!(
            seen, expected,
            "events of {id} arrive in the order they happened"
        );
    }
}

async fn history_resend_and_test_push(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let (hid, secret) = hook(&app, &rx.url, json!({"event_types": ["i_new"], "headers": [{"key": "Authorization", "value": "Bearer s3cret", "secret": true}]})).await;
    let id = app.incident("History").await;
    let first = rx.wait_for(1).await[0].clone();
    let hist = wait_history(&app, hid, 1).await;
    assert_eq!(hist[0]["incident_id"], json!(id));
    assert_eq!(hist[0]["event_type"], json!("i_new"));
    let inv = hist[0]["invocation_id"].as_str().unwrap().to_string();
    let info = app
        .ok("/integration/history/info", json!({"invocation_id": inv}))
        .await;
    assert_eq!(info["delivery_state"], json!("done"));
    assert_eq!(info["delivery_attempts"], json!(1));
    assert_eq!(info["response"]["body"], json!("ok"));
    let shown = info["request"].to_string();
    assert!(
        !shown.contains("s3cret") && shown.contains("******"),
        "secret headers are masked in history: {shown}"
    );
    // Filters.
    let filtered = |extra: Value| {
        let mut b =
            json!({"integration_id": hid, "start_time": now_s() - 600, "end_time": now_s() + 600});
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    assert_eq!(
        app.ok(
            "/integration/history/list",
            filtered(json!({"incident_id": id}))
        )
        .await["total"],
        json!(1)
    );
    assert_eq!(
        app.ok(
            "/integration/history/list",
            filtered(json!({"incident_id": "ffffffffffffffffffffffff"}))
        )
        .await["total"],
        json!(0)
    );
    assert_eq!(
        app.ok(
            "/integration/history/list",
            filtered(json!({"status": "failure"}))
        )
        .await["total"],
        json!(0)
    );
    assert_eq!(
        app.ok(
            "/integration/history/list",
            filtered(json!({"event_type": "i_ack"}))
        )
        .await["total"],
        json!(0)
    );
    app.fails(
        "/integration/history/list",
        filtered(json!({"status": "meh"})),
        400,
        "InvalidParameter",
    )
    .await;
    // Resend: same event id and body.
    app.ok("/integration/history/resend", json!({"invocation_id": inv}))
        .await;
    let again = rx.wait_for(2).await[1].clone();
    assert_eq!(again.header("webhook-id"), first.header("webhook-id"));
    assert_eq!(again.body, first.body);
    // Test push: answered synchronously, recorded with the test flag.
    let t = app
        .ok(
            "/integration/webhook/test",
            json!({"integration_id": hid, "event_type": "i_ack", "incident_id": id}),
        )
        .await;
    assert_eq!(
        (t["success"].clone(), t["status_code"].clone()),
        (json!(true), json!(200))
    );
    let pushed = rx.wait_for(3).await[2].clone();
    check_signed(&pushed, &secret);
    assert_eq!(pushed.json()["event_type"], json!("i_ack"));
    assert_eq!(pushed.json()["incident"]["incident_id"], json!(id));
    let rec = app
        .ok(
            "/integration/history/info",
            json!({"invocation_id": t["invocation_id"]}),
        )
        .await;
    assert_eq!(rec["test"], json!(true));
    rx.script([Reply::status(500)]);
    let t = app
        .ok("/integration/webhook/test", json!({"integration_id": hid}))
        .await;
    assert_eq!(
        (
            t["success"].clone(),
            t["status_code"].clone(),
            t["error_class"].clone()
        ),
        (json!(false), json!(500), json!("http_status"))
    );
}

async fn secrets_are_masked_and_rotation_signs_twice(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let (hid, old) = hook(&app, &rx.url, json!({"headers": [{"key": "X-Secret", "value": "hunter2", "secret": true}, {"key": "X-Plain", "value": "visible"}]})).await;
    assert!(old.starts_with("whsec_"));
    let info = app
        .ok("/integration/webhook/info", json!({"integration_id": hid}))
        .await;
    let text = info.to_string();
    assert!(
        !text.contains("hunter2") && !text.contains(&old[6..]),
        "{text}"
    );
    assert_eq!(info["headers"][0]["value"], json!("******"));
    assert_eq!(info["headers"][1]["value"], json!("visible"));
    assert_eq!(
        info["timeout_ms"],
        json!(2000),
        "a webhook waits 2 s by default, as the hosted product promises receivers"
    );
    let list = app
        .ok("/integration/webhook/list", json!({}))
        .await
        .to_string();
    assert!(!list.contains("hunter2") && !list.contains(&old[6..]));
    // Sending the masked value back keeps the secret.
    app.ok(
        "/integration/webhook/update",
        json!({"integration_id": hid, "headers": info["headers"], "name": "renamed"}),
    )
    .await;
    let new = app
        .ok(
            "/integration/webhook/rotate-secret",
            json!({"integration_id": hid}),
        )
        .await["signing_secret"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(new, old);
    app.incident("After rotation").await;
    let got = rx.wait_for(1).await;
    assert_eq!(got[0].header("x-secret"), "hunter2");
    assert_eq!(
        got[0].header("webhook-signature").split(' ').count(),
        2,
        "both signatures for 24 h"
    );
    check_signed(&got[0], &old);
    check_signed(&got[0], &new);
    assert_eq!(
        app.ok("/integration/webhook/info", json!({"integration_id": hid}))
            .await["name"],
        json!("renamed")
    );
}

async fn endpoints_and_fields_are_validated(db: Db) {
    let app = TestApp::spawn(db).await;
    let base = |endpoint: &str| json!({"kind": "incident", "name": "x", "endpoint": endpoint});
    for bad in [
        "http://169.254.169.254/latest/meta-data",
        "http://0.0.0.0/",
        "http://[::]/",
        "ftp://example.com/",
        "not a url",
    ] {
        let m = app
            .fails(
                "/integration/webhook/create",
                base(bad),
                400,
                "InvalidParameter",
            )
            .await;
        assert!(m.starts_with("endpoint"), "{bad}: {m}");
    }
    let with = |extra: Value| {
        let mut b = base("http://127.0.0.1:9/");
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    app.fails(
        "/integration/webhook/create",
        with(json!({"headers": [{"key": "Content-Type", "value": "x"}]})),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/integration/webhook/create",
        with(json!({"headers": [{"key": "X-A", "value": "a\r\nX-B: b"}]})),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/integration/webhook/create",
        with(json!({"timeout_ms": 99})),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/integration/webhook/create",
        with(json!({"timeout_ms": 30001})),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/integration/webhook/create",
        with(json!({"retry_policy": "always"})),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/integration/webhook/create",
        with(json!({"event_types": ["a_new"]})),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/integration/webhook/create",
        with(json!({"event_types": ["i_nope"]})),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/integration/webhook/create",
        with(json!({"channel_ids": [999]})),
        404,
        "ResourceNotFound",
    )
    .await;
    app.fails(
        "/integration/webhook/create",
        with(json!({"kind": "sms"})),
        400,
        "InvalidParameter",
    )
    .await;
    let (_, vkey) = app.person("Vera", "vera@example.com", "viewer").await;
    let (s, _) = app
        .post_as(&vkey, "/integration/webhook/create", with(json!({})))
        .await;
    assert_eq!(s, 403);
    let (_, mkey) = app.person("Max", "max@example.com", "member").await;
    let team = app.ok("/team/create", json!({"team_name": "Owners"})).await["team_id"]
        .as_i64()
        .unwrap();
    let hid = app
        .ok(
            "/integration/webhook/create",
            with(json!({"team_id": team})),
        )
        .await["integration_id"]
        .as_i64()
        .unwrap();
    let (s, v) = app
        .post_as(
            &mkey,
            "/integration/webhook/update",
            json!({"integration_id": hid, "name": "mine"}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("AccessDenied")),
        "only the managing team's members and admins"
    );
    let (s, _) = app
        .post_as(
            &mkey,
            "/integration/webhook/info",
            json!({"integration_id": hid}),
        )
        .await;
    assert_eq!(s, 200);
    assert_eq!(
        app.ok("/integration/webhook/list", json!({})).await["total"],
        json!(1),
        "refused saves saved nothing"
    );
}
