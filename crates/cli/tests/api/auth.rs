//! Keys (query or Bearer, stored hashed) and roles.

use serde_json::json;

use crate::helpers::{Db, TestApp};

both_dbs!(
    keys_are_checked_and_hashed,
    roles_are_enforced,
    a_metrics_token_protects_metrics
);

async fn a_metrics_token_protects_metrics(db: Db) {
    let token = "scrape-me-0123456789";
    let app = TestApp::spawn_with(db, |c| c.metrics_token = Some(token.into())).await;
    let scrape = |bearer: Option<&str>| {
        let mut req = app.client.get(app.url("/metrics"));
        if let Some(b) = bearer {
            req = req.bearer_auth(b);
        }
        req.send()
    };
    for wrong in [None, Some("nope"), Some(app.key.as_str())] {
        let resp = scrape(wrong).await.unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{wrong:?}");
        let v: serde_json::Value = resp.json().await.unwrap();
        assert_eq!(v["error"]["code"], json!("Unauthorized"));
    }
    let resp = scrape(Some(token)).await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp
        .text()
        .await
        .unwrap()
        .contains("# TYPE dutyhook_deliveries_pending gauge"));
    // Without a token configured it stays open, and /health always is.
    let open = TestApp::spawn(Db::Sqlite).await;
    let resp = open.client.get(open.url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let resp = app.client.get(app.url("/health")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 200);
}

async fn keys_are_checked_and_hashed(db: Db) {
    let app = TestApp::spawn(db).await;
    let resp = app
        .client
        .post(app.url("/person/list"))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let v: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], json!("Unauthorized"));
    let (s, v) = app.post_as("dh_wrong", "/person/list", json!({})).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("Unauthorized"))
    );

    let resp = app
        .client
        .post(app.url(&format!("/person/list?app_key={}", app.key)))
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        200,
        "the app_key query parameter works"
    );

    let created = app.ok("/app-key/create", json!({"name": "ci"})).await;
    let key = created["app_key"].as_str().unwrap().to_string();
    let key_id = created["app_key_id"].as_i64().unwrap();
    let (s, _) = app.post_as(&key, "/person/list", json!({})).await;
    assert_eq!(s, 200);
    let listed = app.ok("/app-key/list", json!({})).await;
    let text = listed.to_string();
    assert!(
        !text.contains(&key) && !text.contains(&app.key),
        "keys are shown only at creation: {text}"
    );
    assert!(listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k["key_hint"] == json!(&key[..9])));

    // The database holds no key in clear.
    let dump = app.store.events_after(0, 1000).await.unwrap();
    assert!(dump.iter().all(|e| !e.payload.contains(&key)));
    let raw_tables = dump_key_table(&app).await;
    assert!(
        !raw_tables.contains(&key) && !raw_tables.contains(&key[3..]),
        "app keys are stored hashed"
    );

    app.ok("/app-key/delete", json!({"app_key_id": key_id}))
        .await;
    let (s, v) = app.post_as(&key, "/person/list", json!({})).await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (401, Some("Unauthorized")),
        "a deleted key is revoked"
    );
}

async fn dump_key_table(app: &TestApp) -> String {
    use sqlx::Row;
    sqlx::any::install_default_drivers();
    let url = if app.db.url.starts_with("sqlite") {
        format!("{}?mode=ro", app.db.url)
    } else {
        app.db.url.clone()
    };
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let rows = sqlx::query("SELECT key_hash, key_hint FROM app_keys")
        .fetch_all(&pool)
        .await
        .unwrap();
    let out = rows
        .iter()
        .map(|r| format!("{} {}", r.get::<String, _>(0), r.get::<String, _>(1)))
        .collect::<Vec<_>>()
        .join("\n");
    pool.close().await;
    out
}

async fn roles_are_enforced(db: Db) {
    let app = TestApp::spawn(db).await;
    let (viewer, vkey) = app
        .person("Vera Viewer", "vera@example.com", "viewer")
        .await;
    let (_member, mkey) = app.person("Max Member", "max@example.com", "member").await;
    let id = app.incident("Role test").await;

    // Viewers read...
    for (path, body) in [
        ("/incident/info", json!({"incident_id": id})),
        ("/incident/feed", json!({"incident_id": id})),
        (
            "/incident/list",
            json!({"start_time": 0, "end_time": 4_000_000_000i64}),
        ),
        ("/person/list", json!({})),
        ("/channel/list", json!({})),
        ("/field/list", json!({})),
    ] {
        let (s, v) = app.post_as(&vkey, path, body).await;
        assert_eq!(s, 200, "viewer may read {path}: {v}");
    }
    // ...but change nothing.
    let before = app.event_count().await;
    for (path, body) in [
        ("/incident/ack", json!({"incident_ids": [id]})),
        (
            "/incident/create",
            json!({"title": "nope", "incident_severity": "Info"}),
        ),
        (
            "/incident/comment",
            json!({"incident_ids": [id], "comment": "hi"}),
        ),
        (
            "/incident/labels/update",
            json!({"incident_id": id, "labels": {"a": "b"}}),
        ),
        ("/channel/create", json!({"channel_name": "x"})),
    ] {
        let (s, v) = app.post_as(&vkey, path, body).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (403, Some("AccessDenied")),
            "viewer on {path}"
        );
    }
    assert_eq!(app.event_count().await, before);
    // A viewer may still make a key for itself, not for others.
    let (s, _) = app
        .post_as(&vkey, "/app-key/create", json!({"name": "mine"}))
        .await;
    assert_eq!(s, 200);
    let (s, _) = app
        .post_as(
            &vkey,
            "/app-key/create",
            json!({"name": "theirs", "person_id": app.admin_id}),
        )
        .await;
    assert_eq!(s, 403);

    // Members operate incidents but do not administer.
    let (s, _) = app
        .post_as(&mkey, "/incident/ack", json!({"incident_ids": [id]}))
        .await;
    assert_eq!(s, 200);
    for (path, body) in [
        (
            "/person/create",
            json!({"person_name": "E", "email": "e@example.com"}),
        ),
        ("/team/create", json!({"team_name": "t"})),
        ("/channel/create", json!({"channel_name": "x"})),
        (
            "/field/create",
            json!({"field_name": "f", "field_type": "text"}),
        ),
    ] {
        let (s, v) = app.post_as(&mkey, path, body).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (403, Some("AccessDenied")),
            "member on {path}"
        );
    }
    // Members see only their own keys; one member cannot delete another's key.
    let keys = app.post_as(&mkey, "/app-key/list", json!({})).await.1;
    assert!(keys["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["person_id"] != json!(viewer) && k["person_id"] != json!(app.admin_id)));
    let admin_keys = app.ok("/app-key/list", json!({})).await;
    let admin_key_id = admin_keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["person_id"] == json!(app.admin_id))
        .unwrap()["app_key_id"]
        .clone();
    let (s, _) = app
        .post_as(
            &mkey,
            "/app-key/delete",
            json!({"app_key_id": admin_key_id}),
        )
        .await;
    assert_eq!(s, 403);
}
