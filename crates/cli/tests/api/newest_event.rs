//! A receiver following the hosted product's advice — keep each incident's
//! newest event by `event_time`, drop older ones — ends with the incident's
//! real state (`events.md`): every event of a call carries the incident as
//! it stands after the whole call, and an incident's events have strictly
//! increasing `event_time`, across calls too.

use std::collections::HashMap;

use serde_json::{json, Value};

use crate::alerts::{pushed, source};
use crate::helpers::{payload_part, Db, TestApp};
use crate::receiver::TestReceiver;

both_dbs!(the_newest_event_of_each_incident_is_its_state);

async fn the_newest_event_of_each_incident_is_its_state(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    app.ok(
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "keeper", "endpoint": rx.url}),
    )
    .await;
    let ch = app.channel("ops").await;
    let (bob, _) = app.person("Bob", "bob@example.com", "member").await;
    // Create with an assignment: i_new and i_assign in one call.
    let created = app
        .ok(
            "/incident/create",
            json!({"title": "Checkout slow", "incident_severity": "Warning", "channel_id": ch,
                   "assigned_to": {"type": "assign", "person_ids": [bob]}}),
        )
        .await;
    let target = created["incident_id"].as_str().unwrap().to_string();
    // Several fields at once: one event each, in one call.
    app.ok(
        "/incident/reset",
        json!({"incident_id": target, "title": "Checkout down", "description": "all regions",
               "impact": "no orders", "incident_severity": "Critical"}),
    )
    .await;
    let source_incident = app.incident("Payments slow").await;
    app.ok(
        "/incident/merge",
        json!({"source_incident_ids": [source_incident], "target_incident_id": target}),
    )
    .await;
    // An incident an alert made (an alert changing it later emits no
    // incident event: incident webhooks learn it from the next one).
    let key = source(&app, ch, "standard").await;
    pushed(
        &app,
        &key,
        json!({"title_rule": "disk full", "event_status": "Warning", "alert_key": "disk"}),
    )
    .await;
    app.ok("/incident/ack", json!({"incident_ids": [target]}))
        .await;

    let total = app
        .events()
        .await
        .iter()
        .filter(|e| e["event_type"].as_str().unwrap().starts_with("i_"))
        .count();
    let pushes: Vec<Value> = rx.wait_for(total).await.iter().map(|r| r.json()).collect();
    let mut newest: HashMap<String, Value> = HashMap::new();
    let mut last_time: HashMap<String, i64> = HashMap::new();
    for p in &pushes {
        let id = p["incident"]["incident_id"].as_str().unwrap().to_string();
        let time = p["event_time"].as_i64().unwrap();
        let before = last_time.insert(id.clone(), time).unwrap_or(0);
        assert!(
            time > before,
            "strictly increasing event_time for {id}: {before} then {time}"
        );
        let keep = newest
            .get(&id)
            .is_none_or(|kept| kept["event_time"].as_i64().unwrap() < time);
        if keep {
            newest.insert(id, p.clone());
        }
    }
    assert_eq!(newest.len(), 3, "three incidents pushed");
    for (id, event) in &newest {
        let now = payload_part_of(app.info(id).await);
        assert_eq!(
            event["incident"], now,
            "{id}: the newest event is the state"
        );
    }
    // Each event of the reset carries the state after the whole call.
    let reset: Vec<&Value> = pushes
        .iter()
        .filter(|p| p["event_type"].as_str().unwrap().starts_with("i_r_"))
        .collect();
    assert_eq!(reset.len(), 4);
    for p in reset {
        assert_eq!(
            p["incident"]["title"], "Checkout down",
            "{}",
            p["event_type"]
        );
        assert_eq!(p["incident"]["incident_severity"], "Critical");
    }
    let new = pushes.iter().find(|p| p["event_type"] == "i_new").unwrap();
    assert_eq!(
        new["incident"]["responder_ids"],
        json!([bob]),
        "i_new carries the assignment made in its call"
    );
}

/// `/incident/info` less what a read adds; the alert-made incident's counts
/// are not 0, so they are taken out here rather than by `payload_part`.
fn payload_part_of(mut info: Value) -> Value {
    let m = info.as_object_mut().unwrap();
    if m["alert_cnt"] != json!(0) {
        for f in ["owner_id", "active_alert_cnt", "alert_event_cnt"] {
            m.remove(f);
        }
        return info;
    }
    payload_part(info)
}
