//! Alert ingestion (`alerts.md`): sources, the standard and Alertmanager
//! bodies, the alert lifecycle, grouping, storms, recovery, alert webhooks.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{feed_types, now_s, Db, TestApp};

both_dbs!(
    standard_event_rules_and_rejections_change_nothing,
    lifecycle_merge_update_recover,
    rule_grouping_windows_and_storms,
);

pub(crate) async fn source(app: &TestApp, channel: i64, source_type: &str) -> String {
    let created = app
        .ok(
            "/integration/alert-source/create",
            json!({"name": format!("{source_type} source"), "source_type": source_type, "channel_id": channel}),
        )
        .await;
    assert!(created["integration_id"].as_i64().unwrap() > 0);
    created["integration_key"].as_str().unwrap().to_string()
}

pub(crate) async fn push(app: &TestApp, key: &str, body: Value) -> (u16, Value) {
    let r = app
        .client
        .post(app.url(&format!("/event/push/alert/standard?integration_key={key}")))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

pub(crate) async fn pushed(app: &TestApp, key: &str, body: Value) -> String {
    let (s, v) = push(app, key, body.clone()).await;
    assert_eq!(s, 200, "{body} answered {v}");
    v["data"]["alert_key"].as_str().unwrap().to_string()
}

pub(crate) async fn alerts(app: &TestApp, extra: Value) -> Vec<Value> {
    let mut body = json!({"start_time": now_s() - 3600, "end_time": now_s() + 3600, "limit": 100});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.ok("/alert/list", body).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

pub(crate) fn types(events: &[Value]) -> Vec<String> {
    events
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_string())
        .collect()
}

async fn standard_event_rules_and_rejections_change_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let ch = app.channel("db").await;
    let key = source(&app, ch, "standard").await;
    let before = app.event_count().await;
    for (body, field) in [
        (json!({"event_status": "Critical"}), "title_rule"),
        (
            json!({"title_rule": "x", "event_status": "critical"}),
            "event_status",
        ),
        (
            json!({"title_rule": "x", "event_status": "Ok"}),
            "alert_key",
        ),
        (
            json!({"title_rule": "x", "event_status": "Info", "labels": {"bad-key": "v"}}),
            "labels",
        ),
        (
            json!({"title_rule": "x", "event_status": "Info", "labels": {"n": 1}}),
            "labels",
        ),
        (
            json!({"title_rule": "x", "event_status": "Info", "alert_key": "k".repeat(256)}),
            "alert_key",
        ),
        (
            json!({"title_rule": "x", "event_status": "Info", "images": "nope"}),
            "images",
        ),
    ] {
        let (s, v) = push(&app, &key, body.clone()).await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some("InvalidParameter")),
            "{body}: {v}"
        );
        assert!(
            v["error"]["message"].as_str().unwrap().starts_with(field),
            "{body}: {v}"
        );
    }
    let many: serde_json::Map<String, Value> =
        (0..51).map(|i| (format!("k{i}"), json!("v"))).collect();
    let (s, _) = push(
        &app,
        &key,
        json!({"title_rule": "x", "event_status": "Info", "labels": many}),
    )
    .await;
    assert_eq!(s, 400, "51 labels are refused");
    for bad_key in ["", "dhi_nope"] {
        let (s, v) = push(
            &app,
            bad_key,
            json!({"title_rule": "x", "event_status": "Info"}),
        )
        .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some("InvalidParameter")),
            "{v}"
        );
        assert!(v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("integration_key"));
    }
    let am = source(&app, ch, "alertmanager").await;
    let (s, _) = push(
        &app,
        &am,
        json!({"title_rule": "x", "event_status": "Info"}),
    )
    .await;
    assert_eq!(s, 400, "an Alertmanager key does not take standard events");
    assert!(
        alerts(&app, json!({})).await.is_empty(),
        "rejected events left nothing"
    );
    assert_eq!(app.event_count().await, before);

    // Truncation, title rendering, images, a derived key that merges repeats.
    let body = json!({
        "title_rule": format!("$host is down on ${{region}} $missing {}", "t".repeat(600)),
        "event_status": "Warning",
        "description": "d".repeat(3000),
        "labels": {"host": "db-1", "region": "eu", "long": "v".repeat(3000)},
        "images": [{"alt": "a", "src": "http://img.example/1.png"}, {"alt": "a", "src": "https://img.example/2.png"},
                   {"alt": "b", "src": "ftp://img.example/3.png"}, {"alt": "c", "src": format!("https://x.example/{}", "p".repeat(300))}]
    });
    let k1 = pushed(&app, &key, body.clone()).await;
    let k2 = pushed(&app, &key, body).await;
    assert_eq!(k1, k2, "a derived key is stable");
    let list = alerts(&app, json!({})).await;
    assert_eq!(list.len(), 1, "repeats merged");
    let a = &list[0];
    assert_eq!(a["event_cnt"], json!(2));
    assert!(
        a["title"]
            .as_str()
            .unwrap()
            .starts_with("db-1 is down on eu $missing "),
        "{a}"
    );
    assert_eq!(a["title_rule"].as_str().unwrap().chars().count(), 512);
    assert_eq!(a["description"].as_str().unwrap().chars().count(), 2048);
    assert_eq!(a["labels"]["long"].as_str().unwrap().chars().count(), 2048);
    assert_eq!(
        a["images"],
        json!([{"alt": "a", "src": "https://img.example/2.png", "href": ""}])
    );
    assert_eq!(a["data_source_type"], json!("standard"));
    assert_eq!(a["channel_id"], json!(ch));
}

async fn lifecycle_merge_update_recover(db: Db) {
    let app = TestApp::spawn(db).await;
    let ch = app.channel("web").await;
    let key = source(&app, ch, "standard").await;
    let skip = app.event_count().await;
    let ev = |status: &str| json!({"title_rule": "web-1 slow", "event_status": status, "alert_key": "web-1", "labels": {"host": "web-1"}});
    pushed(&app, &key, ev("Critical")).await;
    let events = app.events_since(skip).await;
    assert_eq!(types(&events), ["a_new", "i_new", "a_merge"]);
    assert!(
        events[1].get("person").is_none(),
        "automatic i_new has no person"
    );
    let inc = events[1]["incident"]["incident_id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(events[2]["alert"]["incident"]["incident_id"], json!(inc));
    let info = app.info(&inc).await;
    assert_eq!(
        (
            info["incident_severity"].as_str(),
            info["alert_cnt"].as_i64()
        ),
        (Some("Critical"), Some(1))
    );
    assert_eq!(info["dedup_key"], json!("web-1"));
    assert_eq!(info["labels"], json!({"host": "web-1"}));
    assert!(info.get("creator").is_none());

    let skip = app.event_count().await;
    pushed(&app, &key, ev("Warning")).await;
    pushed(&app, &key, ev("Warning")).await;
    let events = app.events_since(skip).await;
    assert_eq!(
        types(&events),
        ["a_update"],
        "a repeat without a visible change emits nothing"
    );
    let a = &alerts(&app, json!({})).await[0];
    assert_eq!(
        (a["alert_severity"].as_str(), a["alert_status"].as_str()),
        (Some("Critical"), Some("Warning"))
    );
    assert_eq!(a["event_cnt"], json!(3));
    let info = app.info(&inc).await;
    assert_eq!(
        (
            info["incident_severity"].as_str(),
            info["incident_status"].as_str()
        ),
        (Some("Critical"), Some("Warning"))
    );

    let skip = app.event_count().await;
    pushed(
        &app,
        &key,
        json!({"title_rule": "web-1 slow", "event_status": "Ok", "alert_key": "web-1"}),
    )
    .await;
    let events = app.events_since(skip).await;
    assert_eq!(types(&events), ["a_update", "i_rslv"]);
    assert!(
        events[1].get("person").is_none(),
        "auto-recovery has no person"
    );
    let info = app.info(&inc).await;
    assert_eq!(
        (info["progress"].as_str(), info["incident_status"].as_str()),
        (Some("Closed"), Some("Ok"))
    );
    assert!(info["end_time"].as_i64().unwrap() > 0 && info["close_time"].as_i64().unwrap() > 0);
    let a = &alerts(&app, json!({})).await[0];
    assert_eq!(
        (a["progress"].as_str(), a["alert_status"].as_str()),
        (Some("Closed"), Some("Ok"))
    );
    let detail = app
        .ok("/alert/info", json!({"alert_id": a["alert_id"]}))
        .await;
    assert_eq!(
        detail["events"].as_array().unwrap().len(),
        4,
        "every raw event kept"
    );
    assert_eq!(detail["events"][0]["event_status"], json!("Ok"));

    // An Ok for nothing open changes nothing; a new event of the key starts over.
    let skip = app.event_count().await;
    pushed(
        &app,
        &key,
        json!({"title_rule": "x", "event_status": "Ok", "alert_key": "never-seen"}),
    )
    .await;
    assert_eq!(app.event_count().await, skip);
    pushed(&app, &key, ev("Info")).await;
    let events = app.events_since(skip).await;
    assert_eq!(types(&events), ["a_new", "i_new", "a_merge"]);
    assert_ne!(
        events[1]["incident"]["incident_id"],
        json!(inc),
        "a new incident"
    );
    assert_eq!(
        alerts(&app, json!({"progress": "Triggered"})).await.len(),
        1
    );
    assert_eq!(alerts(&app, json!({"incident_id": inc})).await.len(), 1);
}

async fn rule_grouping_windows_and_storms(db: Db) {
    let app = TestApp::spawn(db).await;
    let ch = app
        .ok(
            "/channel/create",
            json!({"channel_name": "grouped", "grouping": {"method": "p", "dimensions": ["labels.host"], "window_minutes": 10},
                   "storm_thresholds": [2, 3]}),
        )
        .await["channel_id"]
        .as_i64()
        .unwrap();
    let key = source(&app, ch, "standard").await;
    let skip = app.event_count().await;
    for (n, status) in ["Info", "Critical", "Warning"].iter().enumerate() {
        pushed(&app, &key, json!({"title_rule": format!("check {n}"), "event_status": status, "labels": {"host": "a"}})).await;
    }
    pushed(
        &app,
        &key,
        json!({"title_rule": "check b", "event_status": "Info", "labels": {"host": "b"}}),
    )
    .await;
    let events = app.events_since(skip).await;
    assert_eq!(
        types(&events),
        [
            "a_new", "i_new", "a_merge", "a_new", "a_merge", "i_storm", "a_new", "a_merge",
            "i_storm", "a_new", "i_new", "a_merge"
        ]
    );
    let inc_a = events[1]["incident"]["incident_id"]
        .as_str()
        .unwrap()
        .to_string();
    let info = app.info(&inc_a).await;
    assert_eq!(info["alert_cnt"], json!(3));
    assert_eq!(
        info["incident_severity"],
        json!("Critical"),
        "highest of its alerts"
    );
    assert_eq!(info["incident_status"], json!("Critical"));
    assert_eq!(info["group_method"], json!("p"));
    assert_eq!(events[5]["threshold"], json!(2));
    assert_eq!(events[8]["threshold"], json!(3));
    let feed = app
        .ok("/incident/feed", json!({"incident_id": inc_a, "asc": true}))
        .await;
    // Each alert that joins is on the timeline, before the storm it makes.
    assert_eq!(
        feed_types(&feed),
        ["i_new", "a_merge", "a_merge", "i_storm", "a_merge", "i_storm"]
    );
    assert_eq!(feed["items"][1]["detail"]["severity"], json!("Info"));

    // A person's severity stays; a storm is announced once.
    app.ok(
        "/incident/reset",
        json!({"incident_id": inc_a, "incident_severity": "Info"}),
    )
    .await;
    let skip = app.event_count().await;
    pushed(
        &app,
        &key,
        json!({"title_rule": "check 4", "event_status": "Critical", "labels": {"host": "a"}}),
    )
    .await;
    assert_eq!(types(&app.events_since(skip).await), ["a_new", "a_merge"]);
    assert_eq!(app.info(&inc_a).await["incident_severity"], json!("Info"));

    // Outside the window (from the incident's creation) a new incident opens.
    app.state.clock.advance(Duration::from_secs(11 * 60));
    let skip = app.event_count().await;
    pushed(
        &app,
        &key,
        json!({"title_rule": "check 5", "event_status": "Info", "labels": {"host": "a"}}),
    )
    .await;
    assert_eq!(
        types(&app.events_since(skip).await),
        ["a_new", "i_new", "a_merge"]
    );
}
