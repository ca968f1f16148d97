//! `dutyhook-bench`: starts `dutyhook serve` (release build) on a fresh
//! database and a fast receiver on 127.0.0.1, drives incident operations
//! through the API, and reports pushes/s, latency from the API call to
//! arrival, and the server's peak memory. Every attempt is recorded in the
//! invocation history as usual. Figures go to stdout and to a JSON file.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::Path;
use clap::Parser;
use serde_json::{json, Value};

mod disk;
mod soak;

#[derive(Parser)]
#[command(about = "Benchmark dutyhook's webhook delivery on this machine")]
struct Args {
    /// The dutyhook binary to run.
    #[arg(long, default_value = "target/release/dutyhook")]
    bin: String,
    /// Default: a fresh SQLite file per scenario. With a PostgreSQL server's
    /// URL (postgres://user@host/db), a fresh database on that server per
    /// scenario, dropped afterwards.
    #[arg(long)]
    database: Option<String>,
    /// Scenarios to run: throughput1, throughput10, latency, blackhole, backlog, trigger, ingest
    /// (and soak, run on its own: scripts/soak).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "throughput1,throughput10,latency,blackhole,backlog,trigger,ingest"
    )]
    scenarios: Vec<String>,
    /// Seconds of load for the throughput scenarios.
    #[arg(long, default_value_t = 60)]
    seconds: u64,
    /// Seconds of load for the latency scenarios.
    #[arg(long, default_value_t = 30)]
    latency_seconds: u64,
    /// Events per second offered in the latency scenarios (the target is
    /// stated at 500).
    #[arg(long, default_value_t = 500)]
    latency_rate: u64,
    /// Seconds of alert ingestion in the ingest scenario.
    #[arg(long, default_value_t = 30)]
    ingest_seconds: u64,
    /// Concurrent senders in the ingest scenario.
    #[arg(long, default_value_t = 256)]
    ingest_clients: usize,
    /// Pending deliveries to build up in the backlog scenario.
    #[arg(long, default_value_t = 1_000_000)]
    backlog: u64,
    #[arg(long, default_value = "bench-results.json")]
    out: String,
    /// Minutes of mixed load in the soak scenario (not in the default list).
    #[arg(long, default_value_t = 30)]
    soak_minutes: u64,
    /// After the soak's load, how long to wait for the healthy and flapping
    /// endpoints to catch up before counting.
    #[arg(long, default_value_t = 300)]
    soak_drain_seconds: u64,
    /// Delivering processes: `serve` plus this many minus one `dutyhook worker`s
    /// (needs --database postgres://…).
    #[arg(long, default_value_t = 1)]
    processes: usize,
    /// SQLite's synchronous level for the fresh database: full (dutyhook's default) or normal.
    #[arg(long, default_value = "full")]
    sqlite_synchronous: String,
    /// The server's log filter (DUTYHOOK_LOG); its log goes to --server-log-file.
    #[arg(long, default_value = "error")]
    server_log: String,
    #[arg(long, default_value = "/dev/null")]
    server_log_file: String,
}

fn micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// Counts pushes per endpoint and the latency of each (from the `t=` stamp
/// the load put in the comment to arrival).
#[derive(Default)]
struct Receiver {
    count: AtomicU64,
    per_endpoint: Mutex<HashMap<u32, u64>>,
    /// Per endpoint: (when the API call was made, latency), µs.
    latencies_us: Mutex<HashMap<u32, Vec<(u64, u64)>>>,
    /// Distinct `event_id`s per endpoint, to count what arrived without repeats.
    event_ids: Mutex<HashMap<u32, HashSet<String>>>,
}

async fn start_receiver(rx: Arc<Receiver>) -> String {
    let app = axum::Router::new().route(
        "/e/{n}",
        axum::routing::post(move |Path(n): Path<u32>, body: Bytes| {
            let rx = rx.clone();
            async move {
                let now = micros();
                rx.count.fetch_add(1, Ordering::Relaxed);
                *rx.per_endpoint.lock().unwrap().entry(n).or_default() += 1;
                if let Some(id) = find_str(&body, "\"event_id\":\"") {
                    rx.event_ids
                        .lock()
                        .unwrap()
                        .entry(n)
                        .or_default()
                        .insert(id.to_string());
                }
                if let Some(t) = find_stamp(&body) {
                    rx.latencies_us
                        .lock()
                        .unwrap()
                        .entry(n)
                        .or_default()
                        .push((t, now.saturating_sub(t)));
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// The `t=<micros>` stamp inside the comment, found without parsing all JSON.
fn find_stamp(body: &[u8]) -> Option<u64> {
    find_str(body, "\"comment\":\"t=")?.parse().ok()
}

/// The string value that follows `prefix` in `body`.
fn find_str<'b>(body: &'b [u8], prefix: &str) -> Option<&'b str> {
    let s = std::str::from_utf8(body).ok()?;
    let i = s.find(prefix)? + prefix.len();
    s[i..].split('"').next()
}

/// A server that accepts connections and never answers.
async fn blackhole() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/e/999", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    url
}

struct Server {
    child: Child,
    workers: Vec<Child>,
    addr: String,
    key: String,
    db: String,
    _dir: tempfile::TempDir,
    // Dropped after `Server::drop` has stopped the processes using it.
    _pg_db: Option<FreshPgDatabase>,
}

/// A database of its own on the PostgreSQL server of `--database`, for one
/// scenario: every run starts empty (the admin key is printed only on an
/// empty database) and nothing is left behind.
struct FreshPgDatabase {
    admin_url: String,
    name: String,
    url: String,
}

impl FreshPgDatabase {
    fn create(server_url: &str) -> FreshPgDatabase {
        let admin_url = server_url.to_string();
        let name = format!(
            "dutyhook_bench_{}_{}",
            std::process::id(),
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        );
        let (base, query) = match server_url.split_once('?') {
            Some((b, q)) => (b, format!("?{q}")),
            None => (server_url, String::new()),
        };
        let base = base.rsplit_once('/').map(|(b, _)| b).unwrap_or(base);
        let url = format!("{base}/{name}{query}");
        run_on_server(&admin_url, format!("CREATE DATABASE {name}"));
        FreshPgDatabase {
            admin_url,
            name,
            url,
        }
    }
}

impl Drop for FreshPgDatabase {
    fn drop(&mut self) {
        run_on_server(
            &self.admin_url,
            format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// Runs one statement on its own thread and runtime, so it works from sync
/// code (Drop) inside the bench's runtime.
fn run_on_server(url: &str, statement: String) {
    let url = url.to_string();
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(async {
                use sqlx::Connection;
                let mut c = sqlx::AnyConnection::connect(&url)
                    .await
                    .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
                sqlx::query(&statement)
                    .execute(&mut c)
                    .await
                    .unwrap_or_else(|e| panic!("{statement}: {e}"));
            })
    })
    .join()
    .unwrap();
}

impl Drop for Server {
    fn drop(&mut self) {
        for c in self
            .workers
            .iter_mut()
            .chain(std::iter::once(&mut self.child))
        {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Server {
    fn start(args: &Args) -> Server {
        let (bin, database) = (args.bin.as_str(), args.database.as_deref());
        let dir = tempfile::tempdir().unwrap();
        let pg_db = database.map(FreshPgDatabase::create);
        let db = pg_db.as_ref().map(|d| d.url.clone()).unwrap_or_else(|| {
            format!(
                "sqlite://{}?synchronous={}",
                dir.path().join("bench.db").display(),
                args.sqlite_synchronous
            )
        });
        // One key for the server and its workers (a SQLite database would
        // otherwise get a key file beside it, as it does in use).
        let secret_key = pg_db.as_ref().map(|_| {
            let out = Command::new(bin)
                .args(["secret-key", "generate"])
                .output()
                .expect("dutyhook secret-key generate");
            String::from_utf8_lossy(&out.stdout).trim().to_string()
        });
        let with_key = |c: &mut Command| {
            if let Some(k) = &secret_key {
                c.env("DUTYHOOK_SECRET_KEY", k);
            }
        };
        let mut serve = Command::new(bin);
        with_key(&mut serve);
        let mut child = serve
            .args(["serve", "--listen", "127.0.0.1:0", "--database", &db])
            .env("DUTYHOOK_LOG", &args.server_log)
            .stdout(Stdio::piped())
            .stderr(
                std::fs::File::create(&args.server_log_file)
                    .map(Stdio::from)
                    .unwrap_or_else(|_| Stdio::inherit()),
            )
            .spawn()
            .unwrap_or_else(|e| {
                panic!("cannot start {bin}: {e} (build it: cargo build --release -p dutyhook)")
            });
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let (mut key, mut addr) = (String::new(), String::new());
        while addr.is_empty() {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap() == 0 {
                panic!("dutyhook exited at start");
            }
            if line.contains("app key:") {
                key = line.split_whitespace().last().unwrap().to_string();
            }
            if let Some(rest) = line.split("listening on http://").nth(1) {
                addr = rest.split_whitespace().next().unwrap().to_string();
            }
        }
        std::thread::spawn(move || for _ in reader.lines() {});
        let workers = (1..args.processes)
            .map(|_| {
                let mut worker = Command::new(bin);
                with_key(&mut worker);
                worker
                    .args(["worker", "--database", &db])
                    .env("DUTYHOOK_LOG", &args.server_log)
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .spawn()
                    .unwrap_or_else(|e| panic!("cannot start a worker: {e}"))
            })
            .collect();
        Server {
            child,
            workers,
            addr,
            key,
            db,
            _dir: dir,
            _pg_db: pg_db,
        }
    }

    /// An API client with the admin key the server printed.
    fn api(&self) -> Api {
        Api {
            client: reqwest::Client::new(),
            base: format!("http://{}", self.addr),
            key: self.key.clone(),
        }
    }

    fn peak_rss_mb(&self) -> f64 {
        self.status_mb("VmHWM:")
    }

    fn rss_mb(&self) -> f64 {
        self.status_mb("VmRSS:")
    }

    /// A memory figure of /proc/PID/status, in MiB (0 when unreadable).
    fn status_mb(&self, field: &str) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with(field))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
            .unwrap_or(0.0)
    }
}

#[derive(Clone)]
struct Api {
    client: reqwest::Client,
    base: String,
    key: String,
}

impl Api {
    async fn call(&self, path: &str, body: Value) -> Value {
        let resp = self
            .client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(&body)
            .send()
            .await
            .expect("API call");
        let v: Value = resp.json().await.expect("API JSON");
        assert!(v.get("error").is_none(), "{path}: {v}");
        v["data"].clone()
    }

    async fn incidents(&self, n: usize) -> Vec<String> {
        let mut ids = vec![];
        for i in 0..n {
            let d = self
                .call(
                    "/incident/create",
                    json!({"title": format!("bench incident {i}"), "incident_severity": "Info"}),
                )
                .await;
            ids.push(d["incident_id"].as_str().unwrap().to_string());
        }
        ids
    }

    async fn webhook(&self, endpoint: &str, timeout_ms: u64) {
        self.call(
            "/integration/webhook/create",
            json!({"kind": "incident", "name": "bench", "endpoint": endpoint, "event_types": ["i_comm"], "timeout_ms": timeout_ms}),
        )
        .await;
    }

    async fn pending(&self) -> u64 {
        let text = self
            .client
            .get(format!("{}/metrics", self.base))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        text.lines()
            .find(|l| l.starts_with("dutyhook_deliveries_pending "))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i] as f64 / 1000.0
}

fn latency_summary(lat: &[u64]) -> Value {
    let mut v = lat.to_vec();
    v.sort_unstable();
    json!({"samples": v.len(), "p50_ms": percentile(&v, 0.50), "p95_ms": percentile(&v, 0.95), "p99_ms": percentile(&v, 0.99), "max_ms": percentile(&v, 1.0)})
}

/// A server, a receiver, `incidents` incidents and one webhook per endpoint
/// (subscribed to `i_comm`, so only the load's comments are pushed).
async fn setup(
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
async fn throughput(args: &Args, endpoints: u32) -> Value {
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
async fn paced(args: &Args, endpoints: u32, rate: u64, with_blackhole: bool) -> Value {
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

/// The seconds of a paced run (counted from its start) in which some push
/// took longer than `over_us`: when the tail happened, and how many.
fn slow_seconds(samples: &[(u64, u64)], start_us: u64, over_us: u64) -> Value {
    let mut by_second: std::collections::BTreeMap<u64, (u64, u64)> = Default::default();
    for (sent, us) in samples.iter().filter(|(_, us)| *us > over_us) {
        let e = by_second
            .entry(sent.saturating_sub(start_us) / 1_000_000)
            .or_default();
        e.0 += 1;
        e.1 = e.1.max(*us);
    }
    by_second
        .into_iter()
        .map(|(s, (n, max))| json!({"second": s, "pushes": n, "max_ms": max as f64 / 1000.0}))
        .collect()
}

/// Builds up `n` pending deliveries to a dead endpoint and reports memory.
async fn backlog(args: &Args) -> Value {
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
async fn trigger(args: &Args, n: usize) -> Value {
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

/// A storm of standard alert events from `ingest_clients` senders for
/// `ingest_seconds`: 2,000 alert keys over 50 services, grouped by service,
/// one event in ten a recovery. An alert webhook and an incident webhook push
/// to the fast receiver. Afterwards the database and the receiver are counted:
/// every accepted event is stored, every recorded event was pushed once.
async fn ingest(args: &Args) -> Value {
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

#[tokio::main]
async fn main() {
    sqlx::any::install_default_drivers();
    let args = Args::parse();
    let mut results = serde_json::Map::new();
    results.insert(
        "machine".into(),
        json!({"cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
               "database": args.database.as_deref().map(|d| d.split(':').next().unwrap_or("")).unwrap_or("sqlite"),
               "processes": args.processes}),
    );
    let probe = disk::DiskProbe::start(std::env::temp_dir());
    for s in args.scenarios.clone() {
        let settled = probe.settle();
        eprintln!("== {s} (the disk settled in {settled:.1} s)");
        let mut r = match s.as_str() {
            "throughput1" => throughput(&args, 1).await,
            "throughput10" => throughput(&args, 10).await,
            "latency" => paced(&args, 10, args.latency_rate, false).await,
            "blackhole" => paced(&args, 9, args.latency_rate, true).await,
            "backlog" => backlog(&args).await,
            "trigger" => trigger(&args, 1000).await,
            "ingest" => ingest(&args).await,
            "soak" => soak::soak(&args).await,
            other => panic!("unknown scenario {other}"),
        };
        if let Value::Object(fields) = &mut r {
            fields.insert("disk_fdatasync_4k".into(), probe.take());
            fields.insert("disk_settled_before_s".into(), json!(settled));
        }
        println!("{s}: {}", serde_json::to_string_pretty(&r).unwrap());
        results.insert(s, r);
        std::fs::write(
            &args.out,
            serde_json::to_string_pretty(&Value::Object(results.clone())).unwrap(),
        )
        .unwrap();
    }
    eprintln!("results written to {}", args.out);
}
