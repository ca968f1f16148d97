//! Health you can see: an integration's reads say how its pushes have been
//! going (healthy, failing and how long, circuit open, disabled, unused),
//! never a plain "enabled" for an endpoint that fails every push.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{refused_endpoint, Db, TestApp};
use crate::receiver::TestReceiver;

both_dbs!(
    a_webhook_reads_as_failing_until_a_push_succeeds,
    an_open_circuit_and_a_failing_action_show
);

async fn health(app: &TestApp, path: &str, id: &Value) -> Value {
    app.ok(path, json!({"integration_id": id})).await["health"].clone()
}

async fn a_webhook_reads_as_failing_until_a_push_succeeds(db: Db) {
    let app = TestApp::spawn(db).await;
    let hook = app
        .ok(
            "/integration/webhook/create",
            json!({"kind": "incident", "name": "dead", "endpoint": refused_endpoint("gone"),
                   "event_types": ["i_new"], "retry_policy": "none"}),
        )
        .await["integration_id"]
        .clone();
    let info = "/integration/webhook/info";
    assert_eq!(health(&app, info, &hook).await["state"], "unused");
    for n in 0..3 {
        app.incident(&format!("Nobody hears {n}")).await;
    }
    app.attempts(hook.as_i64().unwrap(), 3).await;
    let h = health(&app, info, &hook).await;
    assert_eq!(h["state"], "failing", "{h}");
    assert_eq!(h["failure_streak"], 3, "{h}");
    assert_eq!(h["last_success_at"], 0, "{h}");
    assert_eq!(h["last_error_class"], "connect", "{h}");
    assert!(h["last_failure_at"].as_i64().unwrap() > 0, "{h}");
    // The list says the same: no green "enabled" for it.
    let list = app
        .ok("/integration/webhook/list", json!({"kind": "incident"}))
        .await;
    assert_eq!(list["items"][0]["health"]["state"], "failing");
    assert_eq!(list["items"][0]["enabled"], true);

    let rx = TestReceiver::start().await;
    app.ok(
        "/integration/webhook/update",
        json!({"integration_id": hook, "endpoint": rx.url}),
    )
    .await;
    app.incident("Heard at last").await;
    rx.wait_for(1).await;
    app.attempts(hook.as_i64().unwrap(), 4).await;
    let h = health(&app, info, &hook).await;
    assert_eq!(h["state"], "healthy", "{h}");
    assert_eq!(h["failure_streak"], 0, "{h}");
    assert!(
        h["last_success_at"].as_i64().unwrap() >= h["last_failure_at"].as_i64().unwrap(),
        "{h}"
    );
    // Test pushes do not count.
    app.ok(
        "/integration/webhook/update",
        json!({"integration_id": hook, "endpoint": refused_endpoint("gone")}),
    )
    .await;
    app.ok("/integration/webhook/test", json!({"integration_id": hook}))
        .await;
    assert_eq!(health(&app, info, &hook).await["state"], "healthy");
    app.ok(
        "/integration/webhook/disable",
        json!({"integration_id": hook}),
    )
    .await;
    assert_eq!(health(&app, info, &hook).await["state"], "disabled");
}

async fn an_open_circuit_and_a_failing_action_show(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.delivery.circuit_open = Duration::from_secs(600);
    })
    .await;
    let hook = app
        .ok(
            "/integration/webhook/create",
            json!({"kind": "incident", "name": "down", "endpoint": refused_endpoint("gone"),
                   "event_types": ["i_new"]}),
        )
        .await["integration_id"]
        .clone();
    for n in 0..6 {
        app.incident(&format!("Piling up {n}")).await;
    }
    // Read as often as it can: whenever the circuit reads as open, the five
    // failures that opened it read as recorded.
    let mut h = Value::Null;
    for _ in 0..5000 {
        h = health(&app, "/integration/webhook/info", &hook).await;
        if h["state"] == "circuit_open" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(h["state"], "circuit_open", "{h}");
    assert!(h["failure_streak"].as_i64().unwrap() >= 5, "{h}");
    assert!(
        h["circuit_open_until"].as_i64().unwrap() > h["last_failure_at"].as_i64().unwrap(),
        "{h}"
    );

    let ch = app.channel("ops").await;
    let action = app
        .ok(
            "/integration/custom-action/create",
            json!({"name": "Restart", "channel_ids": [ch], "endpoint": refused_endpoint("gone")}),
        )
        .await["integration_id"]
        .clone();
    let info = "/integration/custom-action/info";
    assert_eq!(health(&app, info, &action).await["state"], "unused");
    let id = crate::actions::incident_in(&app, ch, "Host stuck").await;
    app.ok(
        "/incident/action/trigger",
        json!({"incident_id": id, "action_id": action}),
    )
    .await;
    let h = health(&app, info, &action).await;
    assert_eq!(h["state"], "failing", "{h}");
    let list = app.ok("/integration/custom-action/list", json!({})).await;
    assert_eq!(list["items"][0]["health"]["state"], "failing");
}
