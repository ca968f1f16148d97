//! The binary under real conditions: killed mid-push, and `dutyhook listen`.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::cli::{action_and_incident, api, key_of, start_serve_with, Serve, BIN};
use crate::helpers::{Db, TestDb};
use crate::receiver::{Reply, TestReceiver};

both_dbs!(
    kill_mid_push_pushes_again_after_restart,
    listen_prints_pushes,
    listen_answers_an_action_that_writes_back
);

async fn kill_mid_push_pushes_again_after_restart(db: Db) {
    let db = TestDb::new(db).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dutyhook.toml");
    std::fs::write(&config, "delivery_lease_ms = 1000\n").unwrap();
    let config = config.to_str().unwrap().to_string();
    let rx = TestReceiver::start().await;
    // The first push hangs: the process dies while it is in flight.
    rx.script([Reply {
        delay: Duration::from_secs(30),
        ..Reply::status(200)
    }]);
    let (mut serve, addr, printed) = start_serve_with(&db.url, &["--config", &config]);
    let key = key_of(&printed);
    api(
        &addr,
        &key,
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "crash", "endpoint": rx.url, "timeout_ms": 30000}),
    )
    .await;
    api(
        &addr,
        &key,
        "/incident/create",
        json!({"title": "Pushed across a crash", "incident_severity": "Info"}),
    )
    .await;
    let first = rx.wait_for(1).await[0].clone();
    serve.kill();
    let (mut serve, _, _) = start_serve_with(&db.url, &["--config", &config]);
    let got = rx.wait_for(2).await;
    assert_eq!(
        got[1].header("webhook-id"),
        first.header("webhook-id"),
        "the same event_id after the restart"
    );
    assert_eq!(got[1].body, first.body);
    serve.kill();
}

async fn listen_prints_pushes(db: Db) {
    let db = TestDb::new(db).await;
    let (mut serve, addr, printed) = start_serve_with(&db.url, &[]);
    let key = key_of(&printed);
    let created = api(
        &addr,
        &key,
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "dev", "endpoint": "http://127.0.0.1:9/"}),
    )
    .await;
    let secret = created["signing_secret"].as_str().unwrap().to_string();
    let hook = created["integration_id"].as_i64().unwrap();
    let mut listen = Serve::from(
        Command::new(BIN)
            .args(["listen", "--port", "0", "--secret", &secret])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn dutyhook listen"),
    );
    let mut lines = BufReader::new(listen.stdout());
    let mut first = String::new();
    lines.read_line(&mut first).unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    api(
        &addr,
        &key,
        "/integration/webhook/update",
        json!({"integration_id": hook, "endpoint": url}),
    )
    .await;
    let inc = api(
        &addr,
        &key,
        "/incident/create",
        json!({"title": "Watched", "incident_severity": "Info"}),
    )
    .await;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in lines.lines() {
            if tx.send(line.unwrap()).is_err() {
                break;
            }
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a line per push");
    assert!(line.starts_with("i_new"), "{line}");
    assert!(
        line.contains(inc["incident_id"].as_str().unwrap())
            && line.contains("signature ok")
            && line.ends_with("new"),
        "{line}"
    );
    // Resend the same event: listen calls it a duplicate.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut hist = Value::Null;
    for _ in 0..1000 {
        hist = api(
            &addr,
            &key,
            "/integration/history/list",
            json!({"integration_id": hook, "start_time": now - 60, "end_time": now + 60}),
        )
        .await;
        if hist["total"].as_i64() > Some(0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(
        hist["total"].as_i64() > Some(0),
        "the push never showed in the history: {hist}"
    );
    api(
        &addr,
        &key,
        "/integration/history/resend",
        json!({"invocation_id": hist["items"][0]["invocation_id"]}),
    )
    .await;
    let line = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("a line for the resend");
    assert!(
        line.contains("signature ok") && line.ends_with("duplicate"),
        "{line}"
    );
    listen.kill();
    serve.kill();
}

/// The README's walk-through: `listen --answer` as a custom action's
/// endpoint whose answer writes labels back onto the incident.
async fn listen_answers_an_action_that_writes_back(db: Db) {
    let db = TestDb::new(db).await;
    let (mut serve, addr, printed) = start_serve_with(&db.url, &[]);
    let key = key_of(&printed);
    let answer = r#"{"message": "restarted", "labels": {"restarted": "yes"}}"#;
    let mut listen = Serve::from(
        Command::new(BIN)
            .args(["listen", "--port", "0", "--answer", answer])
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn dutyhook listen"),
    );
    let mut first = String::new();
    BufReader::new(listen.stdout())
        .read_line(&mut first)
        .unwrap();
    let url = first
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap()
        .to_string();
    let (action, inc) = action_and_incident(
        &addr,
        &key,
        json!({"name": "Restart host", "endpoint": url, "write_back": ["labels"]}),
        "Host stuck",
    )
    .await;
    let r = api(
        &addr,
        &key,
        "/incident/action/trigger",
        json!({"incident_id": inc, "action_id": action}),
    )
    .await;
    assert_eq!(r["message"], json!("restarted"), "{r}");
    assert_eq!(r["write_back"]["applied"], json!(["labels"]), "{r}");
    let info = api(&addr, &key, "/incident/info", json!({"incident_id": inc})).await;
    assert_eq!(info["labels"], json!({"restarted": "yes"}));
    listen.kill();
    serve.kill();
}

/// SIGTERM with `shutdown_delay_ms`: `/ready` says `stopping` while calls
/// are still answered (the clean stop after it is sigterm_gives_back_…).
#[tokio::test]
async fn sigterm_takes_the_process_out_of_rotation_before_it_stops() {
    let db = TestDb::new(Db::Sqlite).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dutyhook.toml");
    std::fs::write(&config, "shutdown_delay_ms = 20000\n").unwrap();
    let (mut serve, addr, printed) =
        start_serve_with(&db.url, &["--config", config.to_str().unwrap()]);
    let key = key_of(&printed);
    let ready = |addr: String| async move {
        // A new connection each time, as a load balancer's check makes.
        let resp = reqwest::Client::new()
            .get(format!("http://{addr}/ready"))
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.json::<Value>().await.unwrap())
    };
    let (status, body) = ready(addr.clone()).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("ready")),
        "{body}"
    );

    let term = Command::new("kill")
        .args(["-TERM", &serve.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let mut stopping = None;
    for _ in 0..100 {
        let (status, body) = ready(addr.clone()).await;
        if status == 503 {
            stopping = Some(body);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let stopping = stopping.expect("/ready answered 503 after SIGTERM");
    assert_eq!(stopping["status"], "stopping", "{stopping}");
    let created = api(
        &addr,
        &key,
        "/incident/create",
        json!({"title": "created while draining", "incident_severity": "Info"}),
    )
    .await;
    assert!(
        created["incident_id"].is_string(),
        "still served: {created}"
    );
    serve.kill();
}
