//! The soak: minutes of mixed load — incident operations, alert bursts,
//! custom action triggers — against one healthy, one flapping and one dead
//! endpoint; samples the server's memory over time, then counts every
//! event of the outbox against what each receiver got (by `event_id`).

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::StatusCode;
use serde_json::{json, Value};
use sqlx::Row;

use crate::receiver::{blackhole, find_str};
use crate::server::{Api, Server};
use crate::Args;

/// A receiver that records the `event_id`s it accepted; when `flap` is set
/// it answers 500 for 10 s out of every 37 s.
#[derive(Default)]
struct Sink {
    accepted: Mutex<HashSet<String>>,
    answered: AtomicU64,
    refused: AtomicU64,
    flap: bool,
}

async fn start_sink(sink: Arc<Sink>, started: Instant) -> String {
    let app = axum::Router::new().fallback(move |body: Bytes| {
        let sink = sink.clone();
        async move {
            sink.answered.fetch_add(1, Ordering::Relaxed);
            if sink.flap && started.elapsed().as_secs() % 37 < 10 {
                sink.refused.fetch_add(1, Ordering::Relaxed);
                return (StatusCode::INTERNAL_SERVER_ERROR, "flapping");
            }
            if let Some(id) = find_str(&body, "\"event_id\":\"") {
                sink.accepted.lock().unwrap().insert(id.to_string());
            }
            (StatusCode::OK, "ok")
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn metrics(api: &Api) -> String {
    api.client
        .get(format!("{}/metrics", api.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// `dutyhook_pushes_total` by kind and outcome.
fn pushes_by_outcome(text: &str) -> Value {
    let mut out = serde_json::Map::new();
    for line in text
        .lines()
        .filter(|l| l.starts_with("dutyhook_pushes_total{"))
    {
        let (labels, n) = line.rsplit_once(' ').unwrap();
        out.insert(
            labels
                .trim_start_matches("dutyhook_pushes_total")
                .to_string(),
            json!(n.parse::<f64>().unwrap_or(0.0)),
        );
    }
    Value::Object(out)
}

/// Deliveries of one integration by state, straight from the database.
async fn delivery_states(db: &str, integration_id: i64) -> Value {
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(db)
        .await
        .expect("the soak reads the database");
    let rows = sqlx::query(&format!(
        "SELECT state, COUNT(*) AS n FROM deliveries WHERE integration_id = {integration_id} GROUP BY state"
    ))
    .fetch_all(&mut conn)
    .await
    .unwrap();
    let mut out = serde_json::Map::new();
    for r in rows {
        out.insert(r.get::<String, _>("state"), json!(r.get::<i64, _>("n")));
    }
    Value::Object(out)
}

async fn event_ids(db: &str, subject_kind: &str) -> HashSet<String> {
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(db)
        .await
        .unwrap();
    sqlx::query(&format!(
        "SELECT event_id FROM events WHERE subject_kind = '{subject_kind}'"
    ))
    .fetch_all(&mut conn)
    .await
    .unwrap()
    .iter()
    .map(|r| r.get::<String, _>("event_id"))
    .collect()
}

fn sqlite_path_only(db: &str) -> String {
    db.split('?').next().unwrap().to_string()
}

pub async fn soak(args: &Args) -> Value {
    let server = Server::start(args);
    let api = server.api();
    let started = Instant::now();
    let healthy = Arc::new(Sink::default());
    let flapping = Arc::new(Sink {
        flap: true,
        ..Default::default()
    });
    let healthy_url = start_sink(healthy.clone(), started).await;
    let flapping_url = start_sink(flapping.clone(), started).await;
    let dead_url = blackhole().await;

    let channel = api
        .call(
            "/channel/create",
            json!({"channel_name": "soak", "grouping": {"method": "p", "dimensions": ["labels.service"]},
                   "storm_thresholds": [50, 500]}),
        )
        .await["channel_id"]
        .clone();
    let hook = |name: &str, kind: &str, endpoint: &str, timeout_ms: u64| {
        let api = api.clone();
        let body =
            json!({"kind": kind, "name": name, "endpoint": endpoint, "timeout_ms": timeout_ms});
        async move {
            api.call("/integration/webhook/create", body).await["integration_id"]
                .as_i64()
                .unwrap()
        }
    };
    let healthy_id = hook("healthy", "incident", &healthy_url, 2000).await;
    let flapping_id = hook("flapping", "incident", &flapping_url, 2000).await;
    let dead_id = hook("dead", "incident", &dead_url, 1000).await;
    let alerts_id = hook("alerts", "alert", &healthy_url, 2000).await;
    let action = api
        .call(
            "/integration/custom-action/create",
            json!({"name": "Restart", "channel_ids": [channel], "endpoint": healthy_url}),
        )
        .await["integration_id"]
        .clone();
    let key = api
        .call(
            "/integration/alert-source/create",
            json!({"name": "soak", "source_type": "standard", "channel_id": channel}),
        )
        .await["integration_key"]
        .as_str()
        .unwrap()
        .to_string();

    let minutes = args.soak_minutes;
    let deadline = started + Duration::from_secs(minutes * 60);
    let stop = Arc::new(AtomicBool::new(false));
    let ops = Arc::new(AtomicU64::new(0));

    // Incident operations: create, comment, acknowledge, resolve.
    let incidents = {
        let (api, stop, ops, channel) = (api.clone(), stop.clone(), ops.clone(), channel.clone());
        tokio::spawn(async move {
            let mut open: Vec<String> = vec![];
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                i += 1;
                let d = api
                    .call(
                        "/incident/create",
                        json!({"title": format!("soak incident {i}"), "incident_severity": "Warning", "channel_id": channel}),
                    )
                    .await;
                open.push(d["incident_id"].as_str().unwrap().to_string());
                let id = open[(i as usize * 7) % open.len()].clone();
                api.call(
                    "/incident/comment",
                    json!({"incident_ids": [id], "comment": format!("note {i}")}),
                )
                .await;
                if i.is_multiple_of(3) {
                    api.call("/incident/ack", json!({"incident_ids": [id]}))
                        .await;
                }
                if open.len() > 50 {
                    let done = open.remove(0);
                    api.call("/incident/resolve", json!({"incident_ids": [done]}))
                        .await;
                }
                ops.fetch_add(1, Ordering::Relaxed);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    // Alert bursts: 200 events every 10 s over 50 keys.
    let bursts = {
        let (api, stop, key) = (api.clone(), stop.clone(), key.clone());
        tokio::spawn(async move {
            let url = format!(
                "{}/event/push/alert/standard?integration_key={key}",
                api.base
            );
            let mut round = 0u64;
            while !stop.load(Ordering::Relaxed) {
                round += 1;
                for n in 0..200u64 {
                    let k = (round * 13 + n) % 50;
                    let status = if n.is_multiple_of(7) {
                        "Ok"
                    } else {
                        "Critical"
                    };
                    let _ = api
                        .client
                        .post(&url)
                        .json(&json!({"title_rule": format!("check {k}"), "event_status": status,
                                      "alert_key": format!("k{k}"), "labels": {"service": format!("s{}", k % 5)}}))
                        .send()
                        .await;
                }
                tokio::time::sleep(Duration::from_secs(10)).await;
            }
        })
    };
    // Custom action triggers: one every 2 s on a fresh incident.
    let triggers = {
        let (api, stop, channel, action) =
            (api.clone(), stop.clone(), channel.clone(), action.clone());
        tokio::spawn(async move {
            let (mut ok, mut failed) = (0u64, 0u64);
            while !stop.load(Ordering::Relaxed) {
                let inc = api
                    .call(
                        "/incident/create",
                        json!({"title": "soak action", "incident_severity": "Info", "channel_id": channel}),
                    )
                    .await["incident_id"]
                    .clone();
                let r = api
                    .call(
                        "/incident/action/trigger",
                        json!({"incident_id": inc, "action_id": action}),
                    )
                    .await;
                if r["success"] == json!(true) {
                    ok += 1;
                } else {
                    failed += 1;
                }
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
            (ok, failed)
        })
    };

    let mut samples = vec![];
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_secs(30).min(deadline - Instant::now())).await;
        let pending = api.pending().await;
        let s = json!({"minute": (started.elapsed().as_secs_f64() / 60.0 * 10.0).round() / 10.0,
                       "rss_mb": (server.rss_mb() * 10.0).round() / 10.0,
                       "incident_ops": ops.load(Ordering::Relaxed),
                       "healthy_received": healthy.accepted.lock().unwrap().len(),
                       "pending": pending});
        eprintln!("soak: {s}");
        samples.push(s);
    }
    stop.store(true, Ordering::Relaxed);
    let _ = incidents.await;
    let _ = bursts.await;
    let (actions_ok, actions_failed) = triggers.await.unwrap();

    // Let the healthy and flapping endpoints catch up (the flapping one
    // waits out its retries), then count.
    let db = if server.db.starts_with("sqlite") {
        sqlite_path_only(&server.db)
    } else {
        server.db.clone()
    };
    let drain_until = Instant::now() + Duration::from_secs(args.soak_drain_seconds);
    loop {
        let h = delivery_states(&db, healthy_id).await;
        let f = delivery_states(&db, flapping_id).await;
        let waiting = |v: &Value| {
            v.as_object()
                .unwrap()
                .iter()
                .filter(|(k, _)| !matches!(k.as_str(), "done" | "failed"))
                .filter_map(|(_, n)| n.as_i64())
                .sum::<i64>()
        };
        if (waiting(&h) == 0 && waiting(&f) == 0) || Instant::now() > drain_until {
            break;
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    let incident_events = event_ids(&db, "incident").await;
    let alert_events = event_ids(&db, "alert").await;
    let healthy_got = healthy.accepted.lock().unwrap().clone();
    let flapping_got = flapping.accepted.lock().unwrap().clone();
    let account = |name: &str, expected: &HashSet<String>, got: &HashSet<String>, states: Value| {
        let arrived = expected.intersection(got).count() as i64;
        // Not yet settled: pending, leased, or waiting behind its incident's head.
        let failed = states["failed"].as_i64().unwrap_or(0);
        let fanned_out: i64 = states
            .as_object()
            .unwrap()
            .values()
            .filter_map(Value::as_i64)
            .sum();
        let waiting = fanned_out - states["done"].as_i64().unwrap_or(0) - failed;
        json!({"endpoint": name, "events": expected.len(), "deliveries": fanned_out,
               "arrived": arrived, "still_pending": waiting, "gave_up": failed,
               "lost": expected.len() as i64 - arrived - waiting - failed, "states": states})
    };
    let final_metrics = metrics(&api).await;
    let rss: Vec<f64> = samples
        .iter()
        .filter_map(|s| s["rss_mb"].as_f64())
        .collect();
    let warm = rss.len() / 5;
    json!({
        "minutes": minutes,
        "database": if server.db.starts_with("sqlite") { "sqlite" } else { "postgres" },
        "incident_operations": ops.load(Ordering::Relaxed),
        "custom_actions": {"success": actions_ok, "failure": actions_failed},
        "rss_mb": {"after_warm_up": rss.get(warm), "max": rss.iter().cloned().fold(0.0, f64::max),
                   "last": rss.last(), "peak_hwm": server.peak_rss_mb()},
        "accounting": [
            account("healthy (incident)", &incident_events, &healthy_got, delivery_states(&db, healthy_id).await),
            account("flapping (incident)", &incident_events, &flapping_got, delivery_states(&db, flapping_id).await),
            account("dead (incident)", &incident_events, &HashSet::new(), delivery_states(&db, dead_id).await),
            account("healthy (alert)", &alert_events, &healthy_got, delivery_states(&db, alerts_id).await),
        ],
        "flapping_refused": flapping.refused.load(Ordering::Relaxed),
        "pushes_by_outcome": pushes_by_outcome(&final_metrics),
        "samples": samples,
    })
}
