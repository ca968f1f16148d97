//! Async runs on several processes of one PostgreSQL database: a run past
//! its deadline becomes timed_out once, whichever processes look.

use std::time::Duration;

use serde_json::{json, Value};

use crate::cli::{action_and_incident, api, key_of, start_serve_with};
use crate::helpers::{Db, TestDb};
use crate::receiver::TestReceiver;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_time_a_run_out_once() {
    let db = TestDb::new(Db::Postgres).await;
    let (_a, addr_a, printed) = start_serve_with(&db.url, &[]);
    let key = key_of(&printed);
    let (_b, addr_b, _) = start_serve_with(&db.url, &[]);
    let rx = TestReceiver::start().await;
    let (action, inc) = action_and_incident(
        &addr_a,
        &key,
        json!({"name": "Canary", "endpoint": rx.url, "mode": "async", "async_deadline_s": 10}),
        "Slow canary",
    )
    .await;
    for addr in [&addr_a, &addr_b, &addr_a] {
        api(
            addr,
            &key,
            "/incident/action/trigger",
            json!({"incident_id": inc, "action_id": action}),
        )
        .await;
    }
    // Nobody reports: after 10 s every run times out.
    let mut runs = Value::Null;
    for _ in 0..120 {
        runs = api(
            &addr_b,
            &key,
            "/incident/action/run/list",
            json!({"incident_id": inc}),
        )
        .await;
        if runs["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == json!("timed_out"))
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let items = runs["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert!(
        items.iter().all(|r| r["status"] == json!("timed_out")),
        "{runs}"
    );
    // Give a second process time to (wrongly) end them again.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let feed = api(
        &addr_a,
        &key,
        "/incident/feed",
        json!({"incident_id": inc, "limit": 100}),
    )
    .await;
    let timed_out = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == json!("i_custom") && e["detail"]["status"] == json!("timed_out"))
        .count();
    assert_eq!(timed_out, 3, "once per run: {feed}");
    let store = dutyhook_store::open(&db.url, db.keyring()).await.unwrap();
    let events = store.events_after(0, 100_000).await.unwrap();
    let timed_out_events = events
        .iter()
        .filter(|e| e.payload.contains("\"status\":\"timed_out\""))
        .count();
    assert_eq!(timed_out_events, 3, "one i_custom per run");
    store.close().await;
}

/// Presses `action` on `inc` `n` times at once, alternately through each
/// process; answers the error codes ("" for a run made).
async fn presses_at_once(
    addrs: &[&str],
    key: &str,
    inc: &Value,
    action: &Value,
    n: usize,
) -> Vec<String> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let url = format!("http://{}/incident/action/trigger", addrs[i % addrs.len()]);
            let request = reqwest::Client::new()
                .post(url)
                .bearer_auth(key)
                .json(&json!({"incident_id": inc, "action_id": action}));
            tokio::spawn(async move {
                let body: Value = request.send().await.unwrap().json().await.unwrap();
                body["error"]["code"].as_str().unwrap_or("").to_string()
            })
        })
        .collect();
    let mut codes = vec![];
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    codes
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_keep_the_cooldown_and_the_hourly_cap() {
    let db = TestDb::new(Db::Postgres).await;
    let (_a, addr_a, printed) = start_serve_with(&db.url, &[]);
    let key = key_of(&printed);
    let (_b, addr_b, _) = start_serve_with(&db.url, &[]);
    let rx = TestReceiver::start().await;
    let (capped, inc) = action_and_incident(
        &addr_a,
        &key,
        json!({"name": "Page vendor", "endpoint": rx.url, "max_runs_per_hour": 3, "cooldown_s": 600}),
        "Vendor down",
    )
    .await;
    // One incident: the cooldown lets one run through.
    let codes = presses_at_once(&[&addr_a, &addr_b], &key, &inc, &capped, 20).await;
    let made = codes.iter().filter(|c| c.is_empty()).count();
    assert_eq!(made, 1, "{codes:?}");
    assert!(
        codes
            .iter()
            .all(|c| c.is_empty() || c == "RequestTooFrequently"),
        "{codes:?}"
    );
    // Twenty incidents at once: the cap lets two more through.
    let channel = api(&addr_a, &key, "/incident/info", json!({"incident_id": inc})).await
        ["channel_id"]
        .clone();
    let mut incidents = vec![];
    for i in 0..20 {
        let body = json!({"title": format!("Vendor down {i}"), "incident_severity": "Warning", "channel_id": channel});
        incidents.push(api(&addr_b, &key, "/incident/create", body).await["incident_id"].clone());
    }
    let mut tasks = vec![];
    for (i, inc) in incidents.iter().enumerate() {
        let addr = if i % 2 == 0 {
            addr_a.clone()
        } else {
            addr_b.clone()
        };
        let (key, inc, capped) = (key.clone(), inc.clone(), capped.clone());
        tasks.push(tokio::spawn(async move {
            presses_at_once(&[&addr], &key, &inc, &capped, 1)
                .await
                .pop()
                .unwrap()
        }));
    }
    let mut codes = vec![];
    for t in tasks {
        codes.push(t.await.unwrap());
    }
    assert_eq!(
        codes.iter().filter(|c| c.is_empty()).count(),
        2,
        "{codes:?}"
    );
    assert_eq!(rx.received().len(), 3, "three calls in the hour");
}
