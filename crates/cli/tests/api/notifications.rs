//! E-mail notifications through a real SMTP server (aiosmtpd): assignees
//! and added responders are mailed, a channel may mail its team on new
//! incidents, a person may turn mail off, re-notify rounds follow the clock
//! until someone acknowledges, and a failing server is retried and its
//! failures kept in the e-mail integration's history.

use std::time::Duration;

use serde_json::{json, Value};

use crate::alerts::{pushed, source};
use crate::helpers::{with_fields, Db, TestApp, PUBLIC_URL};
use crate::smtp::{recipients, SmtpSink};

both_dbs!(
    assignees_and_added_responders_are_mailed,
    a_channel_mails_its_team_but_not_who_turned_mail_off,
    renotify_rounds_follow_the_clock_until_acknowledged,
    a_refusing_server_is_retried_and_a_dead_one_fails_in_history,
    settings_are_checked_and_named
);

pub async fn spawn(db: Db, smtp: &str) -> TestApp {
    spawn_trusting(db, smtp, None).await
}

/// With `ca_pem` trusted for the SMTP server's certificate.
pub async fn spawn_trusting(db: Db, smtp: &str, ca_pem: Option<Vec<u8>>) -> TestApp {
    let url = smtp.to_string();
    TestApp::spawn_with(db, move |c| {
        c.smtp = Some(dutyhook_server::SmtpConfig {
            url,
            from: "dutyhook <oncall@example.com>".into(),
            ca_pem,
        });
    })
    .await
}

/// The e-mail integration's id, once it is made.
pub async fn mail_integration(app: &TestApp) -> i64 {
    for _ in 0..200 {
        let info = app.ok("/integration/email/info", json!({})).await;
        if info["integration_id"].as_i64() > Some(0) {
            return info["integration_id"].as_i64().unwrap();
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("the e-mail integration was never made");
}

async fn notified(app: &TestApp, incident: &str) -> Vec<Value> {
    let feed = app
        .ok(
            "/incident/feed",
            json!({"incident_id": incident, "types": ["i_notify"], "asc": true}),
        )
        .await;
    feed["items"].as_array().unwrap().clone()
}

/// The channel "Payments" with `settings`, its team "Payments team" of
/// `members`.
async fn payments(app: &TestApp, members: Value, settings: Value) -> i64 {
    let team = app
        .ok(
            "/team/create",
            json!({"team_name": "Payments team", "person_ids": members}),
        )
        .await["team_id"]
        .clone();
    let channel = json!({"channel_name": "Payments", "team_id": team});
    app.ok("/channel/create", with_fields(&channel, settings))
        .await["channel_id"]
        .as_i64()
        .unwrap()
}

/// Waits a few re-notify passes, then answers the mails so far.
async fn settled(sink: &SmtpSink) -> Vec<Value> {
    tokio::time::sleep(Duration::from_millis(600)).await;
    sink.mails()
}

async fn assignees_and_added_responders_are_mailed(db: Db) {
    let sink = SmtpSink::start().await;
    let app = spawn(db, &sink.url()).await;
    mail_integration(&app).await;
    let ch = app.channel("Payments").await;
    let (bob, _) = app.person("Bob Li", "bob@example.com", "member").await;
    let (cy, _) = app.person("Cy Ray", "cy@example.com", "member").await;
    let title = "Checkout <b>latency</b> & errors";
    let id = app
        .ok(
            "/incident/create",
            json!({"title": title, "incident_severity": "Critical", "channel_id": ch,
                   "assigned_to": {"type": "assign", "person_ids": [bob]}}),
        )
        .await["incident_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mail = &sink.wait_for(1).await[0];
    assert_eq!(recipients(mail), ["bob@example.com"]);
    let num = id[id.len() - 6..].to_uppercase();
    assert_eq!(
        mail["subject"],
        format!("[Critical] You are responding to: {title} (#{num})")
    );
    assert_eq!(mail["from"], "dutyhook <oncall@example.com>");
    let page = format!("{PUBLIC_URL}/incidents/{id}");
    let text = mail["text"].as_str().unwrap();
    assert!(
        text.contains(&format!("Open the incident: {page}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("Acknowledge it: {page}?acknowledge=1")),
        "{text}"
    );
    assert!(text.contains("Channel: Payments"), "{text}");
    let html = mail["html"].as_str().unwrap();
    assert!(
        html.contains("Checkout &lt;b&gt;latency&lt;/b&gt; &amp; errors"),
        "{html}"
    );
    assert!(!html.contains("<b>latency"), "{html}");
    // The link leads to the incident's page, which offers to acknowledge.
    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let resp = no_redirects
        .get(app.url(&format!("/incidents/{id}?acknowledge=1")))
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.headers()["location"],
        format!("/console/incident?id={id}&acknowledge=1").as_str()
    );

    app.ok(
        "/incident/responder/add",
        json!({"incident_id": id, "person_ids": [cy]}),
    )
    .await;
    let mails = sink.wait_for(2).await;
    assert_eq!(
        recipients(&mails[1]),
        ["cy@example.com"],
        "only the one added"
    );
    assert_eq!(settled(&sink).await.len(), 2, "nobody else was mailed");

    let feed = notified(&app, &id).await;
    let told: Vec<&Value> = feed
        .iter()
        .map(|f| &f["detail"]["to"][0]["person_name"])
        .collect();
    assert_eq!(told, [&json!("Bob Li"), &json!("Cy Ray")]);
    assert_eq!(feed[0]["detail"]["via"], "email");
}

async fn a_channel_mails_its_team_but_not_who_turned_mail_off(db: Db) {
    let sink = SmtpSink::start().await;
    let app = spawn(db, &sink.url()).await;
    mail_integration(&app).await;
    let (bob, _) = app.person("Bob Li", "bob@example.com", "member").await;
    let (cy, cy_key) = app.person("Cy Ray", "cy@example.com", "member").await;
    let settings = json!({"notify": {"team": true},
        "grouping": {"method": "p", "dimensions": ["labels.host"], "window_minutes": 10},
        "storm_thresholds": [3]});
    let ch = payments(&app, json!([bob, cy]), settings).await;
    let (status, _) = app
        .post_as(
            &cy_key,
            "/person/update",
            json!({"person_id": cy, "mail_off": true}),
        )
        .await;
    assert_eq!(status, 200, "anyone may turn their own mail off");
    let people = app.ok("/person/info", json!({"person_id": cy})).await;
    assert_eq!(people["mail_off"], true);

    let id = app
        .ok(
            "/incident/create",
            json!({"title": "Card payments failing", "incident_severity": "Warning", "channel_id": ch}),
        )
        .await["incident_id"]
        .as_str()
        .unwrap()
        .to_string();
    let mail = &sink.wait_for(1).await[0];
    assert_eq!(recipients(mail), ["bob@example.com"], "Cy turned mail off");
    assert!(mail["subject"]
        .as_str()
        .unwrap()
        .contains("Card payments failing"));
    // A channel that does not ask mails nobody on a new incident.
    let quiet = app.channel("Search").await;
    app.ok(
        "/incident/create",
        json!({"title": "Slow search", "incident_severity": "Info", "channel_id": quiet}),
    )
    .await;
    assert_eq!(settled(&sink).await.len(), 1);
    let feed = notified(&app, &id).await;
    assert_eq!(feed.len(), 1);
    assert_eq!(feed[0]["detail"]["team_name"], "Payments team");

    // Alerts grouping into one incident: its team hears of it when it
    // opens and when it storms.
    let key = source(&app, ch, "standard").await;
    for n in 0..3 {
        pushed(
            &app,
            &key,
            json!({"title_rule": format!("db-7 disk {n}"), "event_status": "Critical",
                                  "labels": {"host": "db-7"}}),
        )
        .await;
    }
    let mails = sink.wait_for(3).await;
    assert!(
        mails[1]["subject"]
            .as_str()
            .unwrap()
            .contains("New incident"),
        "{}",
        mails[1]
    );
    assert!(
        mails[2]["subject"]
            .as_str()
            .unwrap()
            .contains("Alert storm"),
        "{}",
        mails[2]
    );
    assert_eq!(recipients(&mails[2]), ["bob@example.com"]);
    assert_eq!(settled(&sink).await.len(), 3);
}

async fn renotify_rounds_follow_the_clock_until_acknowledged(db: Db) {
    let sink = SmtpSink::start().await;
    let app = spawn(db, &sink.url()).await;
    mail_integration(&app).await;
    let (bob, bob_key) = app.person("Bob Li", "bob@example.com", "member").await;
    let (cy, _) = app.person("Cy Ray", "cy@example.com", "member").await;
    let settings = json!({"notify": {"renotify_minutes": 5, "renotify_rounds": 2}});
    let ch = payments(&app, json!([cy]), settings).await;
    let create = |title: &str| {
        json!({"title": title, "incident_severity": "Critical", "channel_id": ch,
               "assigned_to": {"type": "assign", "person_ids": [bob]}})
    };
    let id = app.ok("/incident/create", create("Checkout down")).await["incident_id"]
        .as_str()
        .unwrap()
        .to_string();
    let acked = app.ok("/incident/create", create("Refunds slow")).await["incident_id"]
        .as_str()
        .unwrap()
        .to_string();
    let later = app.ok("/incident/create", create("Payouts late")).await["incident_id"]
        .as_str()
        .unwrap()
        .to_string();
    sink.wait_for(3).await;
    app.post_as(&bob_key, "/incident/ack", json!({"incident_ids": [acked]}))
        .await;

    app.state.clock.advance(Duration::from_secs(4 * 60));
    assert_eq!(settled(&sink).await.len(), 3, "not yet 5 minutes");

    app.state.clock.advance(Duration::from_secs(60));
    let mails = sink.wait_for(5).await;
    let mut firsts: Vec<String> = mails[3..]
        .iter()
        .map(|m| m["subject"].as_str().unwrap().to_string())
        .collect();
    firsts.sort();
    assert!(
        firsts[0].contains("Still not acknowledged (reminder 1): Checkout down"),
        "{firsts:?}"
    );
    assert!(
        firsts[1].contains("Still not acknowledged (reminder 1): Payouts late"),
        "{firsts:?}"
    );
    for m in &mails[3..] {
        assert_eq!(
            recipients(m),
            ["bob@example.com"],
            "round 1: the responders"
        );
    }
    // Acknowledging stops the rounds.
    app.post_as(&bob_key, "/incident/ack", json!({"incident_ids": [later]}))
        .await;

    app.state.clock.advance(Duration::from_secs(5 * 60));
    let mails = sink.wait_for(6).await;
    let second = &mails[5];
    assert!(
        second["subject"].as_str().unwrap().contains("reminder 2"),
        "{second}"
    );
    assert_eq!(
        recipients(second),
        ["bob@example.com", "cy@example.com"],
        "round 2: the responders and the channel's team"
    );

    app.state.clock.advance(Duration::from_secs(5 * 60));
    assert_eq!(
        settled(&sink).await.len(),
        6,
        "2 rounds only, none for the acknowledged ones"
    );
    let feed = notified(&app, &id).await;
    let rounds: Vec<&Value> = feed.iter().map(|f| &f["detail"]["round"]).collect();
    assert_eq!(rounds, [&Value::Null, &json!(1), &json!(2)]);
    assert_eq!(feed[2]["detail"]["team_name"], "Payments team");
    assert_eq!(notified(&app, &later).await.len(), 2);
    assert_eq!(notified(&app, &acked).await.len(), 1);
}

async fn a_refusing_server_is_retried_and_a_dead_one_fails_in_history(db: Db) {
    let sink = SmtpSink::refusing(2).await;
    let app = spawn(db, &sink.url()).await;
    let mail = mail_integration(&app).await;
    let (bob, _) = app.person("Bob Li", "bob@example.com", "member").await;
    app.ok("/incident/create", assign_to(bob)).await;
    assert_eq!(recipients(&sink.wait_for(1).await[0]), ["bob@example.com"]);
    let attempts = app.attempts(mail, 3).await;
    let outcomes: Vec<(Value, Value, Value)> = attempts
        .iter()
        .rev()
        .map(|a| {
            (
                a["status"].clone(),
                a["http_status"].clone(),
                a["error_class"].clone(),
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            (json!("failure"), json!(451), json!("smtp")),
            (json!("failure"), json!(451), json!("smtp")),
            (json!("success"), json!(250), json!("")),
        ]
    );

    // Nothing listens: retried on the backoff schedule, then given up.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead = format!("smtp://alerts:s3cret-pw@{}", closed.local_addr().unwrap());
    drop(closed);
    let app = TestApp::spawn_with(db, move |c| {
        c.smtp = Some(dutyhook_server::SmtpConfig {
            url: dead,
            from: "oncall@example.com".into(),
            ca_pem: None,
        });
        c.delivery.schedule = dutyhook_delivery::retry::Schedule { scale: 0.0001 };
    })
    .await;
    let mail = mail_integration(&app).await;
    let (bob, _) = app.person("Bob Li", "bob@example.com", "member").await;
    app.ok("/incident/create", assign_to(bob)).await;
    let attempts = app.attempts(mail, 9).await;
    assert!(
        attempts
            .iter()
            .all(|a| a["status"] == "failure" && a["error_class"] == "connect"),
        "{attempts:#?}"
    );
    let detail = app
        .ok(
            "/integration/history/info",
            json!({"invocation_id": attempts[0]["invocation_id"]}),
        )
        .await;
    assert_eq!(detail["delivery_state"], "failed", "{detail}");
    assert_eq!(
        detail["request"]["headers"]["To"],
        "Bob Li <bob@example.com>"
    );
    // The server's password is in no answer.
    let info = app.ok("/integration/email/info", json!({})).await;
    for shown in [json!(attempts), detail, info] {
        assert!(!shown.to_string().contains("s3cret-pw"), "{shown}");
    }
}

fn assign_to(bob: i64) -> Value {
    json!({"title": "Disk full", "incident_severity": "Warning",
           "assigned_to": {"type": "assign", "person_ids": [bob]}})
}

async fn settings_are_checked_and_named(db: Db) {
    let app = TestApp::spawn(db).await;
    let info = app.ok("/integration/email/info", json!({})).await;
    assert_eq!(info["configured"], false);
    app.fails(
        "/integration/email/test",
        json!({}),
        400,
        "InvalidParameter",
    )
    .await;
    let msg = app
        .fails(
            "/channel/create",
            json!({"channel_name": "Ops", "notify": {"renotify_minutes": 5, "renotify_rounds": 4}}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(msg.contains("notify.renotify_rounds"), "{msg}");
    let msg = app
        .fails(
            "/channel/create",
            json!({"channel_name": "Ops", "notify": {"renotify_minutes": -1}}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(msg.contains("notify.renotify_minutes"), "{msg}");
    let ch = app
        .ok(
            "/channel/create",
            json!({"channel_name": "Ops", "notify": {"team": true, "renotify_minutes": 10}}),
        )
        .await["channel_id"]
        .clone();
    let info = app.ok("/channel/info", json!({"channel_id": ch})).await;
    assert_eq!(
        info["notify"],
        json!({"team": true, "renotify_minutes": 10, "renotify_rounds": 1})
    );

    // A test mail goes to whoever asks, at once.
    let sink = SmtpSink::start().await;
    let app = spawn(db, &sink.url()).await;
    let tested = app.ok("/integration/email/test", json!({})).await;
    assert_eq!(tested["success"], true, "{tested}");
    assert_eq!(recipients(&sink.wait_for(1).await[0]), ["ada@example.com"]);
    let info = app.ok("/integration/email/info", json!({})).await;
    assert_eq!(info["smtp_server"], sink.url());
}
