//! Disabled integrations lose nothing (`delivery.md`, "Auto-disable"): while
//! one is disabled — by hand, by a 410, or because every push failed for
//! `disable_after` — its deliveries are recorded as skipped, never pushed;
//! `/metrics` says what an operator alerts on.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{Db, TestApp};
use crate::receiver::{Reply, TestReceiver};

both_dbs!(
    a_disabled_webhook_records_its_deliveries_as_skipped,
    every_push_failing_for_the_window_disables
);

async fn health(app: &TestApp, id: &Value) -> Value {
    let info = app
        .ok("/integration/webhook/info", json!({"integration_id": id}))
        .await;
    let mut h = info["health"].clone();
    h["enabled"] = info["enabled"].clone();
    h["disabled_reason"] = info["disabled_reason"].clone();
    h
}

/// Polls until `ready` holds for the integration's health.
async fn until(app: &TestApp, id: &Value, ready: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..300 {
        let h = health(app, id).await;
        if ready(&h) {
            return h;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("never: {}", health(app, id).await);
}

async fn a_disabled_webhook_records_its_deliveries_as_skipped(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let hook = app
        .ok(
            "/integration/webhook/create",
            json!({"kind": "incident", "name": "relay", "endpoint": rx.url, "event_types": ["i_new"]}),
        )
        .await["integration_id"]
        .clone();
    app.incident("Pushed").await;
    rx.wait_for(1).await;
    app.ok(
        "/integration/webhook/disable",
        json!({"integration_id": hook}),
    )
    .await;
    for n in 0..3 {
        app.incident(&format!("While disabled {n}")).await;
    }
    let h = until(&app, &hook, |h| h["skipped"] == 3).await;
    assert_eq!(h["state"], "disabled", "{h}");
    app.ok(
        "/integration/webhook/enable",
        json!({"integration_id": hook}),
    )
    .await;
    app.incident("Enabled again").await;
    let got = rx.wait_for(2).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let titles: Vec<String> = rx
        .received()
        .iter()
        .map(|r| r.json()["incident"]["title"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        titles,
        ["Pushed", "Enabled again"],
        "skipped ones were never pushed"
    );
    assert_eq!(got.len(), 2);
    assert_eq!(health(&app, &hook).await["skipped"], 3, "and are kept");

    // A 410 disables at once; what was queued behind it is skipped too.
    rx.script([Reply::status(410)]);
    app.incident("Gone").await;
    let h = until(&app, &hook, |h| h["enabled"] == false).await;
    assert!(
        h["disabled_reason"].as_str().unwrap().contains("410"),
        "{h}"
    );
    app.incident("After gone").await;
    until(&app, &hook, |h| h["skipped"] == 4).await;
    let first = app
        .ok(
            "/integration/history/list",
            json!({"integration_id": hook, "start_time": 0, "end_time": crate::helpers::now_s() + 60}),
        )
        .await["items"][0]["invocation_id"]
        .clone();
    let refused = app
        .fails(
            "/integration/history/resend",
            json!({"invocation_id": first}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(
        refused.contains("is disabled: enable it first"),
        "{refused}"
    );
    let metrics = metrics(&app).await;
    assert!(
        metrics.contains("dutyhook_integrations_disabled 1"),
        "{metrics}"
    );
}

async fn metrics(app: &TestApp) -> String {
    app.client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

async fn every_push_failing_for_the_window_disables(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.delivery.disable_after = Some(Duration::from_secs(2));
        // Probes keep failing while the circuit is open; keep them coming.
        c.delivery.circuit_open_max = Duration::from_millis(500);
    })
    .await;
    let rx = TestReceiver::start().await;
    rx.script(std::iter::repeat_n(Reply::status(503), 10_000));
    let hook = app
        .ok(
            "/integration/webhook/create",
            json!({"kind": "incident", "name": "flaky", "endpoint": rx.url,
                   "event_types": ["i_new"], "retry_policy": "once"}),
        )
        .await["integration_id"]
        .clone();
    app.incident("Never heard").await;
    let first = until(&app, &hook, |h| h["failing_since"].as_i64() > Some(0)).await;
    assert_eq!(first["enabled"], true, "not before the window: {first}");
    let metrics_text = metrics(&app).await;
    assert!(
        metrics_text.contains("dutyhook_integration_oldest_pending_age_seconds")
            || metrics_text
                .contains("dutyhook_deliveries_given_up_total{kind=\"incident_webhook\"}"),
        "{metrics_text}"
    );
    // Failures keep coming; once they have run for 2 s, the next disables.
    let mut n = 0;
    let h = loop {
        let h = health(&app, &hook).await;
        if h["enabled"] == false {
            break h;
        }
        n += 1;
        assert!(n < 400, "never disabled: {h}");
        app.incident(&format!("Still failing {n}")).await;
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let reason = h["disabled_reason"].as_str().unwrap();
    assert!(
        reason.starts_with("disabled: every push failed for 2 seconds (since "),
        "{reason}"
    );
    assert!(reason.contains("http_status"), "{reason}");
    assert_eq!(h["state"], "disabled");
    // The rule runs from the first failure to the moment of deciding, which
    // comes before we see it; the last failure on record may be older (the
    // push that decided can still be on its way to the database).
    let seen_at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let since = h["failing_since"].as_i64().unwrap();
    assert!(seen_at - since >= 2000, "only after 2 s of failures: {h}");
    let pushed = rx.received().len();
    app.incident("After the disable").await;
    until(&app, &hook, |h| h["skipped"].as_i64() >= Some(1)).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.received().len(), pushed, "nothing more was pushed");
    let metrics_text = metrics(&app).await;
    assert!(
        metrics_text.contains("dutyhook_deliveries_given_up_total{kind=\"incident_webhook\"}"),
        "{metrics_text}"
    );
}
