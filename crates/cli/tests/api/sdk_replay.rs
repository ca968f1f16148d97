//! The hosted product's Go SDK (`flashcatcloud/flashduty-sdk`), replayed:
//! each call sends the request the SDK sends (its path and body, the key as
//! `?app_key=`, `Accept: application/json`) and decodes the answer into
//! structs with the SDK's field names and types, strictly, as its Go
//! decoder would fail on a wrong type. Written from the SDK's source
//! (`incidents.go`, `enrichment.go`, `members.go`, `alerts.go`, `types.go`).

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::alerts::{pushed, source};
use crate::helpers::{now_s, Db, TestApp};

both_dbs!(
    list_incidents_as_the_sdk_does,
    the_feed_as_the_sdk_reads_it,
    members_teams_and_alert_events
);

/// `postData[T]`: the envelope's `data` decoded as `T`; an `error` fails.
pub(crate) async fn sdk<T: DeserializeOwned>(app: &TestApp, path: &str, body: Value) -> T {
    let resp = app
        .client
        .post(app.url(&format!("{path}?app_key={}", app.key)))
        .header("Accept", "application/json")
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    assert_eq!(status, 200, "{path} {body}: {text}");
    let envelope: Value = serde_json::from_str(&text).unwrap();
    assert!(envelope.get("error").is_none(), "{path}: {text}");
    serde_json::from_value(envelope["data"].clone())
        .unwrap_or_else(|e| panic!("{path}: the SDK's decoder fails ({e}) on {text}"))
}

#[derive(Deserialize)]
struct Items<T> {
    items: Vec<T>,
    #[serde(default)]
    total: i64,
}

/// `RawIncident`.
#[derive(Deserialize)]
#[allow(dead_code)]
struct RawIncident {
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
    channel_id: i64,
    #[serde(default)]
    creator_id: i64,
    #[serde(default)]
    closer_id: i64,
    #[serde(default)]
    responders: Vec<RawResponder>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    #[serde(default)]
    fields: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct RawResponder {
    person_id: i64,
    #[serde(default)]
    assigned_at: i64,
    #[serde(default)]
    acknowledged_at: i64,
}

/// `fetchPersonInfos`' item.
#[derive(Deserialize)]
#[allow(dead_code)]
struct PersonInfo {
    person_id: i64,
    person_name: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    avatar: String,
    #[serde(default, rename = "as")]
    login_as: String,
}

/// `fetchChannelInfos`' item.
#[derive(Deserialize)]
#[allow(dead_code)]
struct ChannelInfo {
    channel_id: i64,
    channel_name: String,
    #[serde(default)]
    team_id: i64,
    #[serde(default)]
    creator_id: i64,
}

/// `fetchIncidentAlerts`' item.
#[derive(Deserialize)]
#[allow(dead_code)]
struct AlertPreview {
    alert_id: String,
    title: String,
    severity: String,
    status: String,
    trigger_time: i64,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

async fn incident_with_everything(app: &TestApp) -> (String, i64, i64) {
    let ch = app.channel("Payments").await;
    let (bob, _) = app.person("Bob", "bob@example.com", "member").await;
    let key = source(app, ch, "standard").await;
    pushed(
        app,
        &key,
        json!({"title_rule": "db-1 is down", "event_status": "Critical", "alert_key": "db-1",
               "labels": {"host": "db-1"}}),
    )
    .await;
    let from_alert = app
        .ok(
            "/incident/list",
            json!({"start_time": now_s() - 60, "end_time": now_s() + 60, "channel_ids": [ch]}),
        )
        .await["items"][0]["incident_id"]
        .as_str()
        .unwrap()
        .to_string();
    app.ok(
        "/incident/assign",
        json!({"incident_ids": [from_alert], "assigned_to": {"type": "assign", "person_ids": [bob]}}),
    )
    .await;
    (from_alert, ch, bob)
}

async fn list_incidents_as_the_sdk_does(db: Db) {
    let app = TestApp::spawn(db).await;
    let (id, ch, bob) = incident_with_everything(&app).await;
    // ListIncidents: the list, then names for people and channels, then
    // each incident's alerts (limit 1 when previews are not wanted).
    let list: Items<RawIncident> = sdk(
        &app,
        "/incident/list",
        json!({"p": 1, "limit": 20, "start_time": now_s() - 3600, "end_time": now_s() + 60}),
    )
    .await;
    let inc = list.items.iter().find(|i| i.incident_id == id).unwrap();
    assert_eq!(
        (inc.channel_id, inc.creator_id),
        (ch, 0),
        "an alert made it"
    );
    assert_eq!(inc.responders[0].person_id, bob);
    let people: Items<PersonInfo> = sdk(
        &app,
        "/person/infos",
        json!({"person_ids": [bob, app.admin_id.0]}),
    )
    .await;
    let mut names: Vec<&str> = people
        .items
        .iter()
        .map(|p| p.person_name.as_str())
        .collect();
    names.sort();
    assert_eq!(names, ["Ada Admin", "Bob"]);
    let unknown: Items<PersonInfo> = sdk(&app, "/person/infos", json!({"person_ids": [999]})).await;
    assert!(unknown.items.is_empty(), "unknown ids are left out");
    let channels: Items<ChannelInfo> =
        sdk(&app, "/channel/infos", json!({"channel_ids": [ch]})).await;
    assert_eq!(channels.items[0].channel_name, "Payments");
    let alerts: Items<AlertPreview> = sdk(
        &app,
        "/incident/alert/list",
        json!({"incident_id": id, "p": 1, "limit": 1}),
    )
    .await;
    assert_eq!(alerts.total, 1);
    let a = &alerts.items[0];
    assert_eq!(
        (a.title.as_str(), a.severity.as_str(), a.status.as_str()),
        ("db-1 is down", "Critical", "Critical")
    );
    assert!(
        a.trigger_time > 0 && a.trigger_time < 10_000_000_000,
        "seconds"
    );
    // The published document's names are there too.
    let raw = app
        .ok(
            "/incident/alert/list",
            json!({"incident_id": id, "is_active": true, "include_events": true}),
        )
        .await;
    let item = &raw["items"][0];
    assert_eq!(item["alert_severity"], "Critical");
    assert_eq!(item["integration_type"], "standard");
    assert_eq!(item["events"][0]["event_status"], "Critical");
    let closed = app
        .ok(
            "/incident/alert/list",
            json!({"incident_id": id, "is_active": false}),
        )
        .await;
    assert_eq!(
        closed["total"], 0,
        "is_active: false lists only closed alerts"
    );
    app.fails(
        "/incident/alert/list",
        json!({"incident_id": id, "limit": 1001}),
        400,
        "InvalidParameter",
    )
    .await;
}

/// `RawTimelineItem`.
#[derive(Deserialize)]
#[allow(dead_code)]
struct RawTimelineItem {
    #[serde(default)]
    ref_id: String,
    #[serde(rename = "type")]
    kind: String,
    created_at: i64,
    #[serde(default)]
    updated_at: i64,
    #[serde(default)]
    account_id: i64,
    #[serde(default)]
    creator_id: i64,
    #[serde(default)]
    detail: BTreeMap<String, Value>,
}

#[derive(Deserialize)]
struct Feed {
    items: Vec<RawTimelineItem>,
    #[allow(dead_code)]
    has_next_page: bool,
}

async fn the_feed_as_the_sdk_reads_it(db: Db) {
    let app = TestApp::spawn(db).await;
    let (id, _, bob) = incident_with_everything(&app).await;
    app.ok(
        "/incident/reset",
        json!({"incident_id": id, "title": "db-1 is really down", "incident_severity": "Warning"}),
    )
    .await;
    app.ok("/incident/resolve", json!({"incident_ids": [id]}))
        .await;
    let started = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let feed: Feed = sdk(
        &app,
        "/incident/feed",
        json!({"incident_id": id, "limit": 100, "asc": true}),
    )
    .await;
    let kinds: Vec<&str> = feed.items.iter().map(|i| i.kind.as_str()).collect();
    assert_eq!(
        kinds,
        [
            "i_new",
            "a_merge",
            "i_assign",
            "i_r_title",
            "i_r_severity",
            "i_rslv"
        ]
    );
    for item in &feed.items {
        assert!(
            item.created_at > 1_000_000_000_000 && item.created_at <= started,
            "milliseconds: {}",
            item.created_at
        );
        assert_eq!(item.ref_id, id);
    }
    let by_kind = |k: &str| feed.items.iter().find(|i| i.kind == k).unwrap();
    assert_eq!(by_kind("i_new").creator_id, 0, "an alert opened it");
    assert_eq!(by_kind("i_assign").creator_id, app.admin_id.0);
    assert_eq!(by_kind("i_assign").detail["to"], json!([bob]));
    assert_eq!(by_kind("i_assign").detail["type"], "assign");
    let title = &by_kind("i_r_title").detail;
    assert_eq!(
        (&title["from"], &title["to"]),
        (&json!("db-1 is down"), &json!("db-1 is really down"))
    );
    let severity = &by_kind("i_r_severity").detail;
    assert_eq!(
        (&severity["from"], &severity["to"]),
        (&json!("Critical"), &json!("Warning"))
    );
    assert_eq!(by_kind("i_rslv").detail["from"], "console");

    let only: Feed = sdk(
        &app,
        "/incident/feed",
        json!({"incident_id": id, "types": ["i_rslv", "i_notify"]}),
    )
    .await;
    let kinds: Vec<&str> = only.items.iter().map(|i| i.kind.as_str()).collect();
    assert_eq!(kinds, ["i_rslv"], "types filters");
    let message = app
        .fails(
            "/incident/feed",
            json!({"incident_id": id, "types": ["i_bogus"]}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(message.contains("types"), "{message}");
}

/// `MemberItem`.
#[derive(Deserialize)]
#[allow(dead_code)]
struct MemberItem {
    member_id: i64,
    member_name: String,
    #[serde(default)]
    email: String,
    status: String,
    created_at: i64,
    updated_at: i64,
}

#[derive(Deserialize)]
struct MemberPage {
    p: i64,
    limit: i64,
    total: i64,
    items: Vec<MemberItem>,
}

#[derive(Deserialize)]
struct TeamInfo {
    team_id: i64,
    team_name: String,
}

/// `AlertEvent`.
#[derive(Deserialize)]
#[allow(dead_code)]
struct AlertEvent {
    event_id: String,
    #[serde(default)]
    alert_id: String,
    #[serde(default)]
    channel_id: i64,
    #[serde(default)]
    integration_id: i64,
    event_severity: String,
    event_status: String,
    event_time: i64,
    #[serde(default)]
    labels: BTreeMap<String, String>,
}

async fn members_teams_and_alert_events(db: Db) {
    let app = TestApp::spawn(db).await;
    let (id, _, bob) = incident_with_everything(&app).await;
    let page: MemberPage = sdk(
        &app,
        "/member/list",
        json!({"p": 1, "limit": 20, "query": "BOB"}),
    )
    .await;
    assert_eq!((page.p, page.limit, page.total), (1, 20, 1));
    assert_eq!(
        (page.items[0].member_id, page.items[0].member_name.as_str()),
        (bob, "Bob")
    );
    assert_eq!(page.items[0].status, "enabled");
    let everyone: MemberPage = sdk(&app, "/member/list", json!({"p": 1, "limit": 20})).await;
    assert_eq!(everyone.total, 2);
    let message = app
        .fails(
            "/member/list",
            json!({"role_id": 3}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(message.contains("role_id"), "{message}");

    let team = app
        .ok(
            "/team/create",
            json!({"team_name": "SRE", "person_ids": [bob]}),
        )
        .await["team_id"]
        .as_i64()
        .unwrap();
    let teams: Items<TeamInfo> = sdk(&app, "/team/infos", json!({"team_ids": [team, 999]})).await;
    assert_eq!(teams.items.len(), 1);
    assert_eq!(
        (teams.items[0].team_id, teams.items[0].team_name.as_str()),
        (team, "SRE")
    );

    let alert_id = app
        .ok("/incident/alert/list", json!({"incident_id": id}))
        .await["items"][0]["alert_id"]
        .as_str()
        .unwrap()
        .to_string();
    let events: Items<AlertEvent> =
        sdk(&app, "/alert/event/list", json!({"alert_id": alert_id})).await;
    assert_eq!(events.items.len(), 1);
    let e = &events.items[0];
    assert_eq!(e.alert_id, alert_id);
    assert_eq!(
        (e.event_status.as_str(), e.event_severity.as_str()),
        ("Critical", "Critical")
    );
    assert_eq!(e.event_id.len(), 24);
    assert_eq!(e.labels["host"], "db-1");
    app.fails(
        "/alert/event/list",
        json!({"alert_id": "0123456789abcdef01234567"}),
        404,
        "ResourceNotFound",
    )
    .await;
}
