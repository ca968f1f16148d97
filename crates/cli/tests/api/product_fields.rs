//! Every request field of the hosted product's published OpenAPI document
//! (incidents, alerts, people, channels, webhook history) is one dutyhook
//! declares — honoured, or refused naming it — never silently ignored; and
//! the last ones added: merge, channel settings and the channel list.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use crate::alerts::{pushed, source};
use crate::helpers::{now_s, Db, TestApp};

both_dbs!(merge_takes_a_comment_and_a_title, channel_settings_and_list);

/// Paths of the document dutyhook does not have yet.
const NOT_YET: &[&str] = &[];

fn properties<'a>(doc: &'a Value, schema: &'a Value) -> Vec<&'a str> {
    if let Some(r) = schema["$ref"].as_str() {
        let name = r.rsplit('/').next().unwrap();
        return properties(doc, &doc["components"]["schemas"][name]);
    }
    let mut names: Vec<&str> = schema["properties"]
        .as_object()
        .map(|p| p.keys().map(String::as_str).collect())
        .unwrap_or_default();
    for part in schema["allOf"].as_array().into_iter().flatten() {
        names.extend(properties(doc, part));
    }
    names
}

#[tokio::test]
async fn every_request_field_of_the_product_is_declared() {
    let theirs: BTreeMap<String, Vec<String>> =
        serde_json::from_str(include_str!("data/product_request_fields.json")).unwrap();
    let app = TestApp::spawn(Db::Sqlite).await;
    let doc = app.get_json("/openapi.json").await;
    let mut missing = vec![];
    for (path, fields) in &theirs {
        if NOT_YET.contains(&path.as_str()) {
            continue;
        }
        let body =
            &doc["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"];
        if body.is_null() {
            missing.push(format!("{path} (the path)"));
            continue;
        }
        let ours = properties(&doc, body);
        for f in fields {
            if !ours.contains(&f.as_str()) {
                missing.push(format!("{path} {f}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "fields of the hosted product dutyhook does not declare: {missing:?}"
    );
    assert!(theirs.len() > 30, "the document's paths were read");
}

async fn merge_takes_a_comment_and_a_title(db: Db) {
    let app = TestApp::spawn(db).await;
    let target = app.incident("Checkout slow").await;
    let source_incident = app.incident("Payments slow").await;
    let body = |extra: Value| {
        let mut b = json!({"source_incident_ids": [source_incident], "target_incident_id": target});
        for (k, v) in extra.as_object().unwrap() {
            b[k] = v.clone();
        }
        b
    };
    for (extra, field) in [
        (json!({"owner_id": 3}), "owner_id"),
        (
            json!({"remove_source_incidents": true}),
            "remove_source_incidents",
        ),
    ] {
        let message = app
            .fails("/incident/merge", body(extra), 400, "InvalidParameter")
            .await;
        assert!(message.contains(field), "{message}");
    }
    assert_eq!(
        app.info(&source_incident).await["progress"],
        "Triggered",
        "nothing merged"
    );
    app.ok(
        "/incident/merge",
        body(
            json!({"comment": "same root cause", "title": "Checkout and payments slow",
                    "owner_id": 0, "remove_source_incidents": false}),
        ),
    )
    .await;
    assert_eq!(
        app.info(&target).await["title"],
        "Checkout and payments slow"
    );
    let feed = app
        .ok(
            "/incident/feed",
            json!({"incident_id": target, "asc": true}),
        )
        .await;
    let types: Vec<&str> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["i_new", "i_merge", "i_r_title", "i_comm"]);
}

async fn channel_settings_and_list(db: Db) {
    let app = TestApp::spawn(db).await;
    let team = app
        .ok(
            "/team/create",
            json!({"team_name": "SRE", "person_ids": []}),
        )
        .await["team_id"]
        .as_i64()
        .unwrap();
    // Settings of features dutyhook lacks: fine when off, refused when on.
    app.ok(
        "/channel/create",
        json!({"channel_name": "alpha", "is_private": false, "auto_resolve_timeout": 0,
               "disable_outlier_detection": true, "flapping": {"is_disabled": true},
               "managing_team_ids": [], "description": "storage"}),
    )
    .await;
    for (field, value) in [
        ("is_private", json!(true)),
        ("auto_resolve_timeout", json!(600)),
        ("disable_auto_close", json!(true)),
        ("flapping", json!({"max_changes": 4, "in_mins": 60})),
        ("managing_team_ids", json!([team])),
        ("escalate_rule", json!({"template_id": "x"})),
    ] {
        let body = json!({"channel_name": "beta", field: value});
        let message = app
            .fails("/channel/create", body, 400, "InvalidParameter")
            .await;
        assert!(message.contains(field), "{message}");
    }
    app.ok(
        "/channel/create",
        json!({"channel_name": "beta", "team_id": team}),
    )
    .await;
    app.ok("/channel/create", json!({"channel_name": "gamma"}))
        .await;
    let names = |v: Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["channel_name"].as_str().unwrap().to_string())
            .collect()
    };
    let list = |body: Value| {
        let app = &app;
        async move { app.ok("/channel/list", body).await }
    };
    assert_eq!(names(list(json!({})).await), ["alpha", "beta", "gamma"]);
    assert_eq!(
        names(list(json!({"asc": false})).await),
        ["gamma", "beta", "alpha"]
    );
    assert_eq!(names(list(json!({"team_ids": [team]})).await), ["beta"]);
    assert_eq!(
        names(list(json!({"query": "STOR"})).await),
        ["alpha"],
        "description"
    );
    assert_eq!(
        names(list(json!({"channel_name": "gamma", "query": "x"})).await),
        ["gamma"]
    );
    assert_eq!(
        names(list(json!({"orderby": "channel_name", "asc": false})).await),
        ["gamma", "beta", "alpha"]
    );
    let message = app
        .fails(
            "/channel/list",
            json!({"is_my_starred": true}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(message.contains("is_my_starred"), "{message}");

    // /alert-event/list takes asc.
    let ch = list(json!({"channel_name": "alpha"})).await["items"][0]["channel_id"].clone();
    let key = source(&app, ch.as_i64().unwrap(), "standard").await;
    for k in ["one", "two"] {
        pushed(
            &app,
            &key,
            json!({"title_rule": k, "event_status": "Info", "alert_key": k}),
        )
        .await;
    }
    let window =
        |asc: bool| json!({"start_time": now_s() - 60, "end_time": now_s() + 60, "asc": asc});
    let oldest = app.ok("/alert-event/list", window(true)).await;
    let newest = app.ok("/alert-event/list", window(false)).await;
    assert_eq!(
        (
            oldest["items"][0]["alert_key"].as_str(),
            newest["items"][0]["alert_key"].as_str()
        ),
        (Some("one"), Some("two"))
    );
}
