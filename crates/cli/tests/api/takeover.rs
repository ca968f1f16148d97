//! A process killed with its deliveries leased (`open-api.md`,
//! "Robustness"): the other processes take them over within seconds, and a
//! restarted process takes back its own — not after the two-minute lease.
//!
//! The kill leaves the victim holding more leases than the in-flight cap
//! (alone on an endpoint, a process claims ahead); a live process used to
//! count those against the cap and push nothing to that endpoint, for any
//! incident, until they expired.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::cli::{api, key_of, start_serve_with, Serve};
use crate::helpers::{Db, TestDb};
use crate::receiver::{Reply, TestReceiver};

/// How long the test waits: well under the default two-minute lease, so
/// that only a takeover can deliver in time.
const PATIENCE: Duration = Duration::from_secs(60);

/// Starts a process, points a webhook at a receiver whose first 16 pushes
/// hang, and creates 40 incidents: the process holds leases for them all.
async fn victim(db: &TestDb, rx: &TestReceiver) -> (Serve, String) {
    rx.script((0..16).map(|_| Reply {
        delay: Duration::from_secs(300),
        ..Reply::status(200)
    }));
    let (serve, addr, printed) = start_serve_with(&db.url, &[]);
    let key = key_of(&printed);
    api(
        &addr,
        &key,
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "slow", "endpoint": rx.url,
               "event_types": ["i_new"], "timeout_ms": 30000}),
    )
    .await;
    for i in 0..40 {
        api(
            &addr,
            &key,
            "/incident/create",
            json!({"title": format!("leased {i}"), "incident_severity": "Info"}),
        )
        .await;
    }
    rx.wait_for(16).await;
    (serve, key)
}

/// Waits until every one of the 40 events arrived (some twice: those cut
/// off by the kill); answers how long that took.
async fn all_delivered(rx: &TestReceiver, since: Instant) -> Duration {
    loop {
        let ids: HashSet<String> = rx
            .received()
            .iter()
            .map(|r| r.header("webhook-id"))
            .collect();
        if ids.len() == 40 {
            return since.elapsed();
        }
        assert!(
            since.elapsed() < PATIENCE,
            "{} of 40 events delivered {PATIENCE:?} after the kill",
            ids.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_process_takes_over_a_killed_ones_leases() {
    let db = TestDb::new(Db::Postgres).await;
    let rx = TestReceiver::start().await;
    let (mut a, _key) = victim(&db, &rx).await;
    let (_b, _, _) = start_serve_with(&db.url, &[]);
    a.kill();
    let took = all_delivered(&rx, Instant::now()).await;
    eprintln!("delivered everything {took:?} after the kill, by the live process");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_process_takes_back_its_leases() {
    let db = TestDb::new(Db::Postgres).await;
    let rx = TestReceiver::start().await;
    let (mut a, _key) = victim(&db, &rx).await;
    a.kill();
    let killed = Instant::now();
    let (_a, _, _) = start_serve_with(&db.url, &[]);
    let took = all_delivered(&rx, killed).await;
    eprintln!("delivered everything {took:?} after the kill, by the restarted process");
}
