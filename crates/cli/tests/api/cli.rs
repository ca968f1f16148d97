//! The `dutyhook` binary itself: its commands and what a newcomer sees.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

use serde_json::{json, Value};

use crate::helpers::{Db, TestDb};

pub const BIN: &str = env!("CARGO_BIN_EXE_dutyhook");

both_dbs!(
    admin_create_prints_one_json_line,
    serve_on_empty_database_prints_the_first_admin
);

#[test]
fn admin_create_refuses_a_missing_database() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("elsewhere.db");
    let url = format!("sqlite://{}", file.display());
    let create = |extra: &[&str]| {
        let mut args = vec![
            "admin",
            "create",
            "--name",
            "Ada",
            "--email",
            "ada@example.com",
            "--database",
            &url,
        ];
        args.extend_from_slice(extra);
        run(&args)
    };
    let (ok, _, err) = create(&[]);
    assert!(!ok, "a missing database is refused");
    assert!(
        err.contains(&file.display().to_string()) && err.contains("--create-database"),
        "{err}"
    );
    assert!(!file.exists(), "nothing was created");
    let (ok, out, err) = create(&["--create-database"]);
    assert!(ok, "{err}");
    assert!(out.contains("app_key"), "{out}");
    assert!(file.exists());
}

/// `dutyhook ARGS`, with the tests' secret key when a PostgreSQL database
/// is named (see `TEST_SECRET_KEY`).
pub fn dutyhook(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args);
    if args.iter().any(|a| a.starts_with("postgres://")) {
        c.env("DUTYHOOK_SECRET_KEY", crate::helpers::TEST_SECRET_KEY);
    }
    c
}

/// One call to a `dutyhook serve` process; answers `data`, asserting 200.
pub async fn api(addr: &str, key: &str, path: &str, body: Value) -> Value {
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}{path}"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let body = resp.json::<Value>().await.unwrap();
    assert_eq!(status, 200, "{path}: {body}");
    body["data"].clone()
}

/// A channel, a custom action on it (`action` without `channel_ids`) and
/// an incident titled `title` in that channel: (action id, incident id).
pub async fn action_and_incident(
    addr: &str,
    key: &str,
    mut action: Value,
    title: &str,
) -> (Value, Value) {
    let ch = api(addr, key, "/channel/create", json!({"channel_name": "ops"})).await["channel_id"]
        .clone();
    action["channel_ids"] = json!([ch]);
    let action_id =
        api(addr, key, "/integration/custom-action/create", action).await["integration_id"].clone();
    let incident = json!({"title": title, "incident_severity": "Warning", "channel_id": ch});
    let incident_id = api(addr, key, "/incident/create", incident).await["incident_id"].clone();
    (action_id, incident_id)
}

/// The app key a first start printed.
pub fn key_of(printed: &[String]) -> String {
    printed
        .iter()
        .find(|l| l.contains("app key:"))
        .unwrap_or_else(|| panic!("no app key printed: {printed:?}"))
        .split_whitespace()
        .last()
        .unwrap()
        .to_string()
}

/// A `dutyhook serve` process, killed (SIGKILL) when dropped so a failing
/// test never leaves one behind.
pub struct Serve(Child);

impl From<Child> for Serve {
    fn from(c: Child) -> Self {
        Serve(c)
    }
}

impl Serve {
    pub fn id(&self) -> u32 {
        self.0.id()
    }

    pub fn stdout(&mut self) -> std::process::ChildStdout {
        self.0.stdout.take().expect("stdout was piped")
    }

    /// SIGTERM: the graceful stop; answers how the process exited.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        let ok = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status()
            .expect("kill -TERM");
        assert!(ok.success());
        self.0.wait().expect("wait for dutyhook")
    }

    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `dutyhook serve` on a random port; answers the process, its address,
/// and the lines it printed before listening.
pub fn start_serve(url: &str) -> (Serve, String, Vec<String>) {
    start_serve_with(url, &[])
}

pub fn start_serve_with(url: &str, extra: &[&str]) -> (Serve, String, Vec<String>) {
    let mut serve = Serve(
        dutyhook(&["serve", "--listen", "127.0.0.1:0", "--database", url])
            .args(extra)
            .env("DUTYHOOK_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn dutyhook"),
    );
    let mut lines = vec![];
    let mut reader = BufReader::new(serve.0.stdout.take().unwrap());
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 {
            let status = serve.0.wait();
            panic!("dutyhook serve exited early ({status:?}); printed {lines:?}");
        }
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest.split_whitespace().next().unwrap().to_string();
            lines.push(line);
            std::thread::spawn(move || for _ in reader.lines() {});
            return (serve, addr, lines);
        }
        lines.push(line);
    }
}

fn run(args: &[&str]) -> (bool, String, String) {
    let out = dutyhook(args)
        .env("DUTYHOOK_LOG", "warn")
        .output()
        .expect("run dutyhook");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

async fn admin_create_prints_one_json_line(db: Db) {
    let db = TestDb::new(db).await;
    let (ok, _, err) = run(&["migrate", "--database", &db.url]);
    assert!(ok, "{err}");
    let (ok, out, err) = run(&[
        "admin",
        "create",
        "--name",
        "Ada",
        "--email",
        "ada@example.com",
        "--database",
        &db.url,
    ]);
    assert!(ok, "{err}");
    assert_eq!(out.lines().count(), 1, "exactly one line: {out}");
    let v: Value = serde_json::from_str(out.trim()).unwrap();
    let keys: Vec<&String> = v.as_object().unwrap().keys().collect();
    assert_eq!(keys, ["person_id", "app_key", "password"]);
    assert!(v["person_id"].as_i64().unwrap() > 0);
    assert!(v["password"].as_str().unwrap().len() >= 16);
    let (ok, _, err) = run(&[
        "admin",
        "create",
        "--name",
        "Ada",
        "--email",
        "ada@example.com",
        "--database",
        &db.url,
    ]);
    assert!(
        !ok && err.contains("email"),
        "a duplicate is refused clearly: {err}"
    );
    let (ok, _, err) = run(&[
        "admin",
        "create",
        "--name",
        "Ada",
        "--email",
        "nope",
        "--database",
        &db.url,
    ]);
    assert!(!ok && err.contains("email"), "{err}");

    // The key works against a server on the same database, and serve does not make a second admin.
    let (mut child, addr, printed) = start_serve(&db.url);
    assert!(
        !printed.iter().any(|l| l.contains("app key")),
        "{printed:?}"
    );
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/person/list"))
        .bearer_auth(v["app_key"].as_str().unwrap())
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let people: Value = resp.json().await.unwrap();
    assert_eq!(people["data"]["items"][0]["role"], json!("admin"));
    child.kill();
}

async fn serve_on_empty_database_prints_the_first_admin(db: Db) {
    let db = TestDb::new(db).await;
    let (mut child, addr, printed) = start_serve(&db.url);
    let key = key_of(&printed);
    assert!(printed
        .iter()
        .any(|l| l.contains("console login:") && l.contains('@')));
    assert!(printed.iter().any(|l| l.contains("password:")));
    let resp = reqwest::Client::new()
        .post(format!("http://{addr}/channel/create"))
        .bearer_auth(&key)
        .json(&json!({"channel_name": "First"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    child.kill();
}

#[test]
fn version_and_help() {
    let (ok, out, _) = run(&["--version"]);
    assert!(ok && out.contains(env!("CARGO_PKG_VERSION")), "{out}");
    let (ok, out, _) = run(&["--help"]);
    assert!(ok);
    for cmd in ["serve", "migrate", "admin"] {
        assert!(out.contains(cmd), "--help lists {cmd}: {out}");
    }
    let (ok, out, _) = run(&["serve", "--help"]);
    assert!(
        ok && out.contains("DUTYHOOK_DATABASE_URL") && out.contains("--public-url"),
        "{out}"
    );
    let (ok, _, err) = run(&["migrate", "--database", "mysql://x"]);
    assert!(
        !ok && err.contains("sqlite://"),
        "an unsupported URL says what is supported: {err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_copies_a_running_sqlite_database() {
    let db = TestDb::new(Db::Sqlite).await;
    let (_serve, addr, printed) = start_serve_with(&db.url, &[]);
    let key = key_of(&printed);
    for i in 0..20 {
        let body = json!({"title": format!("Disk full {i}"), "incident_severity": "Warning"});
        api(&addr, &key, "/incident/create", body).await;
    }
    let dir = tempfile::tempdir().unwrap();
    let to = dir.path().join("copy.db");
    let to_arg = to.display().to_string();
    // While serve keeps writing, the copy is taken in one read transaction.
    let writing = {
        let (addr, key) = (addr.clone(), key.clone());
        tokio::spawn(async move {
            for i in 0..20 {
                let body = json!({"title": format!("More {i}"), "incident_severity": "Info"});
                api(&addr, &key, "/incident/create", body).await;
            }
        })
    };
    let (ok, _, err) = run(&["backup", "--database", &db.url, "--to", &to_arg]);
    assert!(ok, "{err}");
    assert!(err.contains("keep a copy of that file too"), "{err}");
    writing.await.unwrap();
    let mut conn: sqlx::SqliteConnection =
        sqlx::Connection::connect(&format!("sqlite://{}", to.display()))
            .await
            .unwrap();
    let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM incidents")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!((20..=40).contains(&n), "a consistent copy: {n} incidents");
    let (check,): (String,) = sqlx::query_as("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(check, "ok");

    // Never over an existing file; PostgreSQL is pg_dump's.
    let (ok, _, err) = run(&["backup", "--database", &db.url, "--to", &to_arg]);
    assert!(!ok && err.contains("exists already"), "{err}");
    let pg = "postgres://postgres@127.0.0.1:5432/test";
    let (ok, _, err) = run(&["backup", "--database", pg, "--to", "/tmp/never.db"]);
    assert!(!ok && err.contains("pg_dump"), "{err}");
}

/// A database URL's password is never printed: not by `migrate`, not in
/// `serve`'s or `worker`'s banner, not in an error naming the database, not
/// by `--help` when it is in the environment (nor `listen`'s secret).
#[tokio::test]
async fn database_passwords_are_never_printed() {
    const PASSWORD: &str = "db-pass-s3cret";
    let db = TestDb::new(Db::Postgres).await;
    let url = db
        .url_with_password(PASSWORD)
        .expect("the test database's user is postgres");
    let shown = "postgres://postgres:******@";
    let (ok, out, err) = run(&["migrate", "--database", &url]);
    assert!(ok && err.contains(shown), "{err}");
    let (_serve, _, lines) = start_serve(&url);
    let banner = lines.concat();
    assert!(banner.contains(shown), "{banner}");
    let mut worker = dutyhook(&["worker", "--database", &url])
        .env("DUTYHOOK_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn dutyhook worker");
    let mut line = String::new();
    BufReader::new(worker.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _ = worker.kill();
    let _ = worker.wait();
    assert!(
        line.contains("worker running") && line.contains(shown),
        "{line}"
    );
    let mysql = format!("mysql://root:{PASSWORD}@db.internal/dh");
    let (ok, _, unsupported) = run(&["migrate", "--database", &mysql]);
    assert!(!ok && unsupported.contains("sqlite://"), "{unsupported}");
    let as_query = format!("{}?password={PASSWORD}", db.url);
    let (ok, _, refused) = run(&["backup", "--database", &as_query, "--to", "/tmp/never.db"]);
    assert!(!ok && refused.contains("password=******"), "{refused}");
    // Nor does `--help`, which shows the variables a flag is read from.
    let help = |args: &[&str], var: &str, value: &str| {
        let out = dutyhook(args).env(var, value).output().unwrap();
        assert!(out.status.success());
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let mut helps = vec![];
    for cmd in ["serve", "worker", "migrate"] {
        helps.push(help(&[cmd, "--help"], "DUTYHOOK_DATABASE_URL", &url));
    }
    let listen_secret = format!("whsec_{PASSWORD}");
    helps.push(help(
        &["listen", "--help"],
        "DUTYHOOK_LISTEN_SECRET",
        &listen_secret,
    ));
    assert!(helps[0].contains("DUTYHOOK_DATABASE_URL"), "{}", helps[0]);
    let helps = helps.concat();
    for printed in [&out, &err, &banner, &line, &unsupported, &refused, &helps] {
        assert!(
            !printed.contains(PASSWORD),
            "the password was printed: {printed}"
        );
    }
}

#[test]
fn config_prints_the_effective_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("dutyhook.toml");
    std::fs::write(
        &file,
        "account_name = \"Example\"\nmetrics_token = \"0123456789abcdefXYZ\"\nidle_timeout_ms = 30000\n",
    )
    .unwrap();
    let file_arg = file.display().to_string();
    let (ok, out, err) = run(&[
        "config",
        "--config",
        &file_arg,
        "--listen",
        "127.0.0.1:9999",
        "--database",
        "postgres://dh:s3cret@db.internal/dh",
    ]);
    assert!(ok, "{err}");
    let v: toml::Value = toml::from_str(&out).unwrap_or_else(|e| panic!("not TOML: {e}\n{out}"));
    assert_eq!(v["listen"].as_str(), Some("127.0.0.1:9999"), "a flag wins");
    assert_eq!(v["account_name"].as_str(), Some("Example"), "from the file");
    assert_eq!(v["idle_timeout_ms"].as_integer(), Some(30000));
    assert_eq!(
        v["custom_actions_per_channel"].as_integer(),
        Some(3),
        "a default"
    );
    assert_eq!(v["public_url"].as_str(), Some("http://127.0.0.1:9999"));
    assert!(
        !out.contains("s3cret") && !out.contains("0123456789abcdef"),
        "{out}"
    );
    assert!(out.contains("# --listen, DUTYHOOK_LISTEN"), "{out}");
    // A wrong setting is refused as serve would refuse it.
    std::fs::write(&file, "idle_timeout_ms = 5\n").unwrap();
    let (ok, _, err) = run(&["config", "--config", &file_arg]);
    assert!(!ok && err.contains("idle_timeout_ms"), "{err}");
}
