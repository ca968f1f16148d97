//! Every incident operation emits exactly the events of `events.md`: types,
//! order, `person`, payloads field by field, and nothing when nothing changed.

use serde_json::{json, Value};

use crate::helpers::{now_s, Db, TestApp, PUBLIC_URL};

both_dbs!(
    create_emits_new_then_assign,
    ack_and_unack,
    snooze_and_wake_by_hand,
    snooze_expiry_wakes_without_person,
    resolve_with_texts,
    reopen,
    merge,
);

pub(crate) const INT_FIELDS: [&str; 14] = [
    "creator_id",
    "closer_id",
    "created_at",
    "updated_at",
    "start_time",
    "last_time",
    "end_time",
    "ack_time",
    "close_time",
    "snoozed_before",
    "alert_cnt",
    "channel_id",
    "data_source_id",
    "account_id",
];

pub(crate) const STRING_FIELDS: [&str; 15] = [
    "equals_md5",
    "incident_id",
    "num",
    "title",
    "description",
    "impact",
    "root_cause",
    "resolution",
    "incident_severity",
    "incident_status",
    "progress",
    "channel_name",
    "detail_url",
    "group_method",
    "account_name",
];

/// Checks the envelope of an event and the type of every documented field.
pub fn check_event(ev: &Value, event_type: &str, person: Option<i64>) {
    let id = ev["event_id"].as_str().expect("event_id");
    assert!(
        id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)),
        "event_id {id}"
    );
    let t = ev["event_time"].as_i64().expect("event_time is an integer");
    assert!(
        (t - now_s() * 1000).abs() < 120_000,
        "event_time {t} is milliseconds near now"
    );
    assert_eq!(ev["event_type"], json!(event_type), "{ev}");
    match person {
        Some(pid) => {
            assert_eq!(ev["person"]["person_id"], json!(pid), "{ev}");
            assert!(ev["person"]["person_name"].is_string() && ev["person"]["email"].is_string());
        }
        None => assert!(
            ev.get("person").is_none(),
            "{event_type} must have no person: {ev}"
        ),
    }
    let inc = &ev["incident"];
    for f in INT_FIELDS {
        assert!(inc[f].is_i64(), "incident.{f} must be an integer: {inc}");
    }
    for f in STRING_FIELDS {
        assert!(inc[f].is_string(), "incident.{f} must be a string: {inc}");
    }
    for f in [
        "created_at",
        "updated_at",
        "start_time",
        "ack_time",
        "close_time",
        "snoozed_before",
    ] {
        assert!(
            inc[f].as_i64().unwrap() < 10_000_000_000,
            "incident.{f} is in seconds"
        );
    }
    let iid = inc["incident_id"].as_str().unwrap();
    assert!(
        iid.len() == 24
            && iid
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    );
    assert_eq!(inc["num"], json!(iid[18..].to_ascii_uppercase()));
    assert_eq!(
        inc["detail_url"],
        json!(format!("{PUBLIC_URL}/incidents/{iid}"))
    );
    assert!(["Critical", "Warning", "Info"].contains(&inc["incident_severity"].as_str().unwrap()));
    assert!(
        ["Critical", "Warning", "Info", "Ok"].contains(&inc["incident_status"].as_str().unwrap())
    );
    assert!(["Triggered", "Processing", "Closed"].contains(&inc["progress"].as_str().unwrap()));
    assert!(inc["labels"].is_object() && inc["fields"].is_object());
    let responders = inc["responders"].as_array().expect("responders");
    let ids: Vec<Value> = responders.iter().map(|r| r["person_id"].clone()).collect();
    assert_eq!(inc["responder_ids"], json!(ids));
    for r in responders {
        for f in ["person_id", "assigned_at", "acknowledged_at"] {
            assert!(r[f].is_i64(), "responder.{f}: {r}");
        }
        assert!(r["person_name"].is_string() && r["email"].is_string());
    }
    assert!(
        inc.get("alerts").is_none(),
        "alerts are for custom actions only"
    );
    assert_eq!(inc["account_id"], json!(1));
    assert_eq!(inc["account_name"], json!("dutyhook"));
}

pub(crate) fn types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect()
}

async fn create_emits_new_then_assign(db: Db) {
    let app = TestApp::spawn(db).await;
    let ch = app.channel("Payments").await;
    let (bob, _) = app
        .person("Bob Responder", "bob@example.com", "member")
        .await;
    let data = app
        .ok(
            "/incident/create",
            json!({"title": "Checkout latency high", "incident_severity": "Critical", "channel_id": ch,
                   "description": "p99 above 2 s", "impact": "checkout slow",
                   "assigned_to": {"type": "assign", "person_ids": [bob]}}),
        )
        .await;
    let evs = app.events().await;
    assert_eq!(types(&evs), ["i_new", "i_assign"]);
    check_event(&evs[0], "i_new", Some(app.admin_id.into()));
    check_event(&evs[1], "i_assign", Some(app.admin_id.into()));
    let new = &evs[0]["incident"];
    assert_eq!(
        new, &evs[1]["incident"],
        "both carry the state after the call"
    );
    assert!(evs[0]["event_time"].as_i64() < evs[1]["event_time"].as_i64());
    assert_eq!(new["title"], json!("Checkout latency high"));
    assert_eq!(new["description"], json!("p99 above 2 s"));
    assert_eq!(new["impact"], json!("checkout slow"));
    assert_eq!(new["incident_severity"], json!("Critical"));
    assert_eq!(new["incident_status"], json!("Critical"));
    assert_eq!(new["progress"], json!("Triggered"));
    assert_eq!(new["channel_id"], json!(ch));
    assert_eq!(new["channel_name"], json!("Payments"));
    assert_eq!(new["creator"]["person_id"], json!(app.admin_id));
    assert!(new.get("closer").is_none());
    let ids = [&new["creator_id"], &new["closer_id"], &new["equals_md5"]];
    assert_eq!(ids, [&json!(app.admin_id), &json!(0), &json!("")]);
    for f in [
        "ack_time",
        "close_time",
        "end_time",
        "last_time",
        "snoozed_before",
        "alert_cnt",
        "data_source_id",
    ] {
        assert_eq!(new[f], json!(0), "{f}");
    }
    assert_eq!(new["start_time"], new["created_at"]);
    let assigned = &evs[1]["incident"];
    assert_eq!(assigned["responder_ids"], json!([bob]));
    assert_eq!(assigned["responders"][0]["email"], json!("bob@example.com"));
    assert_eq!(assigned["responders"][0]["acknowledged_at"], json!(0));
    assert_eq!(assigned["assigned_to"]["type"], json!("assign"));
    assert_eq!(assigned["assigned_to"]["person_ids"], json!([bob]));
    assert!(assigned["assigned_to"]["assigned_at"].as_i64().unwrap() > 0);
    let escalation = ["id", "escalate_rule_id", "escalate_rule_name", "layer_idx"];
    let escalation = escalation.map(|f| assigned["assigned_to"][f].clone());
    assert_eq!(escalation, [json!(""), json!(""), json!(""), json!(0)]);
    // The API answer and the last payload describe the same incident.
    assert_eq!(&data, assigned);
    let info = app.info(data["incident_id"].as_str().unwrap()).await;
    assert_eq!(crate::helpers::payload_part(info), *assigned);
}

async fn ack_and_unack(db: Db) {
    let app = TestApp::spawn(db).await;
    let (bob, bob_key) = app.person("Bob", "bob@example.com", "member").await;
    let id = app.incident("Disk full on db-1").await;
    app.ok(
        "/incident/assign",
        json!({"incident_ids": [id], "assigned_to": {"type": "assign", "person_ids": [bob]}}),
    )
    .await;
    let before = app.event_count().await;

    app.ok("/incident/ack", json!({"incident_ids": [id]})).await;
    let evs = app.events_since(before).await;
    assert_eq!(types(&evs), ["i_ack"]);
    check_event(&evs[0], "i_ack", Some(app.admin_id.into()));
    let inc = &evs[0]["incident"];
    assert_eq!(inc["progress"], json!("Processing"));
    let ack_time = inc["ack_time"].as_i64().unwrap();
    assert!(ack_time > 0);
    assert_eq!(
        inc["responder_ids"],
        json!([bob, app.admin_id]),
        "the acknowledger is added as responder"
    );
    assert_eq!(inc["responders"][1]["acknowledged_at"], json!(ack_time));
    assert_eq!(inc["responders"][0]["acknowledged_at"], json!(0));

    // Acknowledging again changes nothing and emits nothing.
    app.ok("/incident/ack", json!({"incident_ids": [id]})).await;
    assert_eq!(app.event_count().await, before + 1);

    // A second person acks; ack_time stays the first.
    let (s, _) = app
        .post_as(&bob_key, "/incident/ack", json!({"incident_ids": [id]}))
        .await;
    assert_eq!(s, 200);
    let evs = app.events_since(before + 1).await;
    check_event(&evs[0], "i_ack", Some(bob));
    assert_eq!(evs[0]["incident"]["ack_time"], json!(ack_time));

    app.ok("/incident/unack", json!({"incident_ids": [id]}))
        .await;
    let evs = app.events_since(before + 2).await;
    assert_eq!(types(&evs), ["i_unack"]);
    check_event(&evs[0], "i_unack", Some(app.admin_id.into()));
    assert_eq!(
        evs[0]["incident"]["progress"],
        json!("Processing"),
        "Bob's acknowledgement remains"
    );
    let (s, _) = app
        .post_as(&bob_key, "/incident/unack", json!({"incident_ids": [id]}))
        .await;
    assert_eq!(s, 200);
    let evs = app.events_since(before + 3).await;
    assert_eq!(
        evs[0]["incident"]["progress"],
        json!("Triggered"),
        "no acknowledgement remains"
    );
    assert_eq!(evs[0]["incident"]["ack_time"], json!(ack_time));
    // Withdrawing what is not there emits nothing.
    app.ok("/incident/unack", json!({"incident_ids": [id]}))
        .await;
    assert_eq!(app.event_count().await, before + 4);
}

async fn snooze_and_wake_by_hand(db: Db) {
    let app = TestApp::spawn(db).await;
    let id = app.incident("Queue backlog").await;
    let before = app.event_count().await;
    let t0 = now_s();
    app.ok(
        "/incident/snooze",
        json!({"incident_ids": [id], "minutes": 30}),
    )
    .await;
    let evs = app.events_since(before).await;
    assert_eq!(types(&evs), ["i_snooze"]);
    check_event(&evs[0], "i_snooze", Some(app.admin_id.into()));
    let until = evs[0]["incident"]["snoozed_before"].as_i64().unwrap();
    assert!((t0 + 1800..=now_s() + 1800).contains(&until), "{until}");
    app.ok("/incident/wake", json!({"incident_ids": [id]}))
        .await;
    let evs = app.events_since(before + 1).await;
    assert_eq!(types(&evs), ["i_wake"]);
    check_event(&evs[0], "i_wake", Some(app.admin_id.into()));
    assert_eq!(evs[0]["incident"]["snoozed_before"], json!(0));
    // Not snoozed: waking changes nothing.
    app.ok("/incident/wake", json!({"incident_ids": [id]}))
        .await;
    assert_eq!(app.event_count().await, before + 2);
    for minutes in [0, 1441, -5] {
        app.fails(
            "/incident/snooze",
            json!({"incident_ids": [id], "minutes": minutes}),
            400,
            "InvalidParameter",
        )
        .await;
    }
    assert_eq!(app.event_count().await, before + 2);
}

async fn snooze_expiry_wakes_without_person(db: Db) {
    let app = TestApp::spawn(db).await;
    let id = app.incident("Flapping probe").await;
    app.ok(
        "/incident/snooze",
        json!({"incident_ids": [id], "minutes": 1}),
    )
    .await;
    let before = app.event_count().await;
    app.state.clock.advance(std::time::Duration::from_secs(61));
    let mut evs = vec![];
    for _ in 0..1000 {
        evs = app.events_since(before).await;
        if !evs.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(
        types(&evs),
        ["i_wake"],
        "the background task wakes the incident"
    );
    check_event(&evs[0], "i_wake", None);
    assert_eq!(evs[0]["incident"]["snoozed_before"], json!(0));
    let feed = app.ok("/incident/feed", json!({"incident_id": id})).await;
    assert_eq!(feed["items"][0]["type"], json!("i_wake"));
    assert!(feed["items"][0].get("person").is_none());
}

async fn resolve_with_texts(db: Db) {
    let app = TestApp::spawn(db).await;
    let id = app.incident("Payment errors").await;
    app.ok(
        "/incident/snooze",
        json!({"incident_ids": [id], "minutes": 10}),
    )
    .await;
    let before = app.event_count().await;
    app.ok(
        "/incident/resolve",
        json!({"incident_ids": [id], "root_cause": "bad deploy", "resolution": "rolled back"}),
    )
    .await;
    let evs = app.events_since(before).await;
    assert_eq!(
        types(&evs),
        ["i_rslv", "i_r_rc", "i_r_rsltn"],
        "table order"
    );
    for (e, t) in evs.iter().zip(["i_rslv", "i_r_rc", "i_r_rsltn"]) {
        check_event(e, t, Some(app.admin_id.into()));
    }
    let last = &evs[2]["incident"];
    assert_eq!(last["progress"], json!("Closed"));
    assert!(last["close_time"].as_i64().unwrap() > 0);
    assert_eq!(last["closer"]["person_id"], json!(app.admin_id));
    assert_eq!(last["closer_id"], json!(app.admin_id));
    assert_eq!(last["root_cause"], json!("bad deploy"));
    assert_eq!(last["resolution"], json!("rolled back"));
    assert_eq!(last["snoozed_before"], json!(0), "closing ends the snooze");
    assert_eq!(
        last["incident_status"],
        json!("Warning"),
        "closing by hand keeps the status"
    );
    // Resolving a Closed incident is refused and changes nothing.
    let msg = app
        .fails(
            "/incident/resolve",
            json!({"incident_ids": [id]}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(msg.contains("already Closed"), "{msg}");
    assert_eq!(app.event_count().await, before + 3);
    // Operations on a Closed incident that need it open are refused.
    app.fails(
        "/incident/ack",
        json!({"incident_ids": [id]}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/incident/snooze",
        json!({"incident_ids": [id], "minutes": 5}),
        400,
        "InvalidParameter",
    )
    .await;
    assert_eq!(app.event_count().await, before + 3);
}

async fn reopen(db: Db) {
    let app = TestApp::spawn(db).await;
    let id = app.incident("Cache misses").await;
    let msg = app
        .fails(
            "/incident/reopen",
            json!({"incident_ids": [id], "reason": "again"}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(msg.contains("not Closed"), "{msg}");
    app.ok("/incident/ack", json!({"incident_ids": [id]})).await;
    app.ok("/incident/resolve", json!({"incident_ids": [id]}))
        .await;
    let msg = app
        .fails(
            "/incident/reopen",
            json!({"incident_ids": [id], "reason": "x".repeat(1025)}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(msg.starts_with("reason"), "{msg}");
    let before = app.event_count().await;
    app.ok(
        "/incident/reopen",
        json!({"incident_ids": [id], "reason": "it came back"}),
    )
    .await;
    let evs = app.events_since(before).await;
    assert_eq!(types(&evs), ["i_reopen"]);
    check_event(&evs[0], "i_reopen", Some(app.admin_id.into()));
    let inc = &evs[0]["incident"];
    assert_eq!(inc["progress"], json!("Triggered"));
    assert_eq!(inc["close_time"], json!(0));
    assert!(inc.get("closer").is_none());
    assert_eq!(inc["responders"][0]["acknowledged_at"], json!(0));
    let feed = app.ok("/incident/feed", json!({"incident_id": id})).await;
    assert_eq!(feed["items"][0]["detail"]["reason"], json!("it came back"));
}

async fn merge(db: Db) {
    let app = TestApp::spawn(db).await;
    let target = app.incident("DB primary down").await;
    let a = app.incident("API 500s").await;
    let b = app.incident("Checkout timeouts").await;
    app.ok("/incident/resolve", json!({"incident_ids": [b]}))
        .await;
    let before = app.event_count().await;
    // An unknown source: nothing changes.
    let ghost = "0123456789abcdef01234567";
    app.fails(
        "/incident/merge",
        json!({"source_incident_ids": [a, ghost], "target_incident_id": target}),
        404,
        "ResourceNotFound",
    )
    .await;
    app.fails(
        "/incident/merge",
        json!({"source_incident_ids": [target], "target_incident_id": target}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/incident/merge",
        json!({"source_incident_ids": [], "target_incident_id": target}),
        400,
        "InvalidParameter",
    )
    .await;
    assert_eq!(app.event_count().await, before);

    app.ok(
        "/incident/merge",
        json!({"source_incident_ids": [a, b], "target_incident_id": target}),
    )
    .await;
    let evs = app.events_since(before).await;
    assert_eq!(
        types(&evs),
        ["i_rslv", "i_merge"],
        "the open source closes; the closed one emits nothing"
    );
    check_event(&evs[0], "i_rslv", Some(app.admin_id.into()));
    assert_eq!(evs[0]["incident"]["incident_id"], json!(a));
    assert_eq!(evs[0]["incident"]["progress"], json!("Closed"));
    check_event(&evs[1], "i_merge", Some(app.admin_id.into()));
    assert_eq!(evs[1]["incident"]["incident_id"], json!(target));
    assert_eq!(evs[1]["merged_incident_ids"], json!([a, b]));
    assert_eq!(app.info(&a).await["progress"], json!("Closed"));
}
