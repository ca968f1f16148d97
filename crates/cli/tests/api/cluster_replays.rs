//! A replay on PostgreSQL with two `serve` processes: one of them paces it
//! at a time; the process that started it is SIGKILLed midway and the other
//! finishes it, every event out, none queued twice.

use serde_json::json;

use crate::cli::{api, key_of, start_serve};
use crate::helpers::{now_s, Db, TestDb};
use crate::receiver::TestReceiver;
use crate::replays::{finished, pushes_and_titles};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replay_outlives_the_process_that_started_it() {
    let db = TestDb::new(Db::Postgres).await;
    let rx = TestReceiver::start().await;
    let (a, addr_a, printed) = start_serve(&db.url);
    let key = key_of(&printed);
    let (_b, addr_b, _) = start_serve(&db.url);
    let hook = api(
        &addr_a,
        &key,
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "relay", "endpoint": rx.url, "enabled": false,
               "event_types": ["i_new"]}),
    )
    .await["integration_id"]
        .clone();
    for n in 0..12 {
        let addr = if n % 2 == 0 { &addr_a } else { &addr_b };
        api(
            addr,
            &key,
            "/incident/create",
            json!({"title": format!("Skipped {n}"), "incident_severity": "Info"}),
        )
        .await;
    }
    api(
        &addr_b,
        &key,
        "/integration/webhook/enable",
        json!({"integration_id": hook}),
    )
    .await;
    let replay = api(
        &addr_a,
        &key,
        "/integration/history/replay",
        json!({"integration_id": hook, "start_time": now_s() - 600, "end_time": now_s() + 60,
               "rate_per_s": 4}),
    )
    .await["replay_id"]
        .clone();
    rx.wait_for(3).await;
    drop(a); // SIGKILL
    let info = finished(&addr_b, &key, &replay).await;
    assert_eq!(
        (&info["total"], &info["queued"]),
        (&json!(12), &json!(12)),
        "{info}"
    );
    let (all, titles) = pushes_and_titles(&rx);
    assert_eq!(titles, 12, "every event went out");
    // At least once: a push in flight in the killed process may go again.
    assert!(all <= 14, "{all} pushes for 12 events");
}
