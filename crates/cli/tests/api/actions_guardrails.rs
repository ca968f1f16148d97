//! Custom actions people can trust: typed inputs with defaults from the
//! incident, conditions on where an action shows, a cooldown per incident
//! and an hourly cap that hold under concurrent presses.

use serde_json::{json, Value};

use crate::actions::{incident_in, trigger};
use crate::helpers::{Db, TestApp};
use crate::receiver::{Reply, TestReceiver};

both_dbs!(
    inputs_are_checked_filled_and_pushed,
    conditions_hide_and_refuse,
    cooldown_and_cap_hold_under_concurrent_presses,
);

const TOO_FREQUENT: &str = "RequestTooFrequently";

pub(crate) async fn action(app: &TestApp, ch: i64, url: &str, extra: Value) -> i64 {
    let mut body = json!({"name": "Restart host", "channel_ids": [ch], "endpoint": url});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.ok("/integration/custom-action/create", body).await["integration_id"]
        .as_i64()
        .unwrap()
}

/// Triggers with `inputs`; answers (HTTP status, body).
async fn trigger_with(app: &TestApp, inc: &str, id: i64, inputs: Value) -> (u16, Value) {
    app.post(
        "/incident/action/trigger",
        json!({"incident_id": inc, "action_id": id, "inputs": inputs}),
    )
    .await
}

fn refusal(status: u16, body: &Value) -> (u16, String, String) {
    (
        status,
        body["error"]["code"].as_str().unwrap_or("").to_string(),
        body["error"]["message"].as_str().unwrap_or("").to_string(),
    )
}

async fn inputs_are_checked_filled_and_pushed(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let ch = app.channel("hosts").await;
    let inputs = json!([
        {"name": "host", "label": "Host", "type": "string", "required": true,
         "default": "{{incident.labels.host}}", "max_length": 20},
        {"name": "grace_s", "label": "Grace period", "type": "number", "default": 30},
        {"name": "force", "label": "Force", "type": "boolean"},
        {"name": "region", "label": "Region", "type": "choice", "options": ["eu", "us"], "default": "eu"},
        {"name": "note", "label": "Note", "type": "string", "default": "for {{incident.title}} {{incident.nope}}"}
    ]);
    let id = action(&app, ch, &rx.url, json!({"inputs": inputs})).await;
    let shown = app
        .ok(
            "/integration/custom-action/info",
            json!({"integration_id": id}),
        )
        .await;
    assert_eq!(shown["inputs"][0], inputs[0], "kept as written");
    assert_eq!(
        shown["inputs"][1]["required"],
        json!(false),
        "optional by default"
    );
    assert_eq!(shown["inputs"][3]["options"], json!(["eu", "us"]));

    // Definitions are checked, naming the input.
    let (s, b) = app
        .post(
            "/integration/custom-action/update",
            json!({"integration_id": id, "inputs": [{"name": "a b", "label": "x", "type": "string"}]}),
        )
        .await;
    assert_eq!(refusal(s, &b).0, 400, "{b}");
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .contains("inputs[0].name"),
        "{b}"
    );

    let inc = incident_in(&app, ch, "Disk full").await;
    app.ok(
        "/incident/labels/update",
        json!({"incident_id": inc, "labels": {"host": "db-7"}}),
    )
    .await;
    // The list carries the form, its defaults rendered for this incident.
    let listed = app
        .ok("/incident/action/list", json!({"incident_id": inc}))
        .await;
    let form = &listed["items"][0]["inputs"];
    assert_eq!(form[0]["default"], json!("db-7"), "{listed}");
    assert_eq!(
        form[4]["default"],
        json!("for Disk full "),
        "a missing path renders empty"
    );

    // Each wrong value is refused, naming the input; nothing is called.
    for (given, named) in [
        (json!({"host": 7}), "inputs.host"),
        (json!({"host": "x".repeat(21)}), "inputs.host"),
        (json!({"grace_s": "soon"}), "inputs.grace_s"),
        (json!({"force": "yes"}), "inputs.force"),
        (json!({"region": "mars"}), "inputs.region"),
        (json!({"nope": 1}), "inputs.nope"),
    ] {
        let (s, b) = trigger_with(&app, &inc, id, given.clone()).await;
        let (status, code, message) = refusal(s, &b);
        assert_eq!(
            (status, code.as_str()),
            (400, "InvalidParameter"),
            "{given}: {b}"
        );
        assert!(message.contains(named), "{given}: {message}");
    }
    assert!(rx.received().is_empty(), "no call for a refused trigger");
    let runs = app
        .ok("/incident/action/run/list", json!({"incident_id": inc}))
        .await;
    assert_eq!(runs["items"], json!([]), "no run for a refused trigger");

    // Given values and the defaults go out in the push, and stay on the run.
    let (s, r) = trigger_with(&app, &inc, id, json!({"force": true, "region": "us"})).await;
    assert_eq!(s, 200, "{r}");
    let want = json!({"host": "db-7", "grace_s": 30, "force": true, "region": "us", "note": "for Disk full "});
    assert_eq!(rx.received()[0].json()["inputs"], want);
    let run = app
        .ok(
            "/incident/action/run/info",
            json!({"run_id": r["data"]["run_id"]}),
        )
        .await;
    assert_eq!(run["inputs"], want);

    // A required input with nothing to default from must be given.
    let bare = incident_in(&app, ch, "No host label").await;
    let (s, b) = trigger_with(&app, &bare, id, json!({})).await;
    assert!(refusal(s, &b).2.contains("inputs.host"), "{b}");
    // An action without inputs pushes none.
    let plain = app.channel("plain").await;
    let other = action(&app, plain, &rx.url, json!({"name": "Ping"})).await;
    let inc2 = incident_in(&app, plain, "Plain").await;
    trigger(&app, &inc2, other).await;
    assert!(rx.received()[1].json().get("inputs").is_none());
}

async fn listed(app: &TestApp, inc: &str) -> usize {
    app.ok("/incident/action/list", json!({"incident_id": inc}))
        .await["items"]
        .as_array()
        .unwrap()
        .len()
}

async fn refused_for(app: &TestApp, inc: &str, id: i64) -> (u16, String, String) {
    let (s, b) = trigger_with(app, inc, id, json!({})).await;
    refusal(s, &b)
}

async fn conditions_hide_and_refuse(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let ch = app.channel("db").await;
    let when = json!({"severities": ["Critical"], "progress": ["Triggered"], "labels": {"env": ["prod", "staging"]}});
    let id = action(&app, ch, &rx.url, json!({"show_when": when})).await;
    let inc = app
        .ok(
            "/incident/create",
            json!({"title": "Replica lag", "incident_severity": "Warning", "channel_id": ch}),
        )
        .await["incident_id"]
        .as_str()
        .unwrap()
        .to_string();
    // Severity.
    assert_eq!(listed(&app, &inc).await, 0);
    let (s, code, m) = refused_for(&app, &inc, id).await;
    assert_eq!((s, code.as_str()), (400, "InvalidParameter"));
    assert!(
        m.contains("show_when.severities") && m.contains("Warning"),
        "{m}"
    );
    app.ok(
        "/incident/reset",
        json!({"incident_id": inc, "incident_severity": "Critical"}),
    )
    .await;
    // Labels.
    let (_, _, m) = refused_for(&app, &inc, id).await;
    assert!(
        m.contains("show_when.labels.env") && m.contains("not set"),
        "{m}"
    );
    app.ok(
        "/incident/labels/update",
        json!({"incident_id": inc, "labels": {"env": "dev"}}),
    )
    .await;
    let (_, _, m) = refused_for(&app, &inc, id).await;
    assert!(
        m.contains("show_when.labels.env") && m.contains("dev"),
        "{m}"
    );
    app.ok(
        "/incident/labels/update",
        json!({"incident_id": inc, "labels": {"env": "staging"}}),
    )
    .await;
    // All hold: listed and runs.
    assert_eq!(listed(&app, &inc).await, 1);
    assert_eq!(trigger(&app, &inc, id).await["success"], json!(true));
    // Progress.
    app.ok("/incident/ack", json!({"incident_ids": [inc]}))
        .await;
    assert_eq!(listed(&app, &inc).await, 0);
    let (_, _, m) = refused_for(&app, &inc, id).await;
    assert!(
        m.contains("show_when.progress") && m.contains("Processing"),
        "{m}"
    );
    assert_eq!(
        rx.received().len(),
        1,
        "only the press where all conditions held"
    );

    // Removing the conditions shows it again.
    app.ok(
        "/integration/custom-action/update",
        json!({"integration_id": id, "show_when": null}),
    )
    .await;
    assert_eq!(listed(&app, &inc).await, 1);
}

/// Fires `n` triggers of `id` at once, on `incidents` in turn; answers
/// the envelopes.
async fn at_once(app: &TestApp, incidents: &[String], id: i64, n: usize) -> Vec<Value> {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let inc = &incidents[i % incidents.len()];
            app.post_task(
                "/incident/action/trigger",
                json!({"incident_id": inc, "action_id": id}),
            )
        })
        .collect();
    let mut out = vec![];
    for t in tasks {
        out.push(t.await.unwrap());
    }
    out
}

fn count(answers: &[Value], code: Option<&str>) -> usize {
    answers
        .iter()
        .filter(|v| v["error"]["code"].as_str() == code)
        .count()
}

async fn cooldown_and_cap_hold_under_concurrent_presses(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let ch = app.channel("web").await;

    // Cooldown: 20 presses at once on one incident make exactly one run.
    let cool = action(
        &app,
        ch,
        &rx.url,
        json!({"name": "Flush cache", "cooldown_s": 600}),
    )
    .await;
    let inc = incident_in(&app, ch, "Slow pages").await;
    let answers = at_once(&app, std::slice::from_ref(&inc), cool, 20).await;
    assert_eq!(count(&answers, None), 1, "{answers:?}");
    assert_eq!(count(&answers, Some(TOO_FREQUENT)), 19, "{answers:?}");
    let refused = answers.iter().find(|v| v["error"].is_object()).unwrap();
    let m = refused["error"]["message"].as_str().unwrap();
    assert!(
        m.contains("cooldown of 600 s") && m.contains("next run is possible in"),
        "{m}"
    );
    assert_eq!(rx.received().len(), 1, "one call");
    let runs = app
        .ok("/incident/action/run/list", json!({"incident_id": inc}))
        .await;
    assert_eq!(runs["items"].as_array().unwrap().len(), 1, "one run");
    // Another incident has its own cooldown.
    let other = incident_in(&app, ch, "Slow search").await;
    assert_eq!(trigger(&app, &other, cool).await["success"], json!(true));

    // A failed run starts no cooldown: a person may press again.
    let broken = TestReceiver::start().await;
    broken.script([Reply::status(500), Reply::status(200)]);
    let retry = action(
        &app,
        ch,
        &broken.url,
        json!({"name": "Rotate logs", "cooldown_s": 600}),
    )
    .await;
    assert_eq!(trigger(&app, &inc, retry).await["status"], json!("failed"));
    assert_eq!(
        trigger(&app, &inc, retry).await["status"],
        json!("succeeded")
    );
    let (s, b) = trigger_with(&app, &inc, retry, json!({})).await;
    assert_eq!((s, &b["error"]["code"]), (429, &json!(TOO_FREQUENT)), "{b}");

    // The hourly cap counts across incidents: 20 at once, 3 allowed.
    let hooks = app.channel("hooks").await;
    let rx2 = TestReceiver::start().await;
    let capped = action(
        &app,
        hooks,
        &rx2.url,
        json!({"name": "Page vendor", "max_runs_per_hour": 3}),
    )
    .await;
    let mut incidents = vec![];
    for i in 0..5 {
        incidents.push(incident_in(&app, hooks, &format!("Vendor down {i}")).await);
    }
    let answers = at_once(&app, &incidents, capped, 20).await;
    assert_eq!(count(&answers, None), 3, "{answers:?}");
    assert_eq!(count(&answers, Some(TOO_FREQUENT)), 17, "{answers:?}");
    assert_eq!(rx2.received().len(), 3);
    let m = answers.iter().find(|v| v["error"].is_object()).unwrap()["error"]["message"].clone();
    assert!(m.as_str().unwrap().contains("3 runs per hour"), "{m}");
}
