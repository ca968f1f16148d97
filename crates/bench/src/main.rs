//! `dutyhook-bench`: starts `dutyhook serve` (release build) on a fresh
//! database and a fast receiver on 127.0.0.1, drives incident operations
//! through the API, and reports pushes/s, latency from the API call to
//! arrival, and the server's peak memory. Every attempt is recorded in the
//! invocation history as usual. Figures go to stdout and to a JSON file.

use clap::Parser;
use serde_json::{json, Value};

mod callbacks;
mod creates;
mod delivery;
mod disk;
mod ingest;
mod receiver;
mod server;
mod soak;
mod stats;

use creates::{creates, Load};
use delivery::{backlog, paced, throughput, trigger};
use ingest::ingest;

fn closed(args: &Args, total: Option<u64>) -> Load {
    Load::Closed {
        clients: args.create_clients,
        total,
    }
}

#[derive(Parser)]
#[command(about = "Benchmark dutyhook's webhook delivery on this machine")]
pub(crate) struct Args {
    /// The dutyhook binary to run.
    #[arg(long, default_value = "target/release/dutyhook")]
    pub(crate) bin: String,
    /// Default: a fresh SQLite file per scenario. With a PostgreSQL server's
    /// URL (postgres://user@host/db), a fresh database on that server per
    /// scenario, dropped afterwards.
    #[arg(long)]
    pub(crate) database: Option<String>,
    /// Scenarios to run: throughput1, throughput10, latency, blackhole, backlog, trigger, callbacks, ingest;
    /// the create workload: creates1, creates10 (closed loops for --seconds), creates100k (10 webhooks,
    /// --creates-total creates), creates-paced (--latency-rate creates/s to 10 webhooks)
    /// (and soak, run on its own: scripts/soak).
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "throughput1,throughput10,latency,blackhole,backlog,trigger,callbacks,ingest"
    )]
    pub(crate) scenarios: Vec<String>,
    /// Seconds of load for the throughput scenarios.
    #[arg(long, default_value_t = 60)]
    pub(crate) seconds: u64,
    /// Seconds of load for the latency scenarios.
    #[arg(long, default_value_t = 30)]
    pub(crate) latency_seconds: u64,
    /// Events per second offered in the latency scenarios (the target is
    /// stated at 500).
    #[arg(long, default_value_t = 500)]
    pub(crate) latency_rate: u64,
    /// Clients of the create scenarios, each a closed loop on one keep-alive connection.
    #[arg(long, default_value_t = 16)]
    pub(crate) create_clients: usize,
    /// Creates of the creates100k scenario.
    #[arg(long, default_value_t = 100_000)]
    pub(crate) creates_total: u64,
    /// Seconds of alert ingestion in the ingest scenario.
    #[arg(long, default_value_t = 30)]
    pub(crate) ingest_seconds: u64,
    /// Concurrent senders in the ingest scenario.
    #[arg(long, default_value_t = 256)]
    pub(crate) ingest_clients: usize,
    /// Pending deliveries to build up in the backlog scenario.
    #[arg(long, default_value_t = 1_000_000)]
    pub(crate) backlog: u64,
    #[arg(long, default_value = "bench-results.json")]
    pub(crate) out: String,
    /// Minutes of mixed load in the soak scenario (not in the default list).
    #[arg(long, default_value_t = 30)]
    pub(crate) soak_minutes: u64,
    /// After the soak's load, how long to wait for the healthy and flapping
    /// endpoints to catch up before counting.
    #[arg(long, default_value_t = 300)]
    pub(crate) soak_drain_seconds: u64,
    /// Delivering processes: `serve` plus this many minus one `dutyhook worker`s
    /// (needs --database postgres://…).
    #[arg(long, default_value_t = 1)]
    pub(crate) processes: usize,
    /// SQLite's synchronous level for the fresh database: full (dutyhook's default) or normal.
    #[arg(long, default_value = "full")]
    pub(crate) sqlite_synchronous: String,
    /// The server's log filter (DUTYHOOK_LOG); its log goes to --server-log-file.
    #[arg(long, default_value = "error")]
    pub(crate) server_log: String,
    #[arg(long, default_value = "/dev/null")]
    pub(crate) server_log_file: String,
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
            "callbacks" => callbacks::callbacks(&args, 1000, 32).await,
            "ingest" => ingest(&args).await,
            "creates1" => creates(&args, 1, closed(&args, None)).await,
            "creates10" => creates(&args, 10, closed(&args, None)).await,
            "creates100k" => creates(&args, 10, closed(&args, Some(args.creates_total))).await,
            "creates-paced" => {
                creates(
                    &args,
                    10,
                    Load::Paced {
                        rate: args.latency_rate,
                    },
                )
                .await
            }
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
