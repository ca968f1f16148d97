//! The workload of issue 28, as a user runs it: clients create incidents
//! (a new one every call, ~100-byte title and description) over one
//! keep-alive HTTP/1.1 connection each, and K incident webhooks push each
//! new incident to the local receiver. Latency is from sending the create
//! to the push's arrival (the send time rides in the description).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::receiver::{micros, start_receiver, Receiver};
use crate::server::{Api, Server};
use crate::stats::{latency_summary, slow_seconds};
use crate::Args;

/// How the creates are offered: as fast as answers come, or at a rate.
pub(crate) enum Load {
    /// `clients` closed loops for `seconds`, or until `total` creates.
    Closed { clients: usize, total: Option<u64> },
    /// `rate` creates/s from as many connections as it takes.
    Paced { rate: u64 },
}

async fn setup(args: &Args, webhooks: u32) -> (Server, Arc<Receiver>, Api) {
    let server = Server::start(args);
    let rx = Arc::new(Receiver::default());
    let base = start_receiver(rx.clone()).await;
    let api = server.api();
    for n in 0..webhooks {
        api.call(
            "/integration/webhook/create",
            json!({"kind": "incident", "name": format!("bench {n}"), "endpoint": format!("{base}/e/{n}"),
                   "event_types": ["i_new"], "timeout_ms": 1000}),
        )
        .await;
    }
    (server, rx, api)
}

/// One connection's client: HTTP/1.1, kept alive, at most one idle connection.
fn connection(api: &Api) -> Api {
    Api {
        client: reqwest::Client::builder()
            .http1_only()
            .pool_max_idle_per_host(1)
            .tcp_nodelay(true)
            .build()
            .unwrap(),
        ..api.clone()
    }
}

async fn create(api: &Api) {
    let t0 = micros();
    api.send(
        "/incident/create",
        json!({"title": format!("Checkout latency above 2 s on payments-api in eu-west-1 ({t0})"),
               "description": format!("t={t0} p99 of checkout requests over the last five minutes exceeded"),
               "incident_severity": "Warning"}),
    )
    .await;
}

pub(crate) async fn creates(args: &Args, webhooks: u32, load: Load) -> Value {
    let (server, rx, api) = setup(args, webhooks).await;
    let offered = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let start_us = micros();
    let deadline = start + Duration::from_secs(args.seconds);
    let mut tasks = vec![];
    match load {
        Load::Closed { clients, total } => {
            for _ in 0..clients {
                let (api, offered) = (connection(&api), offered.clone());
                tasks.push(tokio::spawn(async move {
                    loop {
                        let n = offered.fetch_add(1, Ordering::Relaxed);
                        let done = match total {
                            Some(t) => n >= t,
                            None => Instant::now() >= deadline,
                        };
                        if done {
                            offered.fetch_sub(1, Ordering::Relaxed);
                            break;
                        }
                        create(&api).await;
                    }
                }));
            }
        }
        Load::Paced { rate } => {
            let total = rate * args.latency_seconds;
            let interval = Duration::from_secs_f64(1.0 / rate as f64);
            let pool = (0..32).map(|_| connection(&api)).collect::<Vec<_>>();
            for i in 0..total {
                tokio::time::sleep_until((start + interval.mul_f64(i as f64)).into()).await;
                let api = pool[i as usize % pool.len()].clone();
                offered.fetch_add(1, Ordering::Relaxed);
                tasks.push(tokio::spawn(async move { create(&api).await }));
            }
        }
    }
    for t in tasks {
        t.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let received_in_window = rx.count.load(Ordering::Relaxed);
    let expected = offered.load(Ordering::Relaxed) * webhooks as u64;
    let drain = Instant::now();
    while rx.count.load(Ordering::Relaxed) < expected && drain.elapsed() < Duration::from_secs(120)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let samples: Vec<(u64, u64)> = rx
        .latencies_us
        .lock()
        .unwrap()
        .values()
        .flatten()
        .copied()
        .collect();
    let all: Vec<u64> = samples.iter().map(|(_, us)| *us).collect();
    let distinct: usize = rx.event_ids.lock().unwrap().values().map(|s| s.len()).sum();
    json!({
        "webhooks": webhooks,
        "seconds": elapsed,
        "creates": offered.load(Ordering::Relaxed),
        "creates_per_second": offered.load(Ordering::Relaxed) as f64 / elapsed,
        "pushes_expected": expected,
        "pushes_received": rx.count.load(Ordering::Relaxed),
        "pushes_distinct": distinct,
        "lost": expected.saturating_sub(distinct as u64),
        "pushes_per_second": received_in_window as f64 / elapsed,
        "fifths_pushes_per_second": fifths(&samples),
        "drain_seconds_after_load": drain.elapsed().as_secs_f64(),
        "latency": latency_summary(&all),
        "slow_seconds": slow_seconds(&samples, start_us, 50_000),
        "stalls_over_200ms": stalls(&samples, 200_000),
        "peak_rss_mb": server.peak_rss_mb(),
    })
}

/// Pushes/s of each fifth of the run, by arrival time: a run that slows
/// down as its tables grow shows it here.
fn fifths(samples: &[(u64, u64)]) -> Value {
    let mut arrivals: Vec<u64> = samples.iter().map(|(sent, us)| sent + us).collect();
    arrivals.sort_unstable();
    if arrivals.len() < 10 {
        return json!([]);
    }
    let n = arrivals.len();
    (0..5)
        .map(|f| {
            let (a, b) = (f * n / 5, (f + 1) * n / 5 - 1);
            let secs = (arrivals[b] - arrivals[a]).max(1) as f64 / 1e6;
            json!(((b - a) as f64 / secs).round())
        })
        .collect()
}

/// How many pushes took longer than `over_us`, and the worst.
fn stalls(samples: &[(u64, u64)], over_us: u64) -> Value {
    let slow: Vec<u64> = samples
        .iter()
        .map(|(_, us)| *us)
        .filter(|us| *us > over_us)
        .collect();
    json!({"pushes": slow.len(), "worst_ms": slow.iter().max().copied().unwrap_or(0) as f64 / 1000.0})
}
