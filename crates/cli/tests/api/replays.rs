//! Replay (`delivery.md`, "Delivery health"): what failed or was skipped in
//! a window goes out again, oldest first, each incident's order kept, with
//! the same event ids, at the asked rate; progress and cancel; a kill -9
//! mid-replay goes on where it stopped.

use std::time::Duration;

use serde_json::{json, Value};

use crate::cli::{api, key_of, start_serve};
use crate::helpers::{now_s, Db, TestApp, TestDb};
use crate::receiver::{Reply, TestReceiver};

both_dbs!(
    unsent_deliveries_go_out_again_in_order,
    replays_refuse_what_they_cannot_do_and_cancel,
    a_replay_survives_a_kill
);

/// An incident webhook to `rx`, created disabled: every delivery is skipped.
async fn disabled_hook(app: &TestApp, rx: &TestReceiver, extra: Value) -> Value {
    let mut body =
        json!({"kind": "incident", "name": "relay", "endpoint": rx.url, "enabled": false});
    body.as_object_mut()
        .unwrap()
        .extend(extra.as_object().unwrap().clone());
    app.ok("/integration/webhook/create", body).await["integration_id"].clone()
}

async fn info(app: &TestApp, replay: &Value) -> Value {
    app.ok(
        "/integration/history/replay/info",
        json!({"replay_id": replay}),
    )
    .await
}

async fn unsent_deliveries_go_out_again_in_order(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let hook = disabled_hook(&app, &rx, json!({"retry_policy": "none"})).await;
    let id = app.incident("Database failover").await;
    app.ok("/incident/ack", json!({"incident_ids": [id]})).await;
    for n in 0..3 {
        app.ok(
            "/incident/comment",
            json!({"incident_ids": [id], "comment": format!("step {n}")}),
        )
        .await;
    }
    // Two more fail once enabled (no retries).
    app.ok(
        "/integration/webhook/enable",
        json!({"integration_id": hook}),
    )
    .await;
    rx.script([Reply::status(500), Reply::status(500)]);
    app.ok(
        "/incident/comment",
        json!({"incident_ids": [id], "comment": "step 3"}),
    )
    .await;
    app.ok(
        "/incident/comment",
        json!({"incident_ids": [id], "comment": "step 4"}),
    )
    .await;
    let failed = rx.wait_for(2).await;
    app.attempts(hook.as_i64().unwrap(), 2).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let outbox: Vec<String> = app
        .events()
        .await
        .iter()
        .filter(|e| e["incident"]["incident_id"] == id.as_str())
        .map(|e| e["event_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(outbox.len(), 7, "i_new, i_ack and five comments");

    let started = app
        .ok(
            "/integration/history/replay",
            json!({"integration_id": hook, "start_time": now_s() - 600, "end_time": now_s() + 60,
                   "rate_per_s": 3}),
        )
        .await;
    assert_eq!(started["count"], 7, "{started}");
    let replay = started["replay_id"].clone();
    let mut seen_partway = false;
    let done = loop {
        let i = info(&app, &replay).await;
        let queued = i["queued"].as_i64().unwrap();
        seen_partway |= queued > 0 && queued < 7;
        if i["state"] == "finished" && i["pending"] == 0 {
            break i;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(
        seen_partway,
        "queued a few at a time at 3/s, not all at once"
    );
    assert_eq!(
        (
            &done["total"],
            &done["pushed"],
            &done["failed"],
            &done["rate_per_s"]
        ),
        (&json!(7), &json!(7), &json!(0), &json!(3)),
        "{done}"
    );
    let again: Vec<String> = rx.received()[failed.len()..]
        .iter()
        .map(|r| r.json()["event_id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(again, outbox, "same event ids, oldest first, each once");

    // Only the failed ones, in a second replay: the two comments.
    let second = app
        .ok(
            "/integration/history/replay",
            json!({"integration_id": hook, "start_time": now_s() - 600, "end_time": now_s() + 60,
                   "status": ["failed"]}),
        )
        .await;
    assert_eq!(second["count"], 2, "{second}");
}

async fn replays_refuse_what_they_cannot_do_and_cancel(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let hook = disabled_hook(&app, &rx, json!({"event_types": ["i_new"]})).await;
    for n in 0..6 {
        app.incident(&format!("Skipped {n}")).await;
    }
    let window = |extra: Value| {
        let mut b =
            json!({"integration_id": hook, "start_time": now_s() - 600, "end_time": now_s() + 60});
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    };
    let replay = "/integration/history/replay";
    let m = app
        .fails(replay, window(json!({})), 400, "InvalidParameter")
        .await;
    assert!(
        m.starts_with("integration_id") && m.contains("disabled"),
        "{m}"
    );
    app.ok(
        "/integration/webhook/enable",
        json!({"integration_id": hook}),
    )
    .await;
    for (extra, field) in [
        (json!({"rate_per_s": 0}), "rate_per_s"),
        (json!({"rate_per_s": 1001}), "rate_per_s"),
        (json!({"status": []}), "status"),
        (
            json!({"start_time": now_s(), "end_time": now_s() - 10}),
            "end_time",
        ),
    ] {
        let m = app
            .fails(replay, window(extra.clone()), 400, "InvalidParameter")
            .await;
        assert!(m.starts_with(field), "{extra}: {m}");
    }
    let m = app
        .fails(
            replay,
            window(json!({"status": ["pending"]})),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(m.contains("status"), "{m}");
    app.fails(
        replay,
        window(json!({"integration_id": 999})),
        404,
        "ResourceNotFound",
    )
    .await;
    app.fails(
        "/integration/history/replay/info",
        json!({"replay_id": "0123456789abcdef01234567"}),
        404,
        "ResourceNotFound",
    )
    .await;

    let started = app.ok(replay, window(json!({"rate_per_s": 1}))).await;
    assert_eq!(started["count"], 6);
    let id = started["replay_id"].clone();
    app.ok(
        "/integration/history/replay/cancel",
        json!({"replay_id": id}),
    )
    .await;
    let i = info(&app, &id).await;
    assert_eq!(i["state"], "cancelled", "{i}");
    assert!(i["queued"].as_i64().unwrap() < 6, "{i}");
    let queued = i["queued"].clone();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        info(&app, &id).await["queued"],
        queued,
        "nothing queued after the cancel"
    );
    let m = app
        .fails(
            "/integration/history/replay/cancel",
            json!({"replay_id": id}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(m.contains("cancelled"), "{m}");
    // An empty window is a finished replay of nothing.
    let empty = app
        .ok(replay, window(json!({"start_time": 0, "end_time": 1})))
        .await;
    assert_eq!(empty["count"], 0);
    assert_eq!(info(&app, &empty["replay_id"]).await["state"], "finished");
}

async fn a_replay_survives_a_kill(db: Db) {
    let db = TestDb::new(db).await;
    let rx = TestReceiver::start().await;
    let (serve, addr, printed) = start_serve(&db.url);
    let key = key_of(&printed);
    let call = |path: &'static str, body: Value| {
        let (addr, key) = (addr.clone(), key.clone());
        async move { api(&addr, &key, path, body).await }
    };
    let hook = call(
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "relay", "endpoint": rx.url, "enabled": false,
               "event_types": ["i_new"]}),
    )
    .await["integration_id"]
        .clone();
    for n in 0..12 {
        call(
            "/incident/create",
            json!({"title": format!("Skipped {n}"), "incident_severity": "Info"}),
        )
        .await;
    }
    call(
        "/integration/webhook/enable",
        json!({"integration_id": hook}),
    )
    .await;
    let replay = call(
        "/integration/history/replay",
        json!({"integration_id": hook, "start_time": now_s() - 600, "end_time": now_s() + 60,
               "rate_per_s": 4}),
    )
    .await["replay_id"]
        .clone();
    rx.wait_for(4).await;
    drop(serve); // SIGKILL
    let before = rx.received().len();
    assert!(before < 12, "killed mid-replay ({before} pushed)");
    let (serve, addr, _) = start_serve(&db.url);
    let info = finished(&addr, &key, &replay).await;
    assert_eq!(info["pushed"], 12, "{info}");
    let (all, titles) = pushes_and_titles(&rx);
    assert_eq!(titles, 12, "every skipped event went out");
    // At least once: only a push in flight at the kill may be seen twice.
    assert!(all <= 13, "{all} pushes for 12 events");
    drop(serve);
}

/// Polls a replay through the process at `addr` until it has queued
/// everything and nothing of it is on its way; answers its info.
pub(crate) async fn finished(addr: &str, key: &str, replay: &Value) -> Value {
    loop {
        let i = api(
            addr,
            key,
            "/integration/history/replay/info",
            json!({"replay_id": replay}),
        )
        .await;
        if i["state"] == "finished" && i["pending"] == 0 {
            return i;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// How many pushes `rx` got, and for how many different incident titles.
pub(crate) fn pushes_and_titles(rx: &TestReceiver) -> (usize, usize) {
    let mut titles: Vec<String> = rx
        .received()
        .iter()
        .map(|r| r.json()["incident"]["title"].as_str().unwrap().to_string())
        .collect();
    let all = titles.len();
    titles.sort();
    titles.dedup();
    (all, titles.len())
}
