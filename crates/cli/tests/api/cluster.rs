//! Scale-out on PostgreSQL: two `serve` processes and one `worker` share a
//! database; a load of incident operations is spread over both serve nodes,
//! one of them is SIGKILLed in the middle and restarted. Afterwards every
//! event reached the receiver (deduplicated by `event_id`), in order per
//! incident, and nothing is left pending.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::Duration;

use dutyhook_domain::ids::IntegrationId;
use serde_json::json;

use crate::cli::{api, dutyhook, key_of, start_serve_with, Serve};
use crate::helpers::{Db, TestDb};
use crate::receiver::{Reply, TestReceiver};

fn start_worker(url: &str, config: &str) -> Serve {
    let mut worker: Serve = dutyhook(&["worker", "--database", url, "--config", config])
        .env("DUTYHOOK_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn dutyhook worker")
        .into();
    let mut reader = BufReader::new(worker.stdout());
    let mut line = String::new();
    reader.read_line(&mut line).unwrap();
    assert!(line.contains("worker running"), "worker printed {line:?}");
    std::thread::spawn(move || for _ in reader.lines() {});
    worker
}

async fn pending(addr: &str) -> i64 {
    gauge(addr, "dutyhook_deliveries_pending").await
}

async fn gauge(addr: &str, name: &str) -> i64 {
    let text = reqwest::get(format!("http://{addr}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(name))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no gauge {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_serve_nodes_and_a_worker_survive_a_sigkill() {
    let db = TestDb::new(Db::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dutyhook.toml");
    // Short enough that the killed node's leases come back within the test,
    // long enough that a busy machine never lets a live node's lease lapse
    // mid-push (which would legitimately push twice, overlapping).
    std::fs::write(&config, "delivery_lease_ms = 4000\n").unwrap();
    let config = config.to_str().unwrap().to_string();
    let extra = ["--config", config.as_str()];

    let (_a, addr_a, printed) = start_serve_with(&db.url, &extra);
    let key = key_of(&printed);
    let (mut b, mut addr_b, printed_b) = start_serve_with(&db.url, &extra);
    assert!(
        !printed_b.iter().any(|l| l.contains("app key:")),
        "only the first node creates an admin"
    );
    let _w = start_worker(&db.url, &config);

    let rx = TestReceiver::start().await;
    // Every answer takes a little while, so some pushes are in flight when
    // a node dies.
    rx.script((0..100_000).map(|_| Reply {
        delay: Duration::from_millis(3),
        ..Reply::status(200)
    }));
    api(
        &addr_a,
        &key,
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "cluster", "endpoint": rx.url, "timeout_ms": 2000}),
    )
    .await;

    let mut incidents = vec![];
    for i in 0..12 {
        let node = if i % 2 == 0 { &addr_a } else { &addr_b };
        let d = api(
            node,
            &key,
            "/incident/create",
            json!({"title": format!("cluster {i}"), "incident_severity": "Warning"}),
        )
        .await;
        incidents.push(d["incident_id"].as_str().unwrap().to_string());
    }
    for round in 0..8 {
        if round == 3 {
            // SIGKILL in the middle of the load, then a fresh process.
            b.kill();
            let (nb, na, _) = start_serve_with(&db.url, &extra);
            b = nb;
            addr_b = na;
        }
        let mut calls = vec![];
        for (i, id) in incidents.iter().enumerate() {
            let node = if (i + round) % 2 == 0 {
                addr_a.clone()
            } else {
                addr_b.clone()
            };
            let (key, id) = (key.clone(), id.clone());
            calls.push(tokio::spawn(async move {
                api(
                    &node,
                    &key,
                    "/incident/comment",
                    json!({"incident_ids": [id], "comment": format!("round {round}")}),
                )
                .await
            }));
        }
        for c in calls {
            c.await.unwrap();
        }
    }
    for (i, id) in incidents.iter().enumerate() {
        let node = if i % 2 == 0 { &addr_a } else { &addr_b };
        api(
            node,
            &key,
            "/incident/resolve",
            json!({"incident_ids": [id]}),
        )
        .await;
    }

    // Every recorded event, in order per incident.
    let store = dutyhook_store::open(&db.url, db.keyring()).await.unwrap();
    let events = store.events_after(0, 100_000).await.unwrap();
    store.close().await;
    let expected: HashSet<String> = events.iter().map(|e| e.event_id.to_string()).collect();
    assert_eq!(
        expected.len(),
        12 * (1 + 8 + 1),
        "i_new, 8 comments, i_rslv each"
    );
    let mut arrived: HashSet<String> = HashSet::new();
    for _ in 0..600 {
        arrived = rx
            .received()
            .iter()
            .map(|r| r.json()["event_id"].as_str().unwrap().to_string())
            .collect();
        if arrived.is_superset(&expected) && pending(&addr_a).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let missing: Vec<&String> = expected.difference(&arrived).collect();
    assert!(missing.is_empty(), "never pushed: {missing:?}");
    assert_eq!(pending(&addr_a).await, 0, "nothing left pending");
    assert_eq!(pending(&addr_b).await, 0);

    // First arrivals per incident follow the recorded order; repeats (only
    // of attempts cut off by the kill) carry the same event_id.
    let mut order: HashMap<String, Vec<String>> = HashMap::new();
    for e in &events {
        order
            .entry(e.subject_id.clone())
            .or_default()
            .push(e.event_id.to_string());
    }
    let mut seen: HashSet<String> = HashSet::new();
    let mut first: HashMap<String, Vec<String>> = HashMap::new();
    let received = rx.received();
    for r in &received {
        let v = r.json();
        let id = v["event_id"].as_str().unwrap().to_string();
        assert_eq!(r.header("webhook-id"), id, "a repeat keeps its event_id");
        if seen.insert(id.clone()) {
            first
                .entry(v["incident"]["incident_id"].as_str().unwrap().to_string())
                .or_default()
                .push(id);
        }
    }
    for (incident, ids) in &order {
        assert_eq!(
            first.get(incident),
            Some(ids),
            "order of incident {incident}"
        );
    }
    assert_eq!(rx.overlaps(), 0, "one push at a time per incident");
    let repeats = received.len() - seen.len();
    eprintln!(
        "cluster: {} events, {} pushes, {repeats} repeats after the kill",
        expected.len(),
        received.len()
    );
    drop(b);
}

/// A commit in one process wakes the dispatcher of another through
/// PostgreSQL's NOTIFY (the 500 ms polling is only the backstop), once the
/// first has seen the other alive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_wakes_other_processes() {
    let app = crate::helpers::TestApp::spawn(Db::Postgres).await;
    assert_eq!(gauge(&app.addr, "dutyhook_processes").await, 1);
    let other = dutyhook_store::open(&app.db.url, app.db.keyring())
        .await
        .unwrap();
    let woken = other.remote_commits();
    let wait = tokio::spawn(async move { woken.notified().await });
    // Let the listener connect before the commit.
    tokio::time::sleep(Duration::from_millis(300)).await;
    while gauge(&app.addr, "dutyhook_processes").await < 2 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    app.incident("wakes the others").await;
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .expect("another process's commit was announced")
        .unwrap();
    other.close().await;
}

/// Background roles run in one process of the cluster at a time; when that
/// process ends, another takes over.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn background_roles_have_one_leader() {
    let db = TestDb::new(Db::Postgres).await;
    let one = dutyhook_store::open(&db.url, db.keyring()).await.unwrap();
    let two = dutyhook_store::open(&db.url, db.keyring()).await.unwrap();
    assert!(one.try_lead("snooze-expiry").await.unwrap());
    assert!(one.try_lead("snooze-expiry").await.unwrap(), "kept");
    assert!(!two.try_lead("snooze-expiry").await.unwrap());
    assert!(
        two.try_lead("history-pruning").await.unwrap(),
        "roles are independent"
    );
    one.close().await;
    let mut took_over = false;
    for _ in 0..100 {
        if two.try_lead("snooze-expiry").await.unwrap() {
            took_over = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(took_over, "the role passes on when its holder ends");
    two.close().await;
}

/// SIGTERM: the process stops claiming, lets a push in flight run for the
/// grace period, then gives it back, so another process pushes it at once
/// instead of after the (here one-minute) lease.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_gives_back_what_is_still_in_flight() {
    let db = TestDb::new(Db::Postgres).await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("dutyhook.toml");
    std::fs::write(
        &config,
        "delivery_lease_ms = 60000\nshutdown_grace_ms = 300\n",
    )
    .unwrap();
    let config = config.to_str().unwrap().to_string();
    let (mut a, addr, printed) = start_serve_with(&db.url, &["--config", &config]);
    let key = key_of(&printed);
    let rx = TestReceiver::start().await;
    rx.script([Reply {
        delay: Duration::from_secs(30),
        ..Reply::status(200)
    }]);
    api(
        &addr,
        &key,
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "graceful", "endpoint": rx.url, "timeout_ms": 30000}),
    )
    .await;
    api(
        &addr,
        &key,
        "/incident/create",
        json!({"title": "in flight at shutdown", "incident_severity": "Info"}),
    )
    .await;
    let first = rx.wait_for(1).await;
    let status = a.terminate();
    assert!(status.success(), "a graceful stop exits 0: {status:?}");

    let _w = start_worker(&db.url, &config);
    let got = rx.wait_for(2).await;
    assert_eq!(
        got[1].header("webhook-id"),
        first[0].header("webhook-id"),
        "the same event, pushed again by the worker"
    );
}

/// The per-integration cap on pushes in flight (16 by default) holds for
/// the cluster, not per process: two nodes and a worker with 60 incidents'
/// pushes due at once never have more than 16 unanswered at the receiver.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_in_flight_cap_holds_across_processes() {
    let db = TestDb::new(Db::Postgres).await;
    let (_a, addr_a, printed) = start_serve_with(&db.url, &[]);
    let key = key_of(&printed);
    let (_b, addr_b, _) = start_serve_with(&db.url, &[]);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("empty.toml");
    std::fs::write(&config, "").unwrap();
    let _w = start_worker(&db.url, config.to_str().unwrap());
    let rx = TestReceiver::start().await;
    rx.script((0..60).map(|_| Reply {
        delay: Duration::from_millis(300),
        ..Reply::status(200)
    }));
    api(
        &addr_a,
        &key,
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "capped", "endpoint": rx.url, "event_types": ["i_new"]}),
    )
    .await;
    let mut calls = vec![];
    for i in 0..60 {
        let node = if i % 2 == 0 {
            addr_a.clone()
        } else {
            addr_b.clone()
        };
        let key = key.clone();
        calls.push(tokio::spawn(async move {
            api(
                &node,
                &key,
                "/incident/create",
                json!({"title": format!("capped {i}"), "incident_severity": "Info"}),
            )
            .await
        }));
    }
    for c in calls {
        c.await.unwrap();
    }
    rx.wait_for(60).await;
    let most = rx.most_at_once();
    assert!(
        most <= 16,
        "{most} pushes in flight at once across the cluster"
    );
    assert!(most > 1, "pushes of different incidents go out in parallel");
}

/// An open circuit is shared: while the database says an endpoint's circuit
/// is open, no process of the cluster claims its deliveries; once it closes,
/// they go out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_open_circuit_holds_for_every_process() {
    let db = TestDb::new(Db::Postgres).await;
    let (_a, addr_a, printed) = start_serve_with(&db.url, &[]);
    let key = key_of(&printed);
    let (_b, addr_b, _) = start_serve_with(&db.url, &[]);
    let rx = TestReceiver::start().await;
    let hook = api(
        &addr_a,
        &key,
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "paused", "endpoint": rx.url, "event_types": ["i_new"]}),
    )
    .await["integration_id"]
        .as_i64()
        .unwrap();
    // As if another process had seen the endpoint fail five times.
    let store = dutyhook_store::open(&db.url, db.keyring()).await.unwrap();
    store
        .open_circuit(IntegrationId(hook), dutyhook_delivery::now_ms() + 600_000)
        .await
        .unwrap();
    for (i, node) in [&addr_a, &addr_b].into_iter().enumerate() {
        api(
            node,
            &key,
            "/incident/create",
            json!({"title": format!("paused {i}"), "incident_severity": "Info"}),
        )
        .await;
    }
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(rx.received().len(), 0, "no process pushes while it is open");
    store.close_circuit(IntegrationId(hook)).await.unwrap();
    rx.wait_for(2).await;
    store.close().await;
}

/// Several processes migrating one fresh database at once all succeed
/// (sqlx serialises PostgreSQL migrations with an advisory lock).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrations_from_several_processes_at_once() {
    let db = TestDb::new(Db::Postgres).await;
    let children: Vec<_> = (0..3)
        .map(|_| {
            dutyhook(&["migrate", "--database", &db.url])
                .env("DUTYHOOK_LOG", "warn")
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn dutyhook migrate")
        })
        .collect();
    for c in children {
        let out = c.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (_a, _, printed) = start_serve_with(&db.url, &[]);
    assert!(printed.iter().any(|l| l.contains("app key:")));
}
