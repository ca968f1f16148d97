//! Re-notify rounds of real `serve` processes: a SIGKILL between rounds
//! loses none and repeats none (each round is a row written with its mail's
//! delivery), and two processes on one PostgreSQL database queue each round
//! once. The incident's trigger time is moved back in the database to stand
//! for minutes passing.

use std::time::Duration;

use serde_json::{json, Value};

use crate::cli::{api, key_of, start_serve_with, Serve};
use crate::helpers::{Db, TestDb};
use crate::smtp::SmtpSink;

both_dbs!(a_kill_between_rounds_loses_and_repeats_none);

fn config(dir: &tempfile::TempDir, sink: &SmtpSink) -> String {
    let path = dir.path().join("dutyhook.toml");
    let text = format!(
        "delivery_lease_ms = 1000\n[smtp]\nurl = \"{}\"\nfrom = \"oncall@example.com\"\n",
        sink.url()
    );
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

fn serve(db: &TestDb, config: &str) -> (Serve, String, Vec<String>) {
    start_serve_with(&db.url, &["--config", config])
}

/// A channel that re-notifies every minute, `rounds` times, and an
/// incident in it assigned to Bob: its id.
async fn unacknowledged(addr: &str, key: &str, rounds: i64) -> String {
    let bob = api(
        addr,
        key,
        "/person/create",
        json!({"person_name": "Bob Li", "email": "bob@example.com", "role": "member"}),
    )
    .await["person_id"]
        .clone();
    let ch = api(
        addr,
        key,
        "/channel/create",
        json!({"channel_name": "Payments", "notify": {"renotify_minutes": 1, "renotify_rounds": rounds}}),
    )
    .await["channel_id"]
        .clone();
    api(
        addr,
        key,
        "/incident/create",
        json!({"title": "Checkout down", "incident_severity": "Critical", "channel_id": ch,
               "assigned_to": {"type": "assign", "person_ids": [bob]}}),
    )
    .await["incident_id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn pool(db: &TestDb) -> sqlx::AnyPool {
    sqlx::any::install_default_drivers();
    sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&db.url)
        .await
        .unwrap()
}

/// As if the incident had been triggered `secs` earlier.
async fn triggered_earlier(db: &TestDb, incident: &str, secs: i64) {
    let pool = pool(db).await;
    sqlx::query("UPDATE incidents SET start_time = start_time - $1 WHERE id = $2")
        .bind(secs)
        .bind(incident)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
}

async fn rounds_written(db: &TestDb, incident: &str) -> Vec<i64> {
    let pool = pool(db).await;
    let rows: Vec<(i64,)> =
        sqlx::query_as("SELECT round FROM renotify_rounds WHERE incident_id = $1 ORDER BY round")
            .bind(incident)
            .fetch_all(&pool)
            .await
            .unwrap();
    pool.close().await;
    rows.into_iter().map(|(r,)| r).collect()
}

/// The reminder round of each mail so far (0: not a reminder).
fn reminders(mails: &[Value]) -> Vec<i64> {
    mails
        .iter()
        .map(|m| {
            let s = m["subject"].as_str().unwrap();
            s.split("(reminder ")
                .nth(1)
                .and_then(|r| r.split(')').next())
                .map_or(0, |n| n.parse().unwrap())
        })
        .collect()
}

async fn until_reminder(sink: &SmtpSink, round: i64) -> Vec<i64> {
    match sink.until(|mails| reminders(mails).contains(&round)).await {
        Some(mails) => reminders(&mails),
        None => panic!("no reminder {round}: {:?}", reminders(&sink.mails())),
    }
}

async fn a_kill_between_rounds_loses_and_repeats_none(db: Db) {
    let db = TestDb::new(db).await;
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir, &sink);
    let (serve1, addr, printed) = serve(&db, &config);
    let key = key_of(&printed);
    let incident = unacknowledged(&addr, &key, 3).await;
    sink.wait_for(1).await;
    // Rounds 1 and 2 are due, round 3 not yet.
    triggered_earlier(&db, &incident, 150).await;
    until_reminder(&sink, 1).await;
    drop(serve1); // SIGKILL

    // A minute passes while it is down: round 3 comes due too.
    triggered_earlier(&db, &incident, 60).await;
    let (_serve2, _, _) = serve(&db, &config);
    until_reminder(&sink, 3).await;
    until_reminder(&sink, 2).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut sent = reminders(&sink.mails());
    sent.retain(|r| *r > 0);
    sent.sort_unstable();
    sent.dedup();
    assert_eq!(sent, [1, 2, 3], "every round mailed");
    assert_eq!(
        rounds_written(&db, &incident).await,
        [1, 2, 3],
        "each round once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_queue_each_round_once() {
    let db = TestDb::new(Db::Postgres).await;
    let sink = SmtpSink::start().await;
    let dir = tempfile::tempdir().unwrap();
    let config = config(&dir, &sink);
    let (_a, addr, printed) = serve(&db, &config);
    let key = key_of(&printed);
    let (_b, _, _) = serve(&db, &config);
    let incident = unacknowledged(&addr, &key, 2).await;
    sink.wait_for(1).await;
    triggered_earlier(&db, &incident, 130).await;
    until_reminder(&sink, 2).await;
    until_reminder(&sink, 1).await;
    // Both processes have looked several times by now.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(reminders(&sink.mails()), [0, 1, 2], "one mail per round");
    assert_eq!(rounds_written(&db, &incident).await, [1, 2]);
}
