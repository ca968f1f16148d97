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
