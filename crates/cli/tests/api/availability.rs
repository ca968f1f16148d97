//! When the database cannot be reached or cannot write (`open-api.md`,
//! "Robustness"): calls answer `ServiceUnavailable` saying why, `/health`
//! answers 503, and the service recovers by itself — with nothing lost.
//!
//! Both tests need root: one mounts a small tmpfs and fills it, the other
//! runs a PostgreSQL cluster of its own (never the shared one) as the
//! `postgres` user. `scripts/test` runs as root and requires them; elsewhere
//! they say they were skipped.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::helpers::{TestApp, TestDb};
use crate::receiver::TestReceiver;

fn privileged() -> bool {
    let root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
    if !root && std::env::var("DUTYHOOK_REQUIRE_ROOT_TESTS").is_ok() {
        panic!("these tests need root (a tmpfs, a private PostgreSQL cluster)");
    }
    if !root {
        eprintln!("skipped: needs root");
    }
    root
}

fn sh(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A tmpfs of `size` mounted on a fresh directory, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(size: &str) -> SmallDisk {
        let dir = tempfile::tempdir().unwrap();
        sh(Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path()));
        SmallDisk { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file until the disk is full.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let path = self.path().join("filler");
        let mut f = std::fs::File::create(&path).unwrap();
        let chunk = vec![0u8; 64 * 1024];
        loop {
            match f.write(&chunk) {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
        let _ = f.sync_all();
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

async fn create(app: &TestApp, n: usize) -> (u16, Value) {
    app.post(
        "/incident/create",
        json!({"title": format!("Load {n}"), "incident_severity": "Info",
               "description": "d".repeat(6000)}),
    )
    .await
}

async fn health(app: &TestApp) -> (u16, Value) {
    get(app, "/health").await
}

async fn get(app: &TestApp, path: &str) -> (u16, Value) {
    let resp = app.client.get(app.url(path)).send().await.unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

/// A webhook to a receiver, and five incidents created while all is well.
async fn watched(app: &TestApp) -> (TestReceiver, Vec<String>) {
    let rx = TestReceiver::start().await;
    app.ok(
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "rx", "endpoint": rx.url, "event_types": ["i_new"]}),
    )
    .await;
    let mut created = vec![];
    for n in 0..5 {
        let (status, v) = create(app, n).await;
        assert_eq!(status, 200, "{v}");
        created.push(v["data"]["incident_id"].as_str().unwrap().to_string());
    }
    (rx, created)
}

/// Every incident that was answered 200 is stored and pushed, once each.
async fn nothing_lost(app: &TestApp, rx: &TestReceiver, created: &[String]) {
    let pushed = rx.wait_for(created.len()).await;
    let mut pushed_ids: Vec<String> = pushed
        .iter()
        .map(|r| {
            r.json()["incident"]["incident_id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    pushed_ids.sort();
    pushed_ids.dedup();
    let mut want = created.to_vec();
    want.sort();
    assert_eq!(pushed_ids, want, "every created incident was pushed");
    for id in created {
        app.info(id).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_answers_503_then_writes_resume() {
    if !privileged() {
        return;
    }
    let disk = SmallDisk::mount("24m");
    let app = TestApp::spawn_on(TestDb::sqlite_in(disk.path()), |_| {}).await;
    let (rx, mut created) = watched(&app).await;
    assert_eq!(health(&app).await.0, 200);

    let filler = disk.fill();
    let mut refused = None;
    for n in 5..5000 {
        let (status, v) = create(&app, n).await;
        if status == 200 {
            created.push(v["data"]["incident_id"].as_str().unwrap().to_string());
        } else {
            refused = Some((status, v));
            break;
        }
    }
    let (status, v) = refused.expect("a write failed once the disk was full");
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (503, Some("ServiceUnavailable")),
        "{v}"
    );
    let message = v["error"]["message"].as_str().unwrap();
    assert!(message.contains("disk is full"), "{message}");
    // Reads go on; /health says the database cannot write.
    app.info(&created[0]).await;
    let (status, h) = health(&app).await;
    assert_eq!(status, 503, "{h}");
    assert_eq!(h["status"], "unavailable");
    assert!(
        h["reason"].as_str().unwrap().contains("disk is full"),
        "{h}"
    );

    std::fs::remove_file(filler).unwrap();
    let mut resumed = false;
    for n in 0..200 {
        let (status, v) = create(&app, 10_000 + n).await;
        if status == 200 {
            created.push(v["data"]["incident_id"].as_str().unwrap().to_string());
            resumed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(resumed, "writes resumed once space was freed");
    assert_eq!(health(&app).await.0, 200);
    nothing_lost(&app, &rx, &created).await;
}

/// A PostgreSQL cluster of the test's own, run by the `postgres` user.
struct PrivatePg {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
}

impl PrivatePg {
    fn start() -> PrivatePg {
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .expect("PostgreSQL's binaries under /usr/lib/postgresql")
            .filter_map(|e| e.ok())
            .map(|e| e.path().join("bin"))
            .find(|p| p.join("initdb").exists())
            .expect("initdb");
        let dir = tempfile::tempdir().unwrap();
        sh(Command::new("chown").arg("postgres").arg(dir.path()));
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let pg = PrivatePg { dir, bin, port };
        sh(pg
            .as_postgres("initdb")
            .args(["-A", "trust", "-U", "postgres", "-D"])
            .arg(pg.data()));
        pg.run_ctl("start");
        pg
    }

    fn data(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    fn as_postgres(&self, tool: &str) -> Command {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(self.bin.join(tool));
        c
    }

    fn run_ctl(&self, what: &str) {
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1",
            self.port,
            self.dir.path().display()
        );
        let mut c = self.as_postgres("pg_ctl");
        c.arg("-D").arg(self.data()).args(["-w", "-m", "fast"]);
        if what == "start" {
            c.args(["-o", &options, "-l"])
                .arg(self.dir.path().join("log"));
        }
        sh(c.arg(what));
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for PrivatePg {
    fn drop(&mut self) {
        let _ = self
            .as_postgres("pg_ctl")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "stop"])
            .output();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_down_answers_503_fast_then_recovers() {
    if !privileged() {
        return;
    }
    let pg = PrivatePg::start();
    let app = TestApp::spawn_on(TestDb::at(pg.url()), |_| {}).await;
    let (rx, mut created) = watched(&app).await;
    rx.wait_for(5).await;

    // Load all along: the outage falls in the middle of it.
    let app = std::sync::Arc::new(app);
    let stop_load = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = tokio::spawn({
        let (app, stop_load) = (app.clone(), stop_load.clone());
        async move {
            let (mut ok, mut refused) = (vec![], 0);
            let mut n = 1000;
            while !stop_load.load(std::sync::atomic::Ordering::Relaxed) {
                n += 1;
                let (status, v) = create(&app, n).await;
                match status {
                    200 => ok.push(v["data"]["incident_id"].as_str().unwrap().to_string()),
                    503 => refused += 1,
                    other => panic!("{other}: {v}"),
                }
            }
            (ok, refused)
        }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    pg.run_ctl("stop");
    for n in 0..10 {
        let started = Instant::now();
        let (status, v) = create(&app, 100 + n).await;
        let took = started.elapsed();
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (503, Some("ServiceUnavailable")),
            "{v}"
        );
        let message = v["error"]["message"].as_str().unwrap();
        assert!(message.contains("database"), "{message}");
        // Not a speed measure: a guard against calls that hang for the
        // outage (they took 10 s, then answered InternalError).
        assert!(took < Duration::from_secs(5), "answered after {took:?}");
        eprintln!("ServiceUnavailable after {took:?}");
        let (status, v) = app
            .post(
                "/incident/list",
                json!({"start_time": 0, "end_time": 4_000_000_000i64}),
            )
            .await;
        assert_eq!(
            (status, v["error"]["code"].as_str()),
            (503, Some("ServiceUnavailable")),
            "{v}"
        );
    }
    let started = Instant::now();
    let (status, h) = health(&app).await;
    assert_eq!(status, 503, "{h}");
    assert!(started.elapsed() < Duration::from_secs(5), "/health hung");
    eprintln!("/health 503 after {:?}", started.elapsed());
    assert_eq!(h["status"], "unavailable");
    let (status, r) = get(&app, "/ready").await;
    assert_eq!(
        (status, r["status"].as_str()),
        (503, Some("unavailable")),
        "{r}"
    );
    assert!(r["reason"].as_str().is_some_and(|r| !r.is_empty()), "{r}");

    pg.run_ctl("start");
    let mut back = false;
    for _ in 0..300 {
        if health(&app).await.0 == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "/health recovered once the database was back");
    assert_eq!(get(&app, "/ready").await.0, 200, "ready again");
    tokio::time::sleep(Duration::from_millis(300)).await;
    stop_load.store(true, std::sync::atomic::Ordering::Relaxed);
    let (loaded, refused) = load.await.unwrap();
    assert!(refused > 0, "the load met the outage");
    created.extend(loaded);
    for n in 0..5 {
        let (status, v) = create(&app, 200 + n).await;
        assert_eq!(status, 200, "{v}");
        created.push(v["data"]["incident_id"].as_str().unwrap().to_string());
    }
    nothing_lost(&app, &rx, &created).await;
}
