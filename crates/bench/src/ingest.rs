//! The alert storm scenario.

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::receiver::{start_receiver, Receiver};
use crate::server::Server;
use crate::stats::latency_summary;
use crate::Args;

/// A storm of standard alert events from `ingest_clients` senders for
/// `ingest_seconds`: 2,000 alert keys over 50 services, grouped by service,
/// one event in ten a recovery. An alert webhook and an incident webhook push
/// to the fast receiver. Afterwards the database and the receiver are counted:
/// every accepted event is stored, every recorded event was pushed once.
pub(crate) async fn ingest(args: &Args) -> Value {
    let server = Server::start(args);
    let rx = Arc::new(Receiver::default());
    let base = start_receiver(rx.clone()).await;
    let api = server.api();
    let channel = api
        .call(
            "/channel/create",
            json!({"channel_name": "storm", "grouping": {"method": "p", "dimensions": ["labels.service"]},
                   "storm_thresholds": [100, 1000, 10000]}),
        )
        .await["channel_id"]
        .clone();
    let key = api
        .call(
            "/integration/alert-source/create",
            json!({"name": "bench", "source_type": "standard", "channel_id": channel}),
        )
        .await["integration_key"]
        .as_str()
        .unwrap()
        .to_string();
    for (n, kind) in [(0, "alert"), (1, "incident")] {
        api.call(
            "/integration/webhook/create",
            json!({"kind": kind, "name": format!("bench {kind}"), "endpoint": format!("{base}/e/{n}"), "timeout_ms": 1000}),
        )
        .await;
    }
    let url = format!(
        "{}/event/push/alert/standard?integration_key={key}",
        api.base
    );
    let deadline = Instant::now() + Duration::from_secs(args.ingest_seconds);
    let start = Instant::now();
    let progress = Arc::new(AtomicU64::new(0));
    let sampler = {
        let progress = progress.clone();
        tokio::spawn(async move {
            let mut per_5s = vec![];
            let mut last = 0;
            while Instant::now() < deadline {
                tokio::time::sleep(Duration::from_secs(5)).await;
                let now = progress.load(Ordering::Relaxed);
                per_5s.push((now - last) as f64 / 5.0);
                last = now;
            }
            per_5s
        })
    };
    let mut senders = vec![];
    let clients = args.ingest_clients;
    for c in 0..clients {
        let (client, url, progress) = (api.client.clone(), url.clone(), progress.clone());
        senders.push(tokio::spawn(async move {
            let (mut accepted, mut refused, mut noop, mut lat) = (0u64, 0u64, 0u64, vec![]);
            // Each sender owns its keys, so it knows which are open: an `Ok`
            // for a key with nothing open is accepted and stores nothing.
            let mut open = HashSet::new();
            let mut i = c as u64;
            while Instant::now() < deadline {
                // A cheap spread of keys and statuses, the same on every run.
                i = i.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                let k = ((i >> 33) % (2000 / clients as u64)) * clients as u64 + c as u64;
                let status = match (i >> 20) % 10 {
                    0 => "Ok",
                    1..=3 => "Critical",
                    _ => "Warning",
                };
                let body = json!({"title_rule": format!("check {k} on $service"), "event_status": status,
                                  "alert_key": format!("k{k}"), "description": "bench",
                                  "labels": {"service": format!("svc{}", k % 50), "host": format!("h{k}")}});
                let t = Instant::now();
                let r = client.post(&url).json(&body).send().await;
                let ok = match r {
                    Ok(r) => r.status().is_success() && r.bytes().await.is_ok(),
                    Err(_) => false,
                };
                lat.push(t.elapsed().as_micros() as u64);
                if !ok {
                    refused += 1;
                    continue;
                }
                accepted += 1;
                progress.fetch_add(1, Ordering::Relaxed);
                if status != "Ok" {
                    open.insert(k);
                } else if !open.remove(&k) {
                    noop += 1;
                }
            }
            (accepted, refused, noop, lat)
        }));
    }
    let (mut accepted, mut refused, mut noop, mut lat) = (0, 0, 0, vec![]);
    for c in senders {
        let (a, r, n, mut l) = c.await.unwrap();
        accepted += a;
        refused += r;
        noop += n;
        lat.append(&mut l);
    }
    let elapsed = start.elapsed().as_secs_f64();
    let per_5s = sampler.await.unwrap();
    let drain = Instant::now();
    while api.pending().await > 0 && drain.elapsed() < Duration::from_secs(300) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let drain_seconds = drain.elapsed().as_secs_f64();
    // The query of a SQLite URL holds dutyhook's own options; sqlx wants none.
    let url = match server.db.split_once('?') {
        Some((file, _)) if server.db.starts_with("sqlite:") => file,
        _ => server.db.as_str(),
    };
    let db = sqlx::AnyPool::connect(url).await;
    let counts = match db {
        Ok(db) => {
            let count = |sql: &'static str| {
                let db = db.clone();
                async move {
                    sqlx::query_as::<_, (i64,)>(sql)
                        .fetch_one(&db)
                        .await
                        .map(|(n,)| n)
                        .unwrap_or(-1)
                }
            };
            json!({
                "raw_events_stored": count("SELECT COUNT(*) FROM alert_events").await,
                "alerts": count("SELECT COUNT(*) FROM alerts").await,
                "incidents": count("SELECT COUNT(*) FROM incidents").await,
                "alert_events_recorded": count("SELECT COUNT(*) FROM events WHERE subject_kind = 'alert'").await,
                "incident_events_recorded": count("SELECT COUNT(*) FROM events WHERE subject_kind = 'incident'").await,
            })
        }
        Err(e) => json!({"error": e.to_string()}),
    };
    let ids = rx.event_ids.lock().unwrap();
    let distinct = |n: u32| ids.get(&n).map_or(0, |s| s.len()) as i64;
    let lost = counts["raw_events_stored"].as_i64() != Some((accepted - noop) as i64)
        || counts["alert_events_recorded"].as_i64() != Some(distinct(0))
        || counts["incident_events_recorded"].as_i64() != Some(distinct(1));
    json!({
        "seconds": elapsed,
        "clients": args.ingest_clients,
        "events_accepted": accepted,
        "events_refused": refused,
        "recoveries_of_nothing_open": noop,
        "events_per_second": accepted as f64 / elapsed,
        "events_per_second_by_5s": per_5s,
        "ingest_latency": latency_summary(&lat),
        "database": counts,
        "alert_pushes_distinct": distinct(0),
        "incident_pushes_distinct": distinct(1),
        "pushes_received": rx.count.load(Ordering::Relaxed),
        "drain_seconds_after_load": drain_seconds,
        "nothing_lost": !lost,
        "peak_rss_mb": server.peak_rss_mb(),
    })
}
