//! What a body may hold (`open-api.md`, "Robustness"): one JSON document and
//! nothing after it, no NUL in any text, a type error naming its field. The
//! cases come from the OpenAPI document, so a new endpoint is covered the
//! day it is added.

use serde_json::{json, Map, Value};

use crate::helpers::{Db, TestApp};
use crate::receiver::TestReceiver;

both_dbs!(
    bad_requests_never_fail_good_ones,
    trailing_data_is_refused_everywhere,
    nul_in_any_text_is_refused_naming_the_field,
    type_errors_name_the_field,
    what_a_schema_requires_is_refused_when_missing,
    endpoints_without_a_host_are_refused
);

/// Every POST path of the document with the schema of its body (resolved).
async fn post_paths(app: &TestApp) -> Vec<(String, Option<Value>)> {
    let doc = app.get_json("/openapi.json").await;
    let mut out = vec![];
    for (path, item) in doc["paths"].as_object().unwrap() {
        let Some(op) = item.get("post") else { continue };
        let schema = op
            .pointer("/requestBody/content/application~1json/schema")
            .map(|s| resolve(&doc, s));
        out.push((path.clone(), schema));
    }
    assert!(out.len() > 50, "the document lists the API: {}", out.len());
    out
}

fn resolve(doc: &Value, schema: &Value) -> Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => resolve(doc, doc.pointer(&r.replacen('#', "", 1)).unwrap()),
        None => schema.clone(),
    }
}

/// The JSON types a property takes (`["string"]`, `["integer", "null"]`, …).
fn types(schema: &Value) -> Vec<String> {
    match &schema["type"] {
        Value::String(t) => vec![t.clone()],
        Value::Array(ts) => ts
            .iter()
            .filter_map(|t| t.as_str().map(String::from))
            .collect(),
        _ => schema["oneOf"]
            .as_array()
            .map(|alts| alts.iter().flat_map(types).collect())
            .unwrap_or_default(),
    }
}

fn properties(schema: &Option<Value>) -> Map<String, Value> {
    schema
        .as_ref()
        .and_then(|s| s["properties"].as_object().cloned())
        .unwrap_or_default()
}

async fn send(app: &TestApp, path: &str, body: &[u8]) -> (u16, Value) {
    let resp = app
        .client
        .post(app.url(path))
        .bearer_auth(&app.key)
        .header("content-type", "application/json")
        .body(body.to_vec())
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn trailing_data_is_refused_everywhere(db: Db) {
    let app = TestApp::spawn(db).await;
    for (path, _) in post_paths(&app).await {
        for body in [&b"{} xyz"[..], b"{}{}", b"{} 1", b"{}]"] {
            let (status, v) = send(&app, &path, body).await;
            assert_eq!(
                (status, v["error"]["code"].as_str()),
                (400, Some("InvalidParameter")),
                "{path} {:?}: {v}",
                String::from_utf8_lossy(body)
            );
            assert!(
                v["error"]["message"]
                    .as_str()
                    .unwrap()
                    .contains("after the JSON document"),
                "{path}: {v}"
            );
        }
        // Whitespace after the document is not data.
        let (status, v) = send(&app, &path, b"{}  \n\t ").await;
        assert_ne!(
            v["error"]["message"]
                .as_str()
                .map(|m| m.contains("after the JSON")),
            Some(true),
            "{path} {status}: {v}"
        );
    }
}

/// Bodies that put a NUL at one place: every text property of every
/// endpoint, the values and keys of maps, the items of lists.
fn nul_cases(path: &str, schema: &Option<Value>) -> Vec<(Value, String)> {
    let mut out = vec![];
    for (name, prop) in properties(schema) {
        let ts = types(&prop);
        if ts.iter().any(|t| t == "string") {
            out.push((json!({ &name: "a\u{0}b" }), name.clone()));
        }
        if ts.iter().any(|t| t == "array") && types(&prop["items"]).iter().any(|t| t == "string") {
            out.push((json!({ &name: ["ok", "x\u{0}"] }), format!("{name}[1]")));
        }
        if ts.iter().any(|t| t == "object") && prop.get("additionalProperties").is_some() {
            out.push((json!({ &name: {"k": "v\u{0}"} }), format!("{name}.k")));
            out.push((json!({ &name: {"k\u{0}": "v"} }), name.clone()));
        }
    }
    if path.starts_with("/event/push/alert/") {
        out.push((json!({"title_rule": "x\u{0}"}), "title_rule".into()));
        out.push((
            json!({"alerts": [{"labels": {"alertname": "db\u{0}"}}]}),
            "alerts[0].labels.alertname".into(),
        ));
    }
    out
}

async fn nul_in_any_text_is_refused_naming_the_field(db: Db) {
    let app = TestApp::spawn(db).await;
    let mut checked = 0;
    let mut fields = std::collections::BTreeSet::new();
    for (path, schema) in post_paths(&app).await {
        for (body, field) in nul_cases(&path, &schema) {
            let (status, v) = send(&app, &path, body.to_string().as_bytes()).await;
            let message = v["error"]["message"].as_str().unwrap_or_default();
            assert_eq!(
                (status, v["error"]["code"].as_str()),
                (400, Some("InvalidParameter")),
                "{path} {body}: {v}"
            );
            assert!(
                message.starts_with(&field) && message.contains("NUL"),
                "{path} {body}: the message names {field}: {message}"
            );
            fields.insert(field);
            checked += 1;
        }
    }
    for named_in_the_report in [
        "description",
        "labels.k",
        "channel_name",
        "person_name",
        "team_name",
        "name",
        "title",
        "comment",
        "email",
    ] {
        assert!(
            fields.contains(named_in_the_report),
            "{named_in_the_report} was checked: {fields:?}"
        );
    }
    assert!(checked > 80, "{checked} cases");
    // Nothing of it was stored: the incidents, channels and people are the
    // admin and nothing else.
    let (_, people) = app.post("/person/list", json!({})).await;
    assert_eq!(people["data"]["total"], 1, "{people}");
    let (_, channels) = app.post("/channel/list", json!({})).await;
    assert_eq!(channels["data"]["total"], 0, "{channels}");
    // A NUL written as an escaped backslash is ordinary text.
    let (status, v) = app
        .post("/channel/create", json!({"channel_name": "a\\u0000b"}))
        .await;
    assert_eq!(status, 200, "{v}");
}

/// A value of the wrong type for a property: a string where a number goes,
/// a number where a string goes, an object where a list goes.
fn wrong_value(prop: &Value) -> Option<Value> {
    let ts = types(prop);
    let has = |t: &str| ts.iter().any(|x| x == t);
    if has("string") && !has("integer") && !has("number") && !has("object") {
        Some(json!(12))
    } else if (has("integer") || has("number")) && !has("string") {
        Some(json!("twelve"))
    } else if has("array") && !has("object") {
        Some(json!({"not": "a list"}))
    } else if has("boolean") && !has("string") {
        Some(json!([true]))
    } else {
        None
    }
}

async fn type_errors_name_the_field(db: Db) {
    let app = TestApp::spawn(db).await;
    let mut checked = 0;
    for (path, schema) in post_paths(&app).await {
        for (name, prop) in properties(&schema) {
            let Some(wrong) = wrong_value(&prop) else {
                continue;
            };
            let mut bodies = vec![json!({ &name: wrong }).to_string()];
            if types(&prop).iter().any(|t| t == "integer") {
                // Too large for any number type.
                bodies.push(format!("{{\"{name}\": 1e999}}"));
            }
            for body in bodies {
                let (status, v) = send(&app, &path, body.as_bytes()).await;
                let message = v["error"]["message"].as_str().unwrap_or_default();
                assert_eq!(status, 400, "{path} {body}: {v}");
                assert!(
                    message.starts_with(&name) && !message.contains("not valid JSON"),
                    "{path} {body}: the message names {name}: {message}"
                );
                checked += 1;
            }
        }
    }
    assert!(checked > 100, "{checked} cases");
}

/// The document's `required` is a promise: an empty body is refused with a
/// message naming one of the fields the schema requires.
async fn what_a_schema_requires_is_refused_when_missing(db: Db) {
    let app = TestApp::spawn(db).await;
    let mut checked = vec![];
    for (path, schema) in post_paths(&app).await {
        let required: Vec<String> = schema
            .as_ref()
            .and_then(|s| s["required"].as_array().cloned())
            .unwrap_or_default()
            .iter()
            .filter_map(|r| r.as_str().map(String::from))
            .collect();
        if required.is_empty() || path == "/action-run/callback" {
            // The callback authenticates by its run's token before reading.
            continue;
        }
        let (status, v) = send(&app, &path, b"{}").await;
        let message = v["error"]["message"].as_str().unwrap_or_default();
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (400, Some("InvalidParameter")),
            "{path} {{}}: {v}"
        );
        assert!(
            required.iter().any(|r| message.contains(r.as_str())),
            "{path}: the message names one of {required:?}: {message}"
        );
        checked.push(path);
    }
    for create in [
        "/channel/create",
        "/team/create",
        "/field/create",
        "/integration/webhook/create",
        "/integration/custom-action/create",
        "/channel/update",
        "/integration/webhook/update",
    ] {
        assert!(checked.iter().any(|p| p == create), "{create}: {checked:?}");
    }
}

async fn endpoints_without_a_host_are_refused(db: Db) {
    let app = TestApp::spawn(db).await;
    let (_, channel) = app
        .post("/channel/create", json!({"channel_name": "Ops"}))
        .await;
    let channel_id = channel["data"]["channel_id"].clone();
    for endpoint in ["http:///nohost", "http:/nohost", "https:x.example.com"] {
        for (path, body) in [
            (
                "/integration/webhook/create",
                json!({"kind": "incident", "name": "n", "endpoint": endpoint}),
            ),
            (
                "/integration/custom-action/create",
                json!({"name": "n", "endpoint": endpoint, "channel_ids": [channel_id]}),
            ),
        ] {
            let (status, v) = app.post(path, body).await;
            let message = v["error"]["message"].as_str().unwrap_or_default();
            assert_eq!(status, 400, "{path} {endpoint}: {v}");
            assert!(
                message.starts_with("endpoint") && message.contains("no host"),
                "{path} {endpoint}: {message}"
            );
        }
    }
}

/// Found on PostgreSQL: a NUL in a description failed the whole write batch,
/// and with it good requests that shared it. Good and bad requests race
/// here; every good one answered 200 is stored and pushed.
async fn bad_requests_never_fail_good_ones(db: Db) {
    let app = std::sync::Arc::new(TestApp::spawn(db).await);
    let rx = TestReceiver::start().await;
    app.ok(
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "rx", "endpoint": rx.url, "event_types": ["i_comm"]}),
    )
    .await;
    let id = app.incident("Shared by good and bad requests").await;
    let mut tasks = vec![];
    for t in 0..4 {
        let (good_app, good_id) = (app.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let (app, id) = (good_app, good_id);
            let mut ok = vec![];
            for n in 0..40 {
                let comment = format!("good {t}-{n}");
                let (status, v) = app
                    .post(
                        "/incident/comment",
                        json!({"incident_ids": [id], "comment": comment}),
                    )
                    .await;
                assert_eq!(status, 200, "{v}");
                ok.push(comment);
            }
            ok
        }));
        let (bad_app, bad_id) = (app.clone(), id.clone());
        tasks.push(tokio::spawn(async move {
            let (app, id) = (bad_app, bad_id);
            for n in 0..40 {
                let (status, _) = match n % 3 {
                    0 => {
                        app.post(
                            "/incident/comment",
                            json!({"incident_ids": [id], "comment": "bad\u{0}"}),
                        )
                        .await
                    }
                    1 => {
                        app.post(
                            "/incident/reset",
                            json!({"incident_id": id, "description": "bad\u{0}"}),
                        )
                        .await
                    }
                    _ => {
                        app.post(
                            "/incident/labels/update",
                            json!({"incident_id": id, "labels": {"k": "\u{0}"}}),
                        )
                        .await
                    }
                };
                assert_eq!(status, 400);
            }
            vec![]
        }));
    }
    let mut good = vec![];
    for t in tasks {
        good.extend(t.await.unwrap());
    }
    assert_eq!(good.len(), 160);
    assert_eq!(app.event_count().await, 161, "i_new and every good comment");
    let pushed: std::collections::HashSet<String> = rx
        .wait_for(160)
        .await
        .iter()
        .map(|r| r.header("webhook-id"))
        .collect();
    assert_eq!(pushed.len(), 160, "every good comment was pushed");
}
