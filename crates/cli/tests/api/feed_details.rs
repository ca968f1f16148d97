//! What the document says a timeline record's `detail` holds is what the
//! feed gives: every key of every record type is a declared property, so a
//! generated client reads each by name.

use std::collections::BTreeSet;

use serde_json::json;

use crate::helpers::{declared_properties, Db, TestApp};
use crate::receiver::{Reply, TestReceiver};

both_dbs!(every_detail_key_is_declared);

async fn every_detail_key_is_declared(db: Db) {
    let app = TestApp::spawn(db).await;
    let (bob, _) = app.person("Bob", "bob@example.com", "member").await;
    let ch = app.channel("ops").await;
    app.ok(
        "/field/create",
        json!({"field_name": "tier", "display_name": "Tier", "field_type": "text"}),
    )
    .await;
    let id = app
        .ok(
            "/incident/create",
            json!({"title": "Disk full", "incident_severity": "Warning", "channel_id": ch,
                   "assigned_to": {"type": "assign", "person_ids": [bob]}}),
        )
        .await["incident_id"]
        .as_str()
        .unwrap()
        .to_string();
    let ids = json!({"incident_ids": [id]});
    app.ok(
        "/incident/snooze",
        json!({"incident_ids": [id], "minutes": 30}),
    )
    .await;
    app.ok("/incident/wake", ids.clone()).await;
    app.ok("/incident/ack", ids.clone()).await;
    app.ok("/incident/unack", ids.clone()).await;
    app.ok(
        "/incident/comment",
        json!({"incident_ids": [id], "comment": "on it"}),
    )
    .await;
    app.ok(
        "/incident/reset",
        json!({"incident_id": id, "title": "Disk full on db-7", "description": "d",
               "incident_severity": "Critical", "impact": "i", "root_cause": "rc", "resolution": "r"}),
    )
    .await;
    app.ok(
        "/incident/field/reset",
        json!({"incident_id": id, "field_name": "tier", "field_value": "gold"}),
    )
    .await;
    app.ok(
        "/incident/labels/update",
        json!({"incident_id": id, "labels": {"host": "db-7"}}),
    )
    .await;
    app.ok(
        "/incident/assign",
        json!({"incident_ids": [id], "assigned_to": {"type": "assign", "person_ids": [bob]}}),
    )
    .await;
    app.ok(
        "/incident/responder/add",
        json!({"incident_id": id, "person_ids": [1]}),
    )
    .await;
    press(&app, ch, &id).await;
    app.ok("/incident/resolve", ids.clone()).await;
    app.ok(
        "/incident/reopen",
        json!({"incident_ids": [id], "reason": "back"}),
    )
    .await;
    let other = app.incident("Disk full again").await;
    app.ok(
        "/incident/merge",
        json!({"source_incident_ids": [other], "target_incident_id": id}),
    )
    .await;
    app.ok("/incident/disable-merge", ids).await;

    // Alerts joining, recovering and closed by hand.
    let key = crate::alerts::source(&app, ch, "standard").await;
    let event = |key: &str, status: &str| json!({"event_status": status, "title_rule": key, "alert_key": key});
    crate::alerts::pushed(&app, &key, event("disk", "Critical")).await;
    crate::alerts::pushed(&app, &key, event("disk", "Ok")).await;
    crate::alerts::pushed(&app, &key, event("cpu", "Warning")).await;
    let alerts = crate::alerts::alerts(&app, json!({})).await;
    let cpu = alerts.iter().find(|a| a["title"] == "cpu").unwrap();
    app.ok("/alert/close", json!({"alert_ids": [cpu["alert_id"]]}))
        .await;
    let mut incidents = vec![id.clone(), other.clone()];
    for a in &alerts {
        incidents.push(a["incident"]["incident_id"].as_str().unwrap().to_string());
    }

    let declared = declared_properties(&app, "FeedDetail").await;
    let mut seen = BTreeSet::new();
    for incident in &incidents {
        let feed = app
            .ok(
                "/incident/feed",
                json!({"incident_id": incident, "limit": 100}),
            )
            .await;
        for item in feed["items"].as_array().unwrap() {
            let kind = item["type"].as_str().unwrap().to_string();
            for key in item["detail"].as_object().unwrap().keys() {
                assert!(
                    declared.contains(key),
                    "{kind}'s detail key {key} is declared in FeedDetail: {declared:?}"
                );
            }
            seen.insert(kind);
        }
    }
    for kind in [
        "i_new",
        "i_assign",
        "i_a_rspd",
        "i_snooze",
        "i_wake",
        "i_ack",
        "i_unack",
        "i_comm",
        "i_r_title",
        "i_r_desc",
        "i_r_severity",
        "i_r_impact",
        "i_r_rc",
        "i_r_rsltn",
        "i_r_field",
        "i_labels",
        "i_custom",
        "i_links",
        "i_rslv",
        "i_reopen",
        "i_merge",
        "i_merge_disabled",
        "a_merge",
        "a_recover",
        "a_close",
    ] {
        assert!(seen.contains(kind), "the flow made {kind}: {seen:?}");
    }
}

/// Presses an action whose answer writes a label and a link back.
async fn press(app: &TestApp, ch: i64, id: &str) {
    let rx = TestReceiver::start().await;
    rx.script([Reply {
        headers: vec![("content-type", "application/json".into())],
        body:
            json!({"message": "done", "links": [{"title": "trace", "url": "https://t.example/1"}]})
                .to_string(),
        ..Reply::status(200)
    }]);
    let action = app
        .ok(
            "/integration/custom-action/create",
            json!({"name": "Trace", "channel_ids": [ch], "endpoint": rx.url, "write_back": ["links"]}),
        )
        .await["integration_id"]
        .clone();
    app.ok(
        "/incident/action/trigger",
        json!({"incident_id": id, "action_id": action}),
    )
    .await;
}
