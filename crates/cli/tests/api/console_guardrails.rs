//! The console's guardrails in a real headless Chromium: a form of inputs
//! with a confirmation, Run again, and a run approved by a second person in
//! a second browser context.

use serde_json::{json, Value};

use crate::actions_guardrails::action;
use crate::browser::{browser_ready, run_in_browser};
use crate::helpers::{Db, TestApp, ADMIN_EMAIL};
use crate::receiver::TestReceiver;

both_dbs!(guardrails_in_a_real_browser);

async fn guardrails_in_a_real_browser(db: Db) {
    if !browser_ready() {
        eprintln!("skipped: Chromium or playwright-core is not installed");
        return;
    }
    let app = TestApp::spawn(db).await;
    let (bea, _) =
        dutyhook_server::bootstrap::create_admin(&app.state, "Bea Second", "bea@example.com")
            .await
            .expect("a second admin");
    let restart = TestReceiver::start().await;
    let failover = TestReceiver::start().await;
    let ch = app.channel("web").await;
    let inputs = json!([
        {"name": "host", "label": "Host", "type": "string", "required": true, "default": "{{incident.labels.host}}"},
        {"name": "mode", "label": "Mode", "type": "choice", "options": ["graceful", "hard"], "default": "graceful"}
    ]);
    let restart_id = action(
        &app,
        ch,
        &restart.url,
        json!({"inputs": inputs, "confirm": true}),
    )
    .await;
    action(
        &app,
        ch,
        &failover.url,
        json!({"name": "Fail over", "approval": {}}),
    )
    .await;
    let title = "Web tier <b>slow</b>";
    let inc = app
        .ok(
            "/incident/create",
            json!({"title": title, "incident_severity": "Critical", "channel_id": ch}),
        )
        .await["incident_id"]
        .as_str()
        .unwrap()
        .to_string();
    app.ok(
        "/incident/labels/update",
        json!({"incident_id": inc, "labels": {"host": "web-1"}}),
    )
    .await;

    let shots = tempfile::tempdir().unwrap();
    run_in_browser(
        &app,
        "guardrails.mjs",
        shots.path(),
        &[
            ("EMAIL2", "bea@example.com"),
            ("PASSWORD2", &bea.password),
            ("INCIDENT", &inc),
            ("TITLE", title),
        ],
    )
    .await;
    if let Some(dir) = std::env::var_os("DUTYHOOK_SCREENSHOTS") {
        std::fs::create_dir_all(&dir).unwrap();
        for shot in std::fs::read_dir(shots.path()).unwrap() {
            let shot = shot.unwrap();
            std::fs::copy(
                shot.path(),
                std::path::Path::new(&dir).join(shot.file_name()),
            )
            .unwrap();
        }
    }

    // The integration center changed the cooldown and kept the rest.
    let saved = app
        .ok(
            "/integration/custom-action/info",
            json!({"integration_id": restart_id}),
        )
        .await;
    assert_eq!(saved["cooldown_s"], json!(5));
    assert_eq!(saved["confirm"], json!(true));
    assert_eq!(saved["inputs"][1]["options"], json!(["graceful", "hard"]));
    assert_eq!(saved["approval"], Value::Null);

    // One call of the form's values; one call of the approved run, made as
    // the requester's with the approver named.
    let pushed: Vec<Value> = restart.received().iter().map(|r| r.json()).collect();
    assert_eq!(pushed.len(), 1, "cancelled forms call nothing: {pushed:?}");
    assert_eq!(
        pushed[0]["inputs"],
        json!({"host": "web-2", "mode": "hard"})
    );
    let approved = failover.received();
    assert_eq!(approved.len(), 1);
    let approved = approved[0].json();
    assert_eq!(approved["person"]["email"], json!(ADMIN_EMAIL));
    assert_eq!(
        approved["run"]["approved_by"]["email"],
        json!("bea@example.com")
    );
}
