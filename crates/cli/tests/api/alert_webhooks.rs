//! Alerts closed by hand and with their incident, and the events alert
//! webhooks receive.

use std::time::Duration;

use serde_json::{json, Value};

use crate::alerts::{alerts, pushed, source, types};
use crate::helpers::{Db, TestApp};
use crate::receiver::TestReceiver;

both_dbs!(
    alert_webhooks_get_alert_events,
    closing_by_hand_and_with_the_incident,
);

async fn closing_by_hand_and_with_the_incident(db: Db) {
    let app = TestApp::spawn(db).await;
    let ch = app.channel("ops").await;
    let key = source(&app, ch, "standard").await;
    for k in ["one", "two", "three"] {
        pushed(
            &app,
            &key,
            json!({"title_rule": k, "event_status": "Warning", "alert_key": k}),
        )
        .await;
    }
    let list = alerts(&app, json!({})).await;
    let by_key = |k: &str| {
        list.iter()
            .find(|a| a["alert_key"] == json!(k))
            .unwrap()
            .clone()
    };
    let one = by_key("one");
    let skip = app.event_count().await;
    app.ok("/alert/close", json!({"alert_ids": [one["alert_id"]]}))
        .await;
    let events = app.events_since(skip).await;
    assert_eq!(types(&events), ["a_close"]);
    assert_eq!(events[0]["person"]["person_id"], json!(app.admin_id));
    let detail = app
        .ok("/alert/info", json!({"alert_id": one["alert_id"]}))
        .await;
    assert_eq!(detail["progress"], json!("Closed"));
    assert!(detail["close_time"].as_i64().unwrap() > 0);
    app.fails(
        "/alert/close",
        json!({"alert_ids": ["0123456789abcdef01234567"]}),
        404,
        "ResourceNotFound",
    )
    .await;
    // A closed alert merges no more: the same key opens a new one.
    pushed(
        &app,
        &key,
        json!({"title_rule": "one", "event_status": "Warning", "alert_key": "one"}),
    )
    .await;
    assert_eq!(
        alerts(&app, json!({"progress": "Triggered"})).await.len(),
        3
    );

    // Merging moves alerts; resolving by hand closes them.
    let two = by_key("two");
    let three = by_key("three");
    let target = two["incident"]["incident_id"].as_str().unwrap().to_string();
    let source_inc = three["incident"]["incident_id"]
        .as_str()
        .unwrap()
        .to_string();
    app.ok(
        "/incident/merge",
        json!({"target_incident_id": target, "source_incident_ids": [source_inc]}),
    )
    .await;
    let moved = app
        .ok("/alert/info", json!({"alert_id": three["alert_id"]}))
        .await;
    assert_eq!(moved["incident"]["incident_id"], json!(target));
    assert_eq!(moved["progress"], json!("Triggered"), "moved, still open");
    assert_eq!(app.info(&target).await["alert_cnt"], json!(2));
    app.ok("/incident/resolve", json!({"incident_ids": [target]}))
        .await;
    for a in [&two, &three] {
        let d = app
            .ok("/alert/info", json!({"alert_id": a["alert_id"]}))
            .await;
        assert_eq!(d["progress"], json!("Closed"), "{d}");
    }
    let info = app.info(&target).await;
    assert_eq!(
        info["incident_status"],
        json!("Warning"),
        "closing by hand keeps the status"
    );
}

async fn alert_webhooks_get_alert_events(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let ch = app.channel("alerts").await;
    let other = app.channel("quiet").await;
    app.ok(
        "/integration/webhook/create",
        json!({"kind": "alert", "name": "alerts", "endpoint": rx.url, "channel_ids": [ch], "event_types": ["a_new"]}),
    )
    .await;
    let key = source(&app, ch, "standard").await;
    let quiet = source(&app, other, "standard").await;
    pushed(
        &app,
        &quiet,
        json!({"title_rule": "elsewhere", "event_status": "Info"}),
    )
    .await;
    pushed(
        &app,
        &key,
        json!({"title_rule": "disk full", "event_status": "Critical", "alert_key": "disk"}),
    )
    .await;
    let list = alerts(&app, json!({"channel_ids": [ch]})).await;
    app.ok("/alert/close", json!({"alert_ids": [list[0]["alert_id"]]}))
        .await;
    let got = rx.wait_for(2).await;
    let bodies: Vec<Value> = got.iter().map(|r| r.json()).collect();
    assert_eq!(
        types(&bodies),
        ["a_new", "a_close"],
        "a_close always reaches alert webhooks"
    );
    let a = &bodies[0]["alert"];
    for field in [
        "alert_id",
        "data_source_id",
        "data_source_name",
        "data_source_type",
        "data_source_ref_id",
        "channel_id",
        "channel_name",
        "title",
        "alert_key",
        "alert_severity",
        "alert_status",
        "progress",
        "created_at",
        "updated_at",
        "start_time",
        "last_time",
        "end_time",
        "close_time",
        "labels",
        "event_cnt",
    ] {
        assert!(a.get(field).is_some(), "{field} missing in {a}");
    }
    assert!(a.get("images").is_none());
    assert_eq!(a["channel_name"], json!("alerts"));
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        rx.received().len(),
        2,
        "the other channel's alert was filtered out"
    );
}
