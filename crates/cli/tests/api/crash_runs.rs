//! Killing the process (SIGKILL) while async runs are open and their
//! endpoints report loses no run and no status: every callback answered
//! before the kill is kept, and the runs finish after the restart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{json, Value};

use crate::cli::{action_and_incident, api, key_of, start_serve};
use crate::helpers::{Db, TestDb};
use crate::receiver::TestReceiver;

both_dbs!(kill_with_open_runs_loses_no_status);

async fn post_callback(
    client: &reqwest::Client,
    addr: &str,
    token: &str,
    body: &Value,
) -> Option<Value> {
    let resp = client
        .post(format!("http://{addr}/action-run/callback"))
        .bearer_auth(token)
        .json(body)
        .send()
        .await
        .ok()?;
    let v: Value = resp.json().await.ok()?;
    v.get("data").cloned()
}

async fn kill_with_open_runs_loses_no_status(db: Db) {
    let db = TestDb::new(db).await;
    let (mut serve, addr, printed) = start_serve(&db.url);
    let key = key_of(&printed);
    let rx = TestReceiver::start().await;
    let (action, inc) = action_and_incident(
        &addr,
        &key,
        json!({"name": "Export logs", "endpoint": rx.url, "mode": "async", "async_deadline_s": 3600}),
        "Logs needed",
    )
    .await;
    let runs = 12;
    for _ in 0..runs {
        api(
            &addr,
            &key,
            "/incident/action/trigger",
            json!({"incident_id": inc, "action_id": action}),
        )
        .await;
    }
    let tokens: Vec<String> = rx
        .wait_for(runs)
        .await
        .iter()
        .map(|p| {
            p.json()["run"]["callback_token"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();

    // Each run reports progress, then success, from its own task; the
    // process dies while they do. What was answered is remembered.
    let answered: Arc<Mutex<HashMap<String, Value>>> = Default::default();
    let client = reqwest::Client::new();
    let mut tasks = vec![];
    for token in tokens.clone() {
        let (client, addr, answered) = (client.clone(), addr.clone(), answered.clone());
        tasks.push(tokio::spawn(async move {
            for p in (10..=90).step_by(10) {
                let body = json!({"status": "running", "progress": p, "message": format!("{p}% exported")});
                let Some(d) = post_callback(&client, &addr, &token, &body).await else { return };
                answered.lock().unwrap().insert(d["run_id"].as_str().unwrap().to_string(), d);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            let body = json!({"status": "succeeded", "message": "exported"});
            if let Some(d) = post_callback(&client, &addr, &token, &body).await {
                answered.lock().unwrap().insert(d["run_id"].as_str().unwrap().to_string(), d);
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    serve.kill();
    for t in tasks {
        t.await.unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    assert!(
        !answered.is_empty(),
        "callbacks were answered before the kill"
    );

    // After the restart: every run is there, at least as far as it was answered.
    let (mut serve, addr, _) = start_serve(&db.url);
    let listed = api(
        &addr,
        &key,
        "/incident/action/run/list",
        json!({"incident_id": inc}),
    )
    .await;
    let items = listed["items"].as_array().unwrap();
    assert_eq!(items.len(), runs, "no run lost");
    for run in items {
        if let Some(last) = answered.get(run["run_id"].as_str().unwrap()) {
            if last["status"] == json!("succeeded") {
                assert_eq!(run["status"], json!("succeeded"), "{run}");
            } else {
                assert!(
                    run["progress"].as_i64() >= last["progress"].as_i64(),
                    "answered {last}, kept {run}"
                );
            }
        }
    }
    // The runs still open finish now, with the same tokens.
    for token in &tokens {
        let body = json!({"status": "succeeded", "message": "exported"});
        let _ = post_callback(&client, &addr, token, &body).await;
    }
    let listed = api(
        &addr,
        &key,
        "/incident/action/run/list",
        json!({"incident_id": inc}),
    )
    .await;
    assert!(
        listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["status"] == json!("succeeded")),
        "{listed}"
    );
    serve.kill();
}
