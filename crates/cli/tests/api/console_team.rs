//! The console used by a team, in a real headless Chromium (`team.mjs`): an
//! admin hands out sign-in links, a member works an incident, a viewer only
//! reads. The people start without passwords, as `/person/create` makes them.

use serde_json::json;

use crate::browser::{browser_ready, run_in_browser};
use crate::helpers::Db;
use crate::smtp::{recipients, SmtpSink};

both_dbs!(a_team_in_a_real_browser);

const MEMBER: &str = "lin@example.com";
const VIEWER: &str = "sam@example.com";

async fn a_team_in_a_real_browser(db: Db) {
    if !browser_ready() {
        eprintln!("skipped: Chromium or playwright-core is not installed");
        return;
    }
    // Assignments are mailed; the E-mail tab sends a test mail.
    let sink = SmtpSink::start().await;
    let app = crate::notifications::spawn(db, &sink.url()).await;
    let (lin, _) = app.person("Lin Okafor", MEMBER, "member").await;
    app.person("Sam Reyes", VIEWER, "viewer").await;
    let target = app.incident("Checkout p99 latency above 2 s").await;
    let source = app.incident("Payment gateway answers 502").await;
    let monitoring = app.channel("Monitoring").await;
    let key = crate::alerts::source(&app, monitoring, "standard").await;
    crate::alerts::pushed(
        &app,
        &key,
        json!({"event_status": "Warning", "title_rule": "Disk almost full on db-7",
               "alert_key": "disk-db-7", "labels": {"host": "db-7"}}),
    )
    .await;
    // A relay that is down: what the member does fails to reach it (and is
    // replayed from the console).
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let down = format!("http://{}/hook", closed.local_addr().unwrap());
    drop(closed);
    app.ok(
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "Ops relay", "endpoint": down, "retry_policy": "none"}),
    )
    .await;

    let shots = tempfile::tempdir().unwrap();
    run_in_browser(
        &app,
        "team.mjs",
        shots.path(),
        &[("MEMBER", MEMBER), ("VIEWER", VIEWER)],
    )
    .await;

    // What the member did is theirs on the record.
    let feed = app
        .ok(
            "/incident/feed",
            json!({"incident_id": source, "limit": 100}),
        )
        .await;
    let by_lin: Vec<&str> = feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["creator_id"] == lin)
        .map(|i| i["type"].as_str().unwrap())
        .collect();
    for kind in ["i_ack", "i_assign", "i_rslv"] {
        assert!(by_lin.contains(&kind), "{kind} by Lin: {by_lin:?}");
    }
    let target = app.info(&target).await;
    assert_eq!(target["progress"], "Triggered");
    // The assignment went out by mail, and the test mail the admin sent.
    let mails = sink.mails();
    let to: Vec<Vec<String>> = mails.iter().map(recipients).collect();
    assert!(
        to.contains(&vec!["ada@example.com".into(), MEMBER.into()]),
        "{to:?}"
    );
    assert!(mails.iter().any(|m| m["subject"]
        .as_str()
        .unwrap()
        .contains("Test mail from dutyhook")));
}
