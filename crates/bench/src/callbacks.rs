//! Callbacks of long-running custom actions: N async runs, each reported on
//! with five callbacks (four while running, one final) by C concurrent
//! clients; the time from sending a callback to its answer.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Bytes;
use serde_json::{json, Value};

use crate::server::Server;
use crate::stats::latency_summary;
use crate::Args;

/// The callbacks of one run, in order: progress with and without a message,
/// then success.
fn reports() -> [Value; 5] {
    [
        json!({"status": "running", "progress": 20, "message": "step 1 of 4"}),
        json!({"status": "running", "progress": 40}),
        json!({"status": "running", "progress": 60, "message": "step 3 of 4"}),
        json!({"status": "running", "progress": 80}),
        json!({"status": "succeeded", "message": "done"}),
    ]
}

/// An endpoint that acknowledges at once and keeps each run's token.
async fn start_endpoint(tokens: Arc<Mutex<Vec<String>>>) -> String {
    let app = axum::Router::new().fallback(move |body: Bytes| {
        let tokens = tokens.clone();
        async move {
            if let Ok(v) = serde_json::from_slice::<Value>(&body) {
                if let Some(t) = v["run"]["callback_token"].as_str() {
                    tokens.lock().unwrap().push(t.to_string());
                }
            }
            "accepted"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

pub(crate) async fn callbacks(args: &Args, runs: usize, clients: usize) -> Value {
    let server = Server::start(args);
    let tokens: Arc<Mutex<Vec<String>>> = Default::default();
    let endpoint = start_endpoint(tokens.clone()).await;
    let api = server.api();
    let channel = api
        .call("/channel/create", json!({"channel_name": "bench"}))
        .await["channel_id"]
        .clone();
    let action = api
        .call(
            "/integration/custom-action/create",
            json!({"name": "bench", "channel_ids": [channel], "endpoint": endpoint,
                   "mode": "async", "async_deadline_s": 3600}),
        )
        .await["integration_id"]
        .clone();
    // Ten runs per incident, as a busy incident would have.
    let mut incidents = vec![];
    for i in 0..runs.div_ceil(10) {
        let d = api
            .call(
                "/incident/create",
                json!({"title": format!("bench incident {i}"), "incident_severity": "Info", "channel_id": channel}),
            )
            .await;
        incidents.push(d["incident_id"].clone());
    }
    for n in 0..runs {
        let r = api
            .call(
                "/incident/action/trigger",
                json!({"incident_id": incidents[n / 10], "action_id": action}),
            )
            .await;
        assert_eq!(r["status"], json!("running"), "{r}");
    }
    let queue = Arc::new(Mutex::new(std::mem::take(&mut *tokens.lock().unwrap())));
    assert_eq!(queue.lock().unwrap().len(), runs, "a token per run");
    let url = format!("{}/action-run/callback", api.base);
    let start = Instant::now();
    let mut tasks = vec![];
    for _ in 0..clients {
        let (queue, url) = (queue.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            let client = reqwest::Client::new();
            let mut took = vec![];
            loop {
                let Some(token) = queue.lock().unwrap().pop() else {
                    return took;
                };
                for body in reports() {
                    let t = Instant::now();
                    let resp = client
                        .post(&url)
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await
                        .expect("callback");
                    let ok = resp.status().is_success();
                    let text = resp.text().await.unwrap_or_default();
                    took.push(t.elapsed().as_micros() as u64);
                    assert!(ok, "callback refused: {text}");
                }
            }
        }));
    }
    let mut took = vec![];
    for t in tasks {
        took.extend(t.await.unwrap());
    }
    let secs = start.elapsed().as_secs_f64();
    // Every run ended, with its timeline.
    let mut succeeded = 0;
    for inc in &incidents {
        let listed = api
            .call("/incident/action/run/list", json!({"incident_id": inc}))
            .await;
        succeeded += listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["status"] == json!("succeeded"))
            .count();
    }
    json!({
        "runs": runs,
        "clients": clients,
        "callbacks": took.len(),
        "callbacks_per_s": (took.len() as f64 / secs).round(),
        "latency": latency_summary(&took),
        "runs_succeeded": succeeded,
        "peak_rss_mb": server.peak_rss_mb(),
    })
}
