//! The hosted product's Go SDK operating incidents, replayed with its exact
//! requests (`incidents.go`, `incident_lifecycle.go`): each answers 200
//! without an `error` (its `postEmpty`), or the data its structs decode.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::helpers::{now_s, Db, TestApp};
use crate::sdk_replay::sdk;

both_dbs!(operate_incidents_as_the_sdk_does);

/// `postEmpty`: 200 and no `error`.
async fn sdk_empty(app: &TestApp, path: &str, body: Value) {
    let _: Value = sdk(app, path, body).await;
}

/// `CreateIncidentOutput`.
#[derive(Deserialize)]
struct Created {
    incident_id: String,
    title: String,
}

/// `IncidentDetail` (the fields it requires).
#[derive(Deserialize)]
#[allow(dead_code)]
struct IncidentDetail {
    incident_id: String,
    title: String,
    #[serde(default)]
    description: String,
    incident_severity: String,
    progress: String,
    start_time: i64,
    #[serde(default)]
    ack_time: i64,
    #[serde(default)]
    close_time: i64,
    #[serde(default)]
    channel_name: String,
    #[serde(default)]
    creator_id: i64,
    #[serde(default)]
    closer_id: i64,
    #[serde(default)]
    root_cause: String,
    #[serde(default)]
    impact: String,
    alert_cnt: i64,
    alert_event_cnt: i64,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    fields: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct Similar {
    items: Vec<Value>,
    total: i64,
}

async fn detail(app: &TestApp, id: &str) -> IncidentDetail {
    sdk(app, "/incident/info", json!({"incident_id": id})).await
}

async fn operate_incidents_as_the_sdk_does(db: Db) {
    let app = TestApp::spawn(db).await;
    let ch = app.channel("Payments").await;
    let (bob, _) = app.person("Bob", "bob@example.com", "member").await;
    let (carol, _) = app.person("Carol", "carol@example.com", "member").await;
    app.ok(
        "/field/create",
        json!({"field_name": "tier", "display_name": "Tier", "field_type": "text"}),
    )
    .await;
    // CreateIncident
    let created: Created = sdk(
        &app,
        "/incident/create",
        json!({"title": "Checkout slow", "incident_severity": "Warning", "channel_id": ch,
               "description": "p99 up", "assigned_to": {"type": "assign", "person_ids": [bob]}}),
    )
    .await;
    assert_eq!(created.title, "Checkout slow");
    let id = created.incident_id;
    // UpdateIncident: one reset, then each custom field.
    sdk_empty(
        &app,
        "/incident/reset",
        json!({"incident_id": id, "title": "Checkout down", "description": "all regions",
               "incident_severity": "Critical", "impact": "no orders", "root_cause": "db",
               "resolution": "failover"}),
    )
    .await;
    sdk_empty(
        &app,
        "/incident/field/reset",
        json!({"incident_id": id, "field_name": "tier", "field_value": "gold"}),
    )
    .await;
    let d = detail(&app, &id).await;
    assert_eq!(
        (
            d.title.as_str(),
            d.incident_severity.as_str(),
            d.impact.as_str()
        ),
        ("Checkout down", "Critical", "no orders")
    );
    assert_eq!(
        (d.channel_name.as_str(), d.creator_id),
        ("Payments", app.admin_id.0)
    );
    assert_eq!(d.fields["tier"], "gold");
    // Lifecycle.
    let ids = json!([id]);
    sdk_empty(&app, "/incident/ack", json!({"incident_ids": ids})).await;
    assert_eq!(detail(&app, &id).await.progress, "Processing");
    sdk_empty(&app, "/incident/unack", json!({"incident_ids": ids})).await;
    sdk_empty(
        &app,
        "/incident/snooze",
        json!({"incident_ids": ids, "minutes": 30}),
    )
    .await;
    sdk_empty(&app, "/incident/wake", json!({"incident_ids": ids})).await;
    sdk_empty(
        &app,
        "/incident/comment",
        json!({"incident_ids": ids, "comment": "failing over", "mute_reply": true}),
    )
    .await;
    sdk_empty(
        &app,
        "/incident/responder/add",
        json!({"incident_id": id, "person_ids": [carol]}),
    )
    .await;
    sdk_empty(
        &app,
        "/incident/assign",
        json!({"incident_ids": ids, "assigned_to": {"type": "assign", "person_ids": [carol]}}),
    )
    .await;
    let other: Created = sdk(
        &app,
        "/incident/create",
        json!({"title": "Checkout down", "incident_severity": "Info", "channel_id": ch}),
    )
    .await;
    sdk_empty(
        &app,
        "/incident/merge",
        json!({"source_incident_ids": [other.incident_id], "target_incident_id": id}),
    )
    .await;
    sdk_empty(&app, "/incident/resolve", json!({"incident_ids": ids})).await;
    let d = detail(&app, &id).await;
    assert_eq!(
        (d.progress.as_str(), d.closer_id),
        ("Closed", app.admin_id.0)
    );
    sdk_empty(&app, "/incident/reopen", json!({"incident_ids": ids})).await;
    assert_eq!(detail(&app, &id).await.progress, "Triggered");
    // ListSimilarIncidents: the merged one has the same channel and title.
    let later: Created = sdk(
        &app,
        "/incident/create",
        json!({"title": "Checkout down", "incident_severity": "Info", "channel_id": ch}),
    )
    .await;
    let similar: Similar = sdk(
        &app,
        "/incident/past/list",
        json!({"incident_id": later.incident_id, "p": 1, "limit": 20}),
    )
    .await;
    assert_eq!((similar.total, similar.items.len()), (2, 2));
    // ListChannels (an empty body).
    let channels: Value = sdk(&app, "/channel/list", json!({})).await;
    assert_eq!(channels["items"][0]["channel_name"], "Payments");
    // What dutyhook cannot do is refused by name, never ignored.
    let message = app
        .fails(
            "/incident/comment",
            json!({"incident_ids": ids, "comment": "x", "notify": {"follow_preference": true}}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(message.contains("notify"), "{message}");
    // RemoveIncidents
    sdk_empty(
        &app,
        "/incident/remove",
        json!({"incident_ids": [later.incident_id]}),
    )
    .await;
    let left = app
        .ok(
            "/incident/list",
            json!({"start_time": now_s() - 60, "end_time": now_s() + 60}),
        )
        .await;
    assert_eq!(left["total"], 2);
}
