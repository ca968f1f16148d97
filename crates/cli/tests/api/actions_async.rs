//! Long-running (`async`) custom actions: the push carries a callback URL
//! and token; callbacks move the run through running to its end, with
//! progress, messages and write-back; the deadline ends it as timed_out; a
//! person may cancel it, and the endpoint is told once.

use std::time::Duration;

use serde_json::{json, Value};

use crate::actions::{feed, history, incident_in, trigger};
use crate::helpers::{Db, TestApp, PUBLIC_URL};
use crate::receiver::{Reply, TestReceiver};

both_dbs!(
    an_async_run_lives_through_its_callbacks,
    async_runs_fail_time_out_and_cancel,
);

async fn async_action(app: &TestApp, ch: i64, name: &str, url: &str, deadline_s: i64) -> i64 {
    app.ok(
        "/integration/custom-action/create",
        json!({"name": name, "channel_ids": [ch], "endpoint": url, "mode": "async",
               "async_deadline_s": deadline_s, "write_back": ["labels", "links"]}),
    )
    .await["integration_id"]
        .as_i64()
        .unwrap()
}

/// Posts a callback with `token`; answers (HTTP status, body).
async fn callback(app: &TestApp, token: Option<&str>, body: Value) -> (u16, Value) {
    let mut req = app.client.post(app.url("/action-run/callback")).json(&body);
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

async fn run_info(app: &TestApp, run_id: &Value) -> Value {
    app.ok("/incident/action/run/info", json!({"run_id": run_id}))
        .await
}

/// The `run` field of the n-th push an endpoint received.
fn pushed_run(rx: &TestReceiver, n: usize) -> Value {
    rx.received()[n].json()["run"].clone()
}

async fn an_async_run_lives_through_its_callbacks(db: Db) {
    let app = TestApp::spawn(db).await;
    let hooks = TestReceiver::start().await;
    app.ok(
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "runs", "endpoint": hooks.url, "event_types": ["i_custom"]}),
    )
    .await;
    let ch = app.channel("deploys").await;
    let inc = incident_in(&app, ch, "Bad deploy").await;
    let rx = TestReceiver::start().await;
    rx.script([Reply {
        headers: vec![("content-type", "application/json".into())],
        body: json!({"message": "rollback started"}).to_string(),
        ..Reply::status(202)
    }]);
    let id = async_action(&app, ch, "Roll back", &rx.url, 600).await;
    let r = trigger(&app, &inc, id).await;
    assert_eq!(r["success"], json!(true), "{r}");
    assert_eq!(r["status"], json!("running"));
    assert_eq!(r["message"], json!("rollback started"));

    // The push says where, with what and by when to report.
    let run = pushed_run(&rx, 0);
    assert_eq!(run["run_id"], r["run_id"]);
    assert_eq!(run["status"], json!("running"));
    assert_eq!(
        run["callback_url"],
        json!(format!("{PUBLIC_URL}/action-run/callback"))
    );
    let token = run["callback_token"].as_str().unwrap().to_string();
    assert!(token.starts_with("dhrun_") && token.len() > 40, "{token}");
    let deadline = run["deadline"].as_i64().unwrap();
    assert!(
        (deadline - crate::helpers::now_s() - 600).abs() <= 5,
        "{run}"
    );
    let h = history(&app, id).await;
    assert!(
        !h[0]["request"].to_string().contains(&token),
        "the token is masked in the history"
    );

    // Wrong, missing and another's tokens are refused.
    let (s, b) = callback(&app, Some("dhrun_nope"), json!({"status": "running"})).await;
    assert_eq!(
        (s, &b["error"]["code"]),
        (401, &json!("Unauthorized")),
        "{b}"
    );
    let (s, _) = callback(&app, None, json!({"status": "running"})).await;
    assert_eq!(s, 401);
    let (s, b) = callback(&app, Some(&token), json!({"status": "done"})).await;
    assert_eq!(s, 400, "{b}");
    assert!(
        b["error"]["message"].as_str().unwrap().contains("status"),
        "{b}"
    );
    let (s, b) = callback(
        &app,
        Some(&token),
        json!({"status": "running", "progress": 101}),
    )
    .await;
    assert_eq!(s, 400, "{b}");

    // Progress with a message: on the timeline; progress alone: not.
    let before = feed(&app, &inc).await["items"].as_array().unwrap().len();
    let (s, b) = callback(
        &app,
        Some(&token),
        json!({"status": "running", "progress": 40, "message": "step 2 of 5"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["progress"], json!(40));
    let (s, _) = callback(
        &app,
        Some(&token),
        json!({"status": "running", "progress": 60}),
    )
    .await;
    assert_eq!(s, 200);
    let run = run_info(&app, &r["run_id"]).await;
    assert_eq!(
        (&run["progress"], &run["message"]),
        (&json!(60), &json!("step 2 of 5"))
    );
    assert_eq!(
        feed(&app, &inc).await["items"].as_array().unwrap().len(),
        before + 1
    );

    // The end, with write-back.
    let (s, b) = callback(
        &app,
        Some(&token),
        json!({"status": "succeeded", "message": "rolled back to v41",
               "labels": {"version": "v41"},
               "links": [{"title": "Pipeline", "url": "https://ci.example/p/9"}]}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["data"]["status"], json!("succeeded"));
    assert_eq!(
        b["data"]["write_back"]["applied"],
        json!(["labels", "links"])
    );
    let i = app.info(&inc).await;
    assert_eq!(i["labels"]["version"], json!("v41"));
    assert_eq!(i["links"][0]["url"], json!("https://ci.example/p/9"));
    let run = run_info(&app, &r["run_id"]).await;
    assert_eq!(run["status"], json!("succeeded"));
    assert_eq!(run["progress"], json!(100));
    assert!(run["finished_at"].as_i64().unwrap() > 0);

    // Finished: later callbacks change nothing.
    let (s, b) = callback(&app, Some(&token), json!({"status": "failed"})).await;
    assert_eq!(s, 400, "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already finished"),
        "{b}"
    );
    assert_eq!(
        run_info(&app, &r["run_id"]).await["status"],
        json!("succeeded")
    );

    // Incident webhooks learnt each change of status or message.
    let statuses: Vec<Value> = hooks
        .wait_for(3)
        .await
        .iter()
        .map(|p| {
            let v = p.json();
            assert_eq!(v["action"]["run_id"], r["run_id"]);
            v["action"]["status"].clone()
        })
        .collect();
    assert_eq!(
        statuses,
        [json!("running"), json!("running"), json!("succeeded")]
    );
    assert_eq!(rx.received().len(), 1, "the endpoint was called once");
}

async fn async_runs_fail_time_out_and_cancel(db: Db) {
    let app = TestApp::spawn(db).await;
    let ch = app.channel("deploys").await;
    let inc = incident_in(&app, ch, "Canary red").await;
    let rx = TestReceiver::start().await;
    let id = async_action(&app, ch, "Canary", &rx.url, 10).await;

    // A failure reported by the endpoint.
    let a = trigger(&app, &inc, id).await;
    let token_a = pushed_run(&rx, 0)["callback_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, b) = callback(
        &app,
        Some(&token_a),
        json!({"status": "failed", "message": "canary red"}),
    )
    .await;
    assert_eq!(s, 200, "{b}");
    let run = run_info(&app, &a["run_id"]).await;
    assert_eq!(
        (&run["status"], &run["message"]),
        (&json!("failed"), &json!("canary red"))
    );

    // A run nobody finishes: timed out at its deadline, its token expired.
    let b_run = trigger(&app, &inc, id).await;
    let token_b = pushed_run(&rx, 1)["callback_token"]
        .as_str()
        .unwrap()
        .to_string();
    app.state.clock.advance(Duration::from_secs(11));
    let mut run = Value::Null;
    for _ in 0..400 {
        run = run_info(&app, &b_run["run_id"]).await;
        if run["status"] != json!("running") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(run["status"], json!("timed_out"), "{run}");
    let (s, b) = callback(&app, Some(&token_b), json!({"status": "succeeded"})).await;
    assert_eq!(s, 401, "an expired token: {b}");

    // Cancel: the endpoint is told once, signed, with a new event id.
    let c = trigger(&app, &inc, id).await;
    assert_eq!(c["status"], json!("running"));
    // Another run's token (A's, expired with A's deadline) never acts on this one.
    let (s, _) = callback(&app, Some(&token_a), json!({"status": "succeeded"})).await;
    assert_eq!(s, 401);
    assert_eq!(
        run_info(&app, &c["run_id"]).await["status"],
        json!("running")
    );
    let cancelled = app
        .ok(
            "/incident/action/run/cancel",
            json!({"run_id": c["run_id"]}),
        )
        .await;
    assert_eq!(cancelled["status"], json!("cancelled"), "{cancelled}");
    let got = rx.wait_for(4).await;
    assert_eq!(got.len(), 4);
    let told = got[3].json();
    assert_eq!(told["run"]["status"], json!("cancelled"));
    assert_eq!(told["run"]["run_id"], c["run_id"]);
    assert!(told["run"].get("callback_token").is_none(), "{told}");
    assert_ne!(got[3].header("webhook-id"), got[2].header("webhook-id"));
    assert!(!got[3].header("webhook-signature").is_empty());
    let run = run_info(&app, &c["run_id"]).await;
    assert_eq!(run["invocation_ids"].as_array().unwrap().len(), 2, "{run}");
    let token_c = pushed_run(&rx, 2)["callback_token"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, _) = callback(&app, Some(&token_c), json!({"status": "succeeded"})).await;
    assert_eq!(s, 400, "a cancelled run refuses callbacks");
    let m = app
        .fails(
            "/incident/action/run/cancel",
            json!({"run_id": c["run_id"]}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(m.contains("cancelled"), "{m}");

    // An acknowledgement that fails fails the run at once.
    rx.script([Reply::status(500)]);
    let d = trigger(&app, &inc, id).await;
    assert_eq!(
        (&d["success"], &d["status"]),
        (&json!(false), &json!("failed"))
    );

    // Every status change is on the timeline.
    let statuses: Vec<Value> = feed(&app, &inc).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == json!("i_custom"))
        .map(|e| e["detail"]["status"].clone())
        .collect();
    for s in ["failed", "timed_out", "cancelled"] {
        assert!(statuses.contains(&json!(s)), "{s} in {statuses:?}");
    }
}
