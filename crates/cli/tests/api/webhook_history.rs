//! The hosted product's webhook history API over dutyhook's attempts:
//! `/webhook/history/list` (ms, cursor paging) and `/webhook/history/detail`.

use serde_json::{json, Value};

use crate::helpers::{Db, TestApp};
use crate::receiver::TestReceiver;

both_dbs!(webhook_history_in_the_products_shape);

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

async fn webhook_history_in_the_products_shape(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let hook = app
        .ok(
            "/integration/webhook/create",
            json!({"kind": "incident", "name": "hook", "endpoint": rx.url}),
        )
        .await["integration_id"]
        .as_i64()
        .unwrap();
    let ch = app.channel("ops").await;
    let id = app
        .ok(
            "/incident/create",
            json!({"title": "Checkout slow", "incident_severity": "Warning", "channel_id": ch}),
        )
        .await["incident_id"]
        .as_str()
        .unwrap()
        .to_string();
    app.ok("/incident/ack", json!({"incident_ids": [id]})).await;
    rx.wait_for(2).await;
    app.attempts(hook, 2).await;
    let window = json!({"start_time": now_ms() - 60_000, "end_time": now_ms() + 60_000});
    let list = |extra: Value| {
        let mut body = window.clone();
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let app = &app;
        async move { app.ok("/webhook/history/list", body).await }
    };

    let first = list(json!({"limit": 1, "integration_id": hook, "asc": true})).await;
    assert_eq!(
        (first["total"].as_i64(), first["search_after_ctx"].as_str()),
        (Some(2), Some("2"))
    );
    let item = &first["items"][0];
    assert_eq!(item["event_type"], "i_new", "oldest first");
    assert_eq!(
        (item["webhook_type"].as_str(), item["status"].as_str()),
        (Some("incident"), Some("success"))
    );
    assert_eq!(
        (item["status_code"].as_i64(), item["endpoint"].as_str()),
        (Some(200), Some(rx.url.as_str()))
    );
    assert_eq!(item["ref_id"], json!(id));
    let body: Value = serde_json::from_str(item["request_body"].as_str().unwrap()).unwrap();
    assert_eq!(body["event_id"], item["event_id"], "the pushed payload");
    assert!(item["request_headers"]
        .as_str()
        .unwrap()
        .contains("webhook-signature"));
    let time = item["event_time"].as_str().unwrap();
    assert!(
        time.ends_with('Z') && time.contains('T') && time.len() == 24,
        "{time}"
    );

    let second =
        list(json!({"limit": 1, "integration_id": hook, "asc": true, "search_after_ctx": "2"}))
            .await;
    assert_eq!(second["items"][0]["event_type"], "i_ack");
    assert_eq!(second["search_after_ctx"], "", "the last page");
    assert_eq!(list(json!({"event_types": ["i_ack"]})).await["total"], 1);
    assert_eq!(list(json!({"ref_id": id})).await["total"], 2);
    assert_eq!(list(json!({"status": "failed"})).await["total"], 0);
    let message = app
        .fails(
            "/webhook/history/list",
            json!({"start_time": 0, "end_time": now_ms(), "search_after_ctx": "zz"}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(message.contains("search_after_ctx"), "{message}");
    app.fails(
        "/webhook/history/list",
        json!({"end_time": now_ms()}),
        400,
        "InvalidParameter",
    )
    .await;

    let event_id = item["event_id"].as_str().unwrap();
    let detail = app
        .ok(
            "/webhook/history/detail",
            json!({"event_id": event_id, "integration_id": hook}),
        )
        .await;
    assert_eq!(
        (
            detail["ref_title"].as_str(),
            detail["channel_name"].as_str()
        ),
        (Some("Checkout slow"), Some("ops"))
    );
    assert_eq!(detail["event_type"], "i_new");
    app.fails(
        "/webhook/history/detail",
        json!({"event_id": "nope", "integration_id": hook}),
        404,
        "ResourceNotFound",
    )
    .await;
}
