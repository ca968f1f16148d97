//! The dutyhook processes under test, their database, and a small client of its API.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use crate::Args;

pub(crate) struct Server {
    pub(crate) child: Child,
    pub(crate) workers: Vec<Child>,
    pub(crate) addr: String,
    pub(crate) key: String,
    pub(crate) db: String,
    pub(crate) _dir: tempfile::TempDir,
    // Dropped after `Server::drop` has stopped the processes using it.
    pub(crate) _pg_db: Option<FreshPgDatabase>,
}

/// A database of its own on the PostgreSQL server of `--database`, for one
/// scenario: every run starts empty (the admin key is printed only on an
/// empty database) and nothing is left behind.
pub(crate) struct FreshPgDatabase {
    pub(crate) admin_url: String,
    pub(crate) name: String,
    pub(crate) url: String,
}

impl FreshPgDatabase {
    pub(crate) fn create(server_url: &str) -> FreshPgDatabase {
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
pub(crate) fn run_on_server(url: &str, statement: String) {
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
    pub(crate) fn start(args: &Args) -> Server {
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
    pub(crate) fn api(&self) -> Api {
        Api {
            client: reqwest::Client::new(),
            base: format!("http://{}", self.addr),
            key: self.key.clone(),
        }
    }

    pub(crate) fn peak_rss_mb(&self) -> f64 {
        self.status_mb("VmHWM:")
    }

    pub(crate) fn rss_mb(&self) -> f64 {
        self.status_mb("VmRSS:")
    }

    /// A memory figure of /proc/PID/status, in MiB (0 when unreadable).
    pub(crate) fn status_mb(&self, field: &str) -> f64 {
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
pub(crate) struct Api {
    pub(crate) client: reqwest::Client,
    pub(crate) base: String,
    pub(crate) key: String,
}

impl Api {
    pub(crate) async fn call(&self, path: &str, body: Value) -> Value {
        let answer = self.post(path, &body).await;
        let v: Value = serde_json::from_slice(&answer).expect("API JSON");
        assert!(v.get("error").is_none(), "{path}: {v}");
        v["data"].clone()
    }

    /// As [`Api::call`], for a load's calls whose answer only has to be a
    /// success: the answer is checked without building it as a JSON tree
    /// (for creates that cost the load generator a third of a core).
    pub(crate) async fn send(&self, path: &str, body: Value) {
        #[derive(serde::Deserialize)]
        struct Answer {
            error: Option<serde::de::IgnoredAny>,
        }
        let answer = self.post(path, &body).await;
        let checked: Answer = serde_json::from_slice(&answer).expect("API JSON");
        assert!(
            checked.error.is_none(),
            "{path}: {}",
            String::from_utf8_lossy(&answer)
        );
    }

    /// POSTs `body` to `path` with the admin key; the answer's bytes.
    async fn post(&self, path: &str, body: &Value) -> axum::body::Bytes {
        self.client
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .json(body)
            .send()
            .await
            .expect("API call")
            .bytes()
            .await
            .expect("API answer")
    }

    pub(crate) async fn incidents(&self, n: usize) -> Vec<String> {
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

    pub(crate) async fn webhook(&self, endpoint: &str, timeout_ms: u64) {
        self.call(
            "/integration/webhook/create",
            json!({"kind": "incident", "name": "bench", "endpoint": endpoint, "event_types": ["i_comm"], "timeout_ms": timeout_ms}),
        )
        .await;
    }

    pub(crate) async fn pending(&self) -> u64 {
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
