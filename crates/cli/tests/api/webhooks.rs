//! Incident webhooks end to end: real pushes to a real local receiver.

use std::time::Duration;

use dutyhook_delivery::signature::{secret_key, verify};
use serde_json::{json, Value};

use crate::helpers::{now_s, Db, TestApp};
use crate::receiver::{Received, Reply, TestReceiver};

both_dbs!(
    pushes_are_the_outbox_payloads_signed,
    filters_by_channel_and_type,
    body_template_shapes_the_body,
    retries_keep_event_id_until_success,
    retry_after_sets_the_next_attempt_and_responses_are_capped,
    client_errors_are_final_and_410_disables,
);

pub(crate) async fn hook(app: &TestApp, url: &str, extra: Value) -> (i64, String) {
    let mut body = json!({"kind": "incident", "name": "test hook", "endpoint": url, "retry_policy": "backoff"});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    let d = app.ok("/integration/webhook/create", body).await;
    (
        d["integration_id"].as_i64().unwrap(),
        d["signing_secret"].as_str().unwrap().to_string(),
    )
}

pub(crate) fn check_signed(r: &Received, secret: &str) {
    let id = r.header("webhook-id");
    let ts: i64 = r.header("webhook-timestamp").parse().expect("timestamp");
    assert!((ts - now_s()).abs() < 60);
    let key = secret_key(secret).unwrap();
    assert!(
        verify(&key, &id, ts, &r.body, &r.header("webhook-signature")),
        "the signature verifies"
    );
}

async fn pushes_are_the_outbox_payloads_signed(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let (_, secret) = hook(
        &app,
        &rx.url,
        json!({"headers": [{"key": "X-Token", "value": "t0k", "secret": true}]}),
    )
    .await;
    let (bob, _) = app.person("Bob", "bob@example.com", "member").await;
    let inc = app.ok("/incident/create", json!({"title": "Pushed", "incident_severity": "Critical", "assigned_to": {"type": "assign", "person_ids": [bob]}})).await;
    let id = inc["incident_id"].as_str().unwrap().to_string();
    app.ok("/incident/ack", json!({"incident_ids": [id]})).await;
    app.ok(
        "/incident/comment",
        json!({"incident_ids": [id], "comment": "hi"}),
    )
    .await;
    app.ok("/incident/resolve", json!({"incident_ids": [id]}))
        .await;
    let outbox = app.store.events_after(0, 100).await.unwrap();
    let got = rx.wait_for(outbox.len()).await;
    assert_eq!(got.len(), 5);
    for (r, e) in got.iter().zip(&outbox) {
        assert_eq!(
            r.body.as_ref(),
            e.payload.as_bytes(),
            "the stored payload, byte for byte"
        );
        assert_eq!(r.header("webhook-id"), e.event_id.to_string());
        assert_eq!(r.header("content-type"), "application/json");
        assert!(r.header("user-agent").starts_with("dutyhook/"));
        assert_eq!(r.header("x-token"), "t0k");
        check_signed(r, &secret);
    }
    let types: Vec<String> = got
        .iter()
        .map(|r| r.json()["event_type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(types, ["i_new", "i_assign", "i_ack", "i_comm", "i_rslv"]);
}

async fn filters_by_channel_and_type(db: Db) {
    let app = TestApp::spawn(db).await;
    let (rx_a, rx_b) = (TestReceiver::start().await, TestReceiver::start().await);
    let ch1 = app.channel("One").await;
    let ch2 = app.channel("Two").await;
    hook(
        &app,
        &rx_a.url,
        json!({"channel_ids": [ch1], "event_types": ["i_ack"]}),
    )
    .await;
    hook(&app, &rx_b.url, json!({})).await;
    let a = app
        .ok(
            "/incident/create",
            json!({"title": "In one", "incident_severity": "Info", "channel_id": ch1}),
        )
        .await;
    let b = app
        .ok(
            "/incident/create",
            json!({"title": "In two", "incident_severity": "Info", "channel_id": ch2}),
        )
        .await;
    let ids = [a["incident_id"].clone(), b["incident_id"].clone()];
    app.ok("/incident/ack", json!({"incident_ids": ids})).await;
    rx_b.wait_for(4).await;
    let got = rx_a.wait_for(1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let got_a = rx_a.received();
    assert_eq!(got_a.len(), 1, "only i_ack in channel One");
    assert_eq!(got[0].json()["event_type"], json!("i_ack"));
    assert_eq!(got[0].json()["incident"]["channel_id"], json!(ch1));
    assert_eq!(rx_b.received().len(), 4);
    // A disabled webhook is not subscribed.
    let (c_id, _) = hook(&app, &rx_a.url, json!({"enabled": false})).await;
    let _ = c_id;
    app.incident("While disabled").await;
    rx_b.wait_for(5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx_a.received().len(), 1);
}

async fn body_template_shapes_the_body(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let tpl = r#"{"text": "[{{incident.incident_severity}}] {{incident.title}}", "labels": "{{incident.labels}}", "n": "{{incident.alert_cnt}}", "x": "{{nope}}"}"#;
    let (_, secret) = hook(&app, &rx.url, json!({"body_template": tpl})).await;
    app.ok(
        "/incident/create",
        json!({"title": "Templated", "incident_severity": "Warning"}),
    )
    .await;
    let got = rx.wait_for(1).await;
    assert_eq!(
        got[0].json(),
        json!({"text": "[Warning] Templated", "labels": {}, "n": 0, "x": "{{nope}}"})
    );
    check_signed(&got[0], &secret);
    let m = app.fails("/integration/webhook/create", json!({"kind": "incident", "name": "bad", "endpoint": rx.url, "body_template": "{\"a\": }"}), 400, "InvalidParameter").await;
    assert!(m.contains("body_template") && m.contains("line 1"), "{m}");
}

async fn retries_keep_event_id_until_success(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    rx.script([
        Reply::status(503),
        Reply {
            headers: vec![("retry-after", "0".into())],
            ..Reply::status(429)
        },
    ]);
    let (hid, _) = hook(&app, &rx.url, json!({})).await;
    app.incident("Flaky receiver").await;
    let got = rx.wait_for(3).await;
    let ids: Vec<String> = got.iter().map(|r| r.header("webhook-id")).collect();
    assert!(
        ids.iter().all(|i| i == &ids[0]),
        "same event_id on every attempt"
    );
    assert_eq!(got[0].body, got[2].body, "same body on every attempt");
    let hist = wait_history(&app, hid, 3).await;
    let attempts: Vec<(i64, String, i64)> = hist
        .iter()
        .map(|h| {
            (
                h["attempt"].as_i64().unwrap(),
                h["status"].as_str().unwrap().to_string(),
                h["http_status"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        attempts,
        [
            (3, "success".into(), 200),
            (2, "failure".into(), 429),
            (1, "failure".into(), 503)
        ],
        "newest first"
    );
    assert_eq!(hist[1]["error_class"], json!("http_status"));
}

/// A `Retry-After` replaces the backoff's next delay (the test schedule
/// scales both by 1/1000: 2,000 s becomes 2 s, against 5 ms without it),
/// and a response body is kept up to 64 KiB.
async fn retry_after_sets_the_next_attempt_and_responses_are_capped(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    rx.script([
        Reply {
            headers: vec![("retry-after", "2000".into())],
            body: "x".repeat(100_000),
            ..Reply::status(503)
        },
        Reply::status(200),
    ]);
    let (hid, _) = hook(&app, &rx.url, json!({})).await;
    app.incident("Busy receiver").await;
    let first = wait_history(&app, hid, 1).await[0].clone();
    let info = app
        .ok(
            "/integration/history/info",
            json!({"invocation_id": first["invocation_id"]}),
        )
        .await;
    let started = info["started_at"].as_i64().unwrap();
    let next = info["next_attempt_at"].as_i64().unwrap();
    assert_eq!(info["delivery_state"], json!("pending"), "{info}");
    assert!(
        next - started >= 2_000 && next - started < 60_000,
        "next attempt {} ms after the first started",
        next - started
    );
    let body = info["response"]["body"].as_str().unwrap();
    assert_eq!(
        (body.len(), info["response"]["truncated"].clone()),
        (64 * 1024, json!(true))
    );
    let hist = wait_history(&app, hid, 2).await;
    assert_eq!(hist[0]["status"], json!("success"));
    assert!(hist[0]["started_at"].as_i64().unwrap() >= next);
}

pub(crate) async fn wait_history(app: &TestApp, integration_id: i64, n: usize) -> Vec<Value> {
    for _ in 0..2000 {
        let h = app.ok("/integration/history/list", json!({"integration_id": integration_id, "start_time": now_s() - 600, "end_time": now_s() + 600, "limit": 100})).await;
        let items = h["items"].as_array().unwrap().clone();
        if items.len() >= n {
            return items;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("history never reached {n} records");
}

async fn client_errors_are_final_and_410_disables(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    rx.script([Reply::status(404)]);
    let (hid, _) = hook(&app, &rx.url, json!({})).await;
    app.incident("Not found there").await;
    wait_history(&app, hid, 1).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.received().len(), 1, "a 404 is not retried");
    rx.script([Reply::status(410)]);
    app.incident("Gone").await;
    wait_history(&app, hid, 2).await;
    let info = app
        .ok("/integration/webhook/info", json!({"integration_id": hid}))
        .await;
    assert_eq!(info["enabled"], json!(false));
    assert!(
        info["disabled_reason"].as_str().unwrap().contains("410"),
        "{info}"
    );
    app.incident("After gone").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(rx.received().len(), 2, "disabled: no more pushes");
    app.ok(
        "/integration/webhook/enable",
        json!({"integration_id": hid}),
    )
    .await;
    app.incident("Enabled again").await;
    rx.wait_for(3).await;
}
