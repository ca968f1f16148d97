//! The delivery scenarios: throughput, paced latency, a backlog, custom action triggers.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::receiver::{blackhole, micros, start_receiver, Receiver};
use crate::server::{Api, Server};
use crate::stats::{latency_summary, slow_seconds};
use crate::Args;

/// A server, a receiver, `incidents` incidents and one webhook per endpoint
/// (subscribed to `i_comm`, so only the load's comments are pushed).
pub(crate) async fn setup(
    args: &Args,
    endpoints: u32,
    incidents: usize,
) -> (Server, Arc<Receiver>, Api, Vec<String>) {
    let server = Server::start(args);
    let rx = Arc::new(Receiver::default());
    let base = start_receiver(rx.clone()).await;
    let api = server.api();
    let ids = api.incidents(incidents).await;
    for n in 0..endpoints {
        api.webhook(&format!("{base}/e/{n}"), 1000).await;
    }
    (server, rx, api, ids)
}

/// Saturating load: comments on 100 incidents per call (100 events per
/// transaction), from 4 clients, for `seconds`. Answers pushes/s delivered.
pub(crate) async fn throughput(args: &Args, endpoints: u32) -> Value {
    let (server, rx, api, ids) = setup(args, endpoints, 100).await;
    let deadline = Instant::now() + Duration::from_secs(args.seconds);
    let offered = Arc::new(AtomicU64::new(0));
    let mut clients = vec![];
    for _ in 0..4 {
        let (api, ids, offered, rx) = (api.clone(), ids.clone(), offered.clone(), rx.clone());
        clients.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                // Keep the backlog bounded so the figure is a sustained rate, not a queue filling up.
                api.call(
                    "/incident/comment",
                    json!({"incident_ids": ids, "comment": format!("t={}", micros())}),
                )
                .await;
                offered.fetch_add(100, Ordering::Relaxed);
                while offered.load(Ordering::Relaxed) * endpoints as u64
                    > rx.count.load(Ordering::Relaxed) + 20_000
                    && Instant::now() < deadline
                {
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
            }
        }));
    }
    let start = Instant::now();
    let before = rx.count.load(Ordering::Relaxed);
    for c in clients {
        c.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let delivered_in_window = rx.count.load(Ordering::Relaxed) - before;
    let expected = offered.load(Ordering::Relaxed) * endpoints as u64;
    let drain_start = Instant::now();
    while rx.count.load(Ordering::Relaxed) < expected
        && drain_start.elapsed() < Duration::from_secs(120)
    {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let all = rx
        .latencies_us
        .lock()
        .unwrap()
        .values()
        .flatten()
        .map(|(_, us)| *us)
        .collect::<Vec<_>>();
    json!({
        "endpoints": endpoints,
        "seconds": elapsed,
        "events_offered": offered.load(Ordering::Relaxed),
        "pushes_expected": expected,
        "pushes_received": rx.count.load(Ordering::Relaxed),
        "pushes_per_second": delivered_in_window as f64 / elapsed,
        "drain_seconds_after_load": drain_start.elapsed().as_secs_f64(),
        "latency": latency_summary(&all),
        "peak_rss_mb": server.peak_rss_mb(),
    })
}

/// Paced load of single-incident comments at `rate` events/s.
pub(crate) async fn paced(args: &Args, endpoints: u32, rate: u64, with_blackhole: bool) -> Value {
    let (server, rx, api, ids) = setup(args, endpoints, 200).await;
    if with_blackhole {
        api.webhook(&blackhole().await, 1000).await;
    }
    let total = rate * args.latency_seconds;
    let interval = Duration::from_secs_f64(1.0 / rate as f64);
    let start = Instant::now();
    let start_us = micros();
    let mut tasks = vec![];
    for i in 0..total {
        let at = start + interval.mul_f64(i as f64);
        tokio::time::sleep_until(at.into()).await;
        let (api, id) = (api.clone(), ids[(i % ids.len() as u64) as usize].clone());
        tasks.push(tokio::spawn(async move {
            let t0 = micros();
            api.call(
                "/incident/comment",
                json!({"incident_ids": [id], "comment": format!("t={t0}")}),
            )
            .await;
            micros() - t0
        }));
    }
    let mut api_us = vec![];
    for t in tasks {
        api_us.push(t.await.unwrap());
    }
    let expected = total * endpoints as u64;
    let drain = Instant::now();
    while rx.count.load(Ordering::Relaxed) < expected && drain.elapsed() < Duration::from_secs(60) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let lat = rx.latencies_us.lock().unwrap();
    let healthy_samples: Vec<(u64, u64)> = lat
        .iter()
        .filter(|(n, _)| **n < 999)
        .flat_map(|(_, v)| v.iter().copied())
        .collect();
    let healthy: Vec<u64> = healthy_samples.iter().map(|(_, us)| *us).collect();
    json!({
        "endpoints_healthy": endpoints,
        "blackholed_endpoint": with_blackhole,
        "events_per_second_offered": rate,
        "seconds": args.latency_seconds,
        "pushes_expected": expected,
        "pushes_received": rx.count.load(Ordering::Relaxed),
        "latency": latency_summary(&healthy),
        "api_call_latency": latency_summary(&api_us),
        "slow_seconds": slow_seconds(&healthy_samples, start_us, 50_000),
        "peak_rss_mb": server.peak_rss_mb(),
    })
}

/// Builds up `n` pending deliveries to a dead endpoint and reports memory.
pub(crate) async fn backlog(args: &Args) -> Value {
    let server = Server::start(args);
    let api = server.api();
    let dead = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let a = l.local_addr().unwrap();
        drop(l);
        format!("http://{a}/e/0")
    };
    let ids = api.incidents(100).await;
    let hooks = 10u64;
    for _ in 0..hooks {
        api.webhook(&dead, 1000).await;
    }
    let calls = args.backlog.div_ceil(100 * hooks);
    let start = Instant::now();
    let mut done = 0u64;
    let mut samples = vec![];
    while done < calls {
        let mut batch = vec![];
        for _ in 0..4.min(calls - done) {
            let (api, ids) = (api.clone(), ids.clone());
            batch.push(tokio::spawn(async move {
                api.call(
                    "/incident/comment",
                    json!({"incident_ids": ids, "comment": "backlog"}),
                )
                .await
            }));
            done += 1;
        }
        for b in batch {
            b.await.unwrap();
        }
        if done.is_multiple_of(100) {
            samples.push(json!({"pending_target": done * 100 * hooks, "rss_mb": server.rss_mb()}));
        }
    }
    let build_seconds = start.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_secs(5)).await;
    json!({
        "pending_deliveries": api.pending().await,
        "build_seconds": build_seconds,
        "rss_mb_now": server.rss_mb(),
        "peak_rss_mb": server.peak_rss_mb(),
        "rss_samples": samples,
    })
}

/// Custom action triggers, one after another, against the fast receiver.
/// The receiver answers at once, so the API round trip is the trigger's
/// overhead (reading, the signed push over loopback, two commits: the
/// attempt and the i_custom event).
pub(crate) async fn trigger(args: &Args, n: usize) -> Value {
    let server = Server::start(args);
    let rx = Arc::new(Receiver::default());
    let base = start_receiver(rx.clone()).await;
    let api = server.api();
    let channel = api
        .call("/channel/create", json!({"channel_name": "bench"}))
        .await["channel_id"]
        .clone();
    let action = api
        .call(
            "/integration/custom-action/create",
            json!({"name": "bench", "channel_ids": [channel], "endpoint": format!("{base}/e/0")}),
        )
        .await["integration_id"]
        .clone();
    let incident = api
        .call(
            "/incident/create",
            json!({"title": "bench incident", "incident_severity": "Info", "channel_id": channel}),
        )
        .await["incident_id"]
        .clone();
    let body = json!({"incident_id": incident, "action_id": action});
    for _ in 0..50 {
        api.call("/incident/action/trigger", body.clone()).await;
    }
    let mut round_trips = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let r = api.call("/incident/action/trigger", body.clone()).await;
        round_trips.push(t.elapsed().as_micros() as u64);
        assert_eq!(r["success"], json!(true), "{r}");
    }
    json!({
        "triggers": n,
        "received": rx.count.load(Ordering::Relaxed),
        "overhead": latency_summary(&round_trips),
        "peak_rss_mb": server.peak_rss_mb(),
    })
}
