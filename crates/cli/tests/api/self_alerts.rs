//! Failing integrations raise alerts in dutyhook itself (`delivery.md`,
//! "Delivery health"): through the built-in `dutyhook` source into the
//! configured channel, grouped and pushed as any alert, recovered when
//! pushes succeed again or the integration is re-enabled; one per
//! integration, and no loop when the failing webhook carries them.

use std::time::Duration;

use dutyhook_domain::ids::ChannelId;
use serde_json::{json, Value};

use crate::helpers::{now_s, Db, TestApp};
use crate::receiver::{Reply, TestReceiver};

both_dbs!(
    a_failing_webhook_opens_an_incident_that_closes_itself,
    a_disabled_webhook_is_critical_until_re_enabled,
    a_failing_custom_action_raises_one_too
);

async fn spawn(db: Db) -> TestApp {
    let app = TestApp::spawn_with(db, |c| {
        c.delivery_alerts_channel = Some(ChannelId(1));
    })
    .await;
    assert_eq!(app.channel("Automation").await, 1);
    app
}

async fn relay(app: &TestApp, rx: &TestReceiver) -> i64 {
    app.ok(
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "relay", "endpoint": rx.url,
               "event_types": ["i_new"], "retry_policy": "none"}),
    )
    .await["integration_id"]
        .as_i64()
        .unwrap()
}

/// The delivery alerts so far, newest first.
async fn delivery_alerts(app: &TestApp) -> Vec<Value> {
    let v = app
        .ok(
            "/alert/list",
            json!({"start_time": now_s() - 600, "end_time": now_s() + 60}),
        )
        .await;
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["data_source_type"] == "dutyhook")
        .cloned()
        .collect()
}

async fn until_alert(app: &TestApp, ready: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..300 {
        if let Some(a) = delivery_alerts(app).await.into_iter().find(|a| ready(a)) {
            return a;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no such delivery alert: {:?}", delivery_alerts(app).await);
}

async fn a_failing_webhook_opens_an_incident_that_closes_itself(db: Db) {
    let app = spawn(db).await;
    let ops = TestReceiver::start().await;
    app.ok(
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "ops", "endpoint": ops.url, "channel_ids": [1]}),
    )
    .await;
    let rx = TestReceiver::start().await;
    // The relay fails once: the checkout incident's push is given up.
    rx.script([Reply::status(500)]);
    let relay = relay(&app, &rx).await;
    app.incident("Checkout slow").await;
    let alert = until_alert(&app, |a| a["alert_severity"] == "Warning").await;
    assert_eq!(alert["title"], "Webhook “relay” is failing");
    assert_eq!(alert["alert_key"], format!("dutyhook/integration/{relay}"));
    assert_eq!(alert["data_source_name"], "dutyhook");
    assert_eq!(alert["channel_id"], 1);
    let labels = &alert["labels"];
    assert_eq!(labels["integration_id"], relay.to_string());
    assert_eq!(labels["integration_name"], "relay");
    assert_eq!(labels["kind"], "incident_webhook");
    assert_eq!(labels["error_class"], "http_status");
    assert_eq!(labels["endpoint_host"], "127.0.0.1");
    assert!(
        alert["description"].as_str().unwrap().contains("HTTP 500"),
        "{alert}"
    );

    // Its incident is pushed like any other — to the relay too, which now
    // succeeds: the alert recovers and the incident closes itself.
    let incident = alert["incident"]["incident_id"]
        .as_str()
        .unwrap()
        .to_string();
    let recovered = until_alert(&app, |a| a["alert_status"] == "Ok").await;
    assert_eq!(recovered["alert_key"], alert["alert_key"]);
    let got = ops.wait_for(1).await;
    assert!(got.iter().any(|r| r.json()["event_type"] == "i_new"
        && r.json()["incident"]["title"] == "Webhook “relay” is failing"));
    for _ in 0..200 {
        if app.info(&incident).await["progress"] == "Closed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(app.info(&incident).await["progress"], "Closed");
    let closed = ops.wait_for(2).await;
    assert!(closed.iter().any(|r| r.json()["event_type"] == "i_rslv"
        && r.json()["incident"]["incident_id"] == incident.as_str()));

    // The relay failing again on the self-incident's own events raises one
    // alert at a time, never a storm of them.
    rx.script(std::iter::repeat_n(Reply::status(500), 50));
    app.incident("Checkout slow again").await;
    until_alert(&app, |a| a["alert_status"] == "Warning").await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let open: Vec<Value> = delivery_alerts(&app)
        .await
        .into_iter()
        .filter(|a| a["alert_status"] != "Ok")
        .collect();
    assert_eq!(open.len(), 1, "one open alert per integration: {open:?}");
    assert!(
        rx.received().len() < 10,
        "no feedback loop: {}",
        rx.received().len()
    );
}

async fn a_disabled_webhook_is_critical_until_re_enabled(db: Db) {
    let app = spawn(db).await;
    let rx = TestReceiver::start().await;
    rx.script([Reply::status(410)]);
    let relay = relay(&app, &rx).await;
    app.incident("Gone for good").await;
    let alert = until_alert(&app, |a| a["alert_severity"] == "Critical").await;
    assert_eq!(alert["title"], "Webhook “relay” is disabled");
    assert!(
        alert["description"].as_str().unwrap().contains("410"),
        "{alert}"
    );
    assert_eq!(alert["labels"]["error_class"], "disabled");
    app.ok(
        "/integration/webhook/enable",
        json!({"integration_id": relay}),
    )
    .await;
    let ok = until_alert(&app, |a| a["alert_status"] == "Ok").await;
    assert_eq!(ok["alert_key"], format!("dutyhook/integration/{relay}"));
    // Nobody creates or pushes to the built-in source.
    let m = app
        .fails(
            "/integration/alert-source/create",
            json!({"name": "fake", "source_type": "dutyhook", "channel_id": 1}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(m.starts_with("source_type"), "{m}");
}

async fn a_failing_custom_action_raises_one_too(db: Db) {
    let app = spawn(db).await;
    let rx = TestReceiver::start().await;
    rx.script([Reply::status(500)]);
    let action = crate::actions::action_id(&app, "Restart pod", &[1], &rx.url).await;
    let incident = crate::actions::incident_in(&app, 1, "Pods stuck").await;
    crate::actions::trigger(&app, &incident, action).await;
    let alert = until_alert(&app, |a| a["alert_severity"] == "Warning").await;
    assert_eq!(alert["title"], "Custom action “Restart pod” is failing");
    assert_eq!(alert["labels"]["kind"], "custom_action");
    crate::actions::trigger(&app, &incident, action).await;
    until_alert(&app, |a| a["alert_status"] == "Ok").await;
}
