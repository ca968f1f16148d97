//! The hosted product's Go SDK reading alerts (`alerts.go`), replayed with
//! its exact requests and decoded into its `Alert` and `AlertEvent`.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{json, Value};

use crate::alerts::{pushed, source};
use crate::helpers::{declared_properties, now_s, Db, TestApp};
use crate::sdk_replay::sdk;

both_dbs!(read_alerts_as_the_sdk_does, merge_alerts_as_the_sdk_does);

/// `MergeAlertsToIncident`: alerts move into an incident; both incidents
/// follow; bad input moves nothing.
async fn merge_alerts_as_the_sdk_does(db: Db) {
    let app = TestApp::spawn(db).await;
    let ch = app.channel("ops").await;
    let key = source(&app, ch, "standard").await;
    for k in ["disk", "cpu"] {
        pushed(
            &app,
            &key,
            json!({"title_rule": k, "event_status": "Critical", "alert_key": k}),
        )
        .await;
    }
    let alerts = app
        .ok(
            "/alert/list",
            json!({"start_time": now_s() - 60, "end_time": now_s() + 60}),
        )
        .await;
    let of = |k: &str| {
        alerts["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["alert_key"] == k)
            .unwrap()
            .clone()
    };
    let (disk, cpu) = (of("disk"), of("cpu"));
    let target = disk["incident"]["incident_id"]
        .as_str()
        .unwrap()
        .to_string();
    let left = cpu["incident"]["incident_id"].as_str().unwrap().to_string();
    assert_ne!(target, left, "each alert opened its own incident");
    let message = app
        .fails(
            "/alert/merge",
            json!({"alert_ids": [cpu["alert_id"], "0123456789abcdef01234567"], "incident_id": target}),
            404,
            "ResourceNotFound",
        )
        .await;
    assert!(message.contains("0123456789abcdef01234567"), "{message}");
    assert_eq!(app.info(&left).await["alert_cnt"], 1, "nothing moved");
    let owner = json!({"alert_ids": [cpu["alert_id"]], "incident_id": target, "owner_id": 7});
    app.fails("/alert/merge", owner, 400, "InvalidParameter")
        .await;

    let events_before = app.event_count().await;
    let _: Value = sdk(
        &app,
        "/alert/merge",
        json!({"alert_ids": [cpu["alert_id"]], "incident_id": target,
               "comment": "same host", "title": "Host db-1 in trouble"}),
    )
    .await;
    let joined = app.info(&target).await;
    assert_eq!(
        (&joined["alert_cnt"], &joined["active_alert_cnt"]),
        (&json!(2), &json!(2))
    );
    assert_eq!(joined["title"], "Host db-1 in trouble");
    let emptied = app.info(&left).await;
    assert_eq!(
        (&emptied["alert_cnt"], &emptied["active_alert_cnt"]),
        (&json!(0), &json!(0))
    );
    let moved: Value = sdk(&app, "/alert/info", json!({"alert_id": cpu["alert_id"]})).await;
    assert_eq!(moved["incident"]["incident_id"], json!(target));
    let new_events = app.events_since(events_before).await;
    let merge = new_events
        .iter()
        .find(|e| e["event_type"] == "a_merge")
        .unwrap();
    assert_eq!(
        merge["person"]["person_id"],
        json!(app.admin_id.0),
        "moved by hand"
    );
    let types: Vec<&str> = new_events
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert!(
        types.contains(&"i_comm") && types.contains(&"i_r_title"),
        "{types:?}"
    );

    app.ok("/incident/resolve", json!({"incident_ids": [left]}))
        .await;
    let message = app
        .fails(
            "/alert/merge",
            json!({"alert_ids": [cpu["alert_id"]], "incident_id": left}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(message.contains("Closed"), "{message}");
}

/// `Alert`.
#[derive(Deserialize)]
#[allow(dead_code)]
struct Alert {
    alert_id: String,
    #[serde(default)]
    channel_id: i64,
    #[serde(default)]
    channel_name: String,
    #[serde(default)]
    integration_id: i64,
    #[serde(default)]
    integration_name: String,
    #[serde(default)]
    integration_type: String,
    title: String,
    #[serde(default)]
    alert_key: String,
    alert_severity: String,
    alert_status: String,
    start_time: i64,
    #[serde(default)]
    last_time: i64,
    #[serde(default)]
    end_time: i64,
    #[serde(default)]
    event_cnt: i64,
    #[serde(default)]
    ever_muted: bool,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    incident: Option<AlertIncident>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct AlertIncident {
    incident_id: String,
    #[serde(default)]
    title: String,
}

#[derive(Deserialize)]
struct AlertPage {
    items: Vec<Alert>,
    total: i64,
    has_next_page: bool,
}

/// What `ListAlertsByIDs` decodes.
#[derive(Deserialize)]
struct ByIds {
    items: Vec<Alert>,
}

/// `RawTimelineItem`, as `GetAlertFeed` decodes it.
#[derive(Deserialize)]
struct FeedItem {
    ref_id: String,
    #[serde(rename = "type")]
    kind: String,
    created_at: i64,
    #[serde(default)]
    creator_id: i64,
}

#[derive(Deserialize)]
struct Feed {
    items: Vec<FeedItem>,
}

#[derive(Deserialize)]
struct Events {
    items: Vec<Value>,
    total: i64,
}

async fn read_alerts_as_the_sdk_does(db: Db) {
    let app = TestApp::spawn(db).await;
    let ch = app.channel("ops").await;
    let key = source(&app, ch, "standard").await;
    let event = |k: &str, status: &str| json!({"title_rule": k, "event_status": status, "alert_key": k, "labels": {"k": k}});
    pushed(&app, &key, event("disk", "Critical")).await;
    pushed(&app, &key, event("cpu", "Warning")).await;
    pushed(&app, &key, event("disk", "Critical")).await;
    let source_id = app.ok("/integration/alert-source/list", json!({})).await["items"][0]
        ["integration_id"]
        .as_i64()
        .unwrap();
    // ListAlerts with most of its filters.
    let page: AlertPage = sdk(
        &app,
        "/alert/list",
        json!({"start_time": now_s() - 60, "end_time": now_s() + 60, "limit": 20, "p": 1,
               "alert_severity": "Critical", "is_active": true, "channel_ids": [ch],
               "integration_ids": [source_id], "alert_keys": ["disk", "cpu"],
               "orderby": "created_at", "asc": true}),
    )
    .await;
    assert_eq!((page.total, page.has_next_page), (1, false));
    let disk = &page.items[0];
    assert_eq!(
        (
            disk.title.as_str(),
            disk.alert_status.as_str(),
            disk.event_cnt
        ),
        ("disk", "Critical", 2)
    );
    assert_eq!(
        (disk.integration_id, disk.integration_type.as_str()),
        (source_id, "standard")
    );
    assert!(disk.incident.is_some());
    // GetAlertDetail and ListAlertsByIDs.
    let detail: Alert = sdk(&app, "/alert/info", json!({"alert_id": disk.alert_id})).await;
    assert_eq!(detail.alert_key, "disk");
    let by_ids: ByIds = sdk(
        &app,
        "/alert/list-by-ids",
        json!({"alert_ids": [disk.alert_id, "0123456789abcdef01234567"]}),
    )
    .await;
    assert_eq!(by_ids.items.len(), 1, "unknown ids are left out");
    // ListAlertEventsGlobal: every raw event in the window, newest first.
    let events: Events = sdk(
        &app,
        "/alert-event/list",
        json!({"start_time": now_s() - 60, "end_time": now_s() + 60, "limit": 20, "p": 1,
               "integration_ids": [source_id], "channel_ids": [ch]}),
    )
    .await;
    assert_eq!((events.total, events.items.len()), (3, 3));
    assert_eq!(events.items[0]["alert_key"], "disk", "newest first");
    assert_eq!(events.items[1]["alert_key"], "cpu");
    assert_eq!(events.items[0]["event_id"].as_str().unwrap().len(), 24);
    let message = app
        .fails(
            "/alert-event/list",
            json!({"start_time": 0, "end_time": now_s() + 60, "severities": "Critical"}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(message.contains("severities"), "{message}");
    // GetAlertFeed: the alert's activity, as its events.
    app.ok("/alert/close", json!({"alert_ids": [disk.alert_id]}))
        .await;
    let feed: Feed = sdk(
        &app,
        "/alert/feed",
        json!({"alert_id": disk.alert_id, "limit": 20, "p": 1, "asc": true}),
    )
    .await;
    let kinds: Vec<&str> = feed.items.iter().map(|i| i.kind.as_str()).collect();
    assert_eq!(
        (kinds.first(), kinds.last()),
        (Some(&"a_new"), Some(&"a_close")),
        "{kinds:?}"
    );
    assert!(feed
        .items
        .iter()
        .all(|i| i.created_at > 1_000_000_000_000 && i.ref_id == disk.alert_id));
    assert_eq!(
        feed.items.last().unwrap().creator_id,
        app.admin_id.0,
        "closed by hand"
    );
    assert_eq!(feed.items[0].creator_id, 0, "opened by monitoring");
    let closes: Feed = sdk(
        &app,
        "/alert/feed",
        json!({"alert_id": disk.alert_id, "types": ["a_close"]}),
    )
    .await;
    assert_eq!(closes.items.len(), 1);
    // What the answers hold is what the document declares, key for key.
    let declared = declared_properties(&app, "AlertFeedDetail").await;
    let raw = app
        .ok("/alert/feed", json!({"alert_id": disk.alert_id}))
        .await;
    for item in raw["items"].as_array().unwrap() {
        for key in item["detail"].as_object().unwrap().keys() {
            assert!(declared.contains(key), "{key}: {declared:?}");
        }
    }
    let declared = declared_properties(&app, "AlertEventItem").await;
    let raw = app
        .ok("/alert/event/list", json!({"alert_id": disk.alert_id}))
        .await;
    for item in raw["items"].as_array().unwrap() {
        let keys: std::collections::BTreeSet<String> =
            item.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, declared, "{item}");
    }
    let none: Events = sdk(
        &app,
        "/alert-event/list",
        json!({"start_time": now_s() - 60, "end_time": now_s() + 60, "channel_ids": [ch + 1]}),
    )
    .await;
    assert_eq!(none.total, 0);
}
