//! The list filters the hosted product's clients send are applied, or the
//! call is refused naming the field — never ignored (`/incident/list`,
//! `/alert/list`).

use serde_json::{json, Value};

use crate::alerts::{pushed, source};
use crate::helpers::{now_s, Db, TestApp};

both_dbs!(incident_list_filters, alert_list_filters);

fn ids(list: &Value, field: &str) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i[field].as_str().unwrap().to_string())
        .collect()
}

async fn incidents(app: &TestApp, extra: Value) -> Vec<String> {
    let mut body = json!({"start_time": now_s() - 3600, "end_time": now_s() + 3600, "limit": 100});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    ids(&app.ok("/incident/list", body).await, "incident_id")
}

async fn incident_list_filters(db: Db) {
    let app = TestApp::spawn(db).await;
    let admin = app.admin_id.0;
    let (bob, bob_key) = app.person("Bob", "bob@example.com", "member").await;
    let team = app
        .ok(
            "/team/create",
            json!({"team_name": "SRE", "person_ids": [bob]}),
        )
        .await["team_id"]
        .clone();
    let ch = app
        .ok(
            "/channel/create",
            json!({"channel_name": "Payments", "team_id": team}),
        )
        .await["channel_id"]
        .as_i64()
        .unwrap();
    let by_admin = app.incident("by the admin").await;
    let (_, v) = app
        .post_as(
            &bob_key,
            "/incident/create",
            json!({"title": "by Bob", "incident_severity": "Info", "channel_id": ch}),
        )
        .await;
    let by_bob = v["data"]["incident_id"].as_str().unwrap().to_string();
    let key = source(&app, ch, "standard").await;
    pushed(
        &app,
        &key,
        json!({"title_rule": "made by an alert", "event_status": "Warning", "alert_key": "a"}),
    )
    .await;
    let by_alert = incidents(&app, json!({"creator_ids": [0]})).await;
    assert_eq!(by_alert.len(), 1, "0: made by alerts");

    assert_eq!(
        incidents(&app, json!({"creator_ids": [admin]})).await,
        [by_admin.as_str()]
    );
    assert_eq!(
        incidents(&app, json!({"creator_ids": [bob]})).await,
        [by_bob.as_str()]
    );
    app.ok("/incident/resolve", json!({"incident_ids": [by_bob]}))
        .await;
    assert_eq!(
        incidents(&app, json!({"closer_ids": [admin]})).await,
        [by_bob.as_str()]
    );
    assert_eq!(
        incidents(&app, json!({"incident_ids": [by_admin]})).await,
        [by_admin.as_str()]
    );
    let num = app.info(&by_admin).await["num"]
        .as_str()
        .unwrap()
        .to_lowercase();
    assert_eq!(
        incidents(&app, json!({"nums": [num]})).await,
        [by_admin.as_str()]
    );
    let mut in_team = incidents(&app, json!({"team_ids": [team]})).await;
    in_team.sort();
    let mut want = vec![by_bob.clone(), by_alert[0].clone()];
    want.sort();
    assert_eq!(in_team, want, "the channels of the team");

    app.ok(
        "/incident/snooze",
        json!({"incident_ids": [by_admin], "minutes": 30}),
    )
    .await;
    assert_eq!(
        incidents(&app, json!({"is_snoozed": true})).await,
        [by_admin.as_str()]
    );
    assert_eq!(incidents(&app, json!({"is_snoozed": false})).await.len(), 2);
    assert!(incidents(&app, json!({"ever_muted": true}))
        .await
        .is_empty());
    assert_eq!(incidents(&app, json!({"ever_muted": false})).await.len(), 3);
    let newest_first = incidents(&app, json!({})).await;
    let mut oldest_first = incidents(&app, json!({"asc": true})).await;
    oldest_first.reverse();
    assert_eq!(newest_first, oldest_first);

    for (field, value) in [
        ("responder_ids", json!([bob])),
        ("acker_ids", json!([bob])),
        ("is_my_team", json!(true)),
        ("is_rare", json!(true)),
        ("search_after_ctx", json!("abc")),
    ] {
        let body = json!({"start_time": 0, "end_time": now_s() + 60, field: value});
        let message = app
            .fails("/incident/list", body, 400, "InvalidParameter")
            .await;
        assert!(message.contains(field), "{message}");
    }
    // Their "no restriction" values are fine.
    incidents(
        &app,
        json!({"responder_ids": [], "is_my_team": false, "search_after_ctx": ""}),
    )
    .await;
}

async fn alerts(app: &TestApp, extra: Value) -> Vec<String> {
    let mut body = json!({"start_time": now_s() - 3600, "end_time": now_s() + 3600, "limit": 100});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    ids(&app.ok("/alert/list", body).await, "alert_key")
}

async fn alert_list_filters(db: Db) {
    let app = TestApp::spawn(db).await;
    let ch = app.channel("Payments").await;
    let one = source(&app, ch, "standard").await;
    let two = source(&app, ch, "standard").await;
    let event = |key: &str, status: &str| json!({"title_rule": key, "event_status": status, "alert_key": key});
    pushed(&app, &one, event("disk", "Critical")).await;
    pushed(&app, &one, event("cpu", "Warning")).await;
    pushed(&app, &two, event("net", "Info")).await;
    pushed(&app, &one, event("cpu", "Ok")).await;
    let sources = app.ok("/integration/alert-source/list", json!({})).await;
    let first_source = sources["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["integration_id"].as_i64().unwrap())
        .min()
        .unwrap();

    let mut open = alerts(&app, json!({"is_active": true})).await;
    open.sort();
    assert_eq!(open, ["disk", "net"]);
    assert_eq!(alerts(&app, json!({"is_active": false})).await, ["cpu"]);
    let mut serious = alerts(&app, json!({"alert_severity": "Critical,Warning"})).await;
    serious.sort();
    assert_eq!(serious, ["cpu", "disk"]);
    let mut from_one = alerts(&app, json!({"integration_ids": [first_source]})).await;
    from_one.sort();
    assert_eq!(from_one, ["cpu", "disk"]);
    assert_eq!(alerts(&app, json!({"alert_keys": ["net"]})).await, ["net"]);
    // Text anywhere in the alert, any case; LIKE's own characters are text.
    assert_eq!(alerts(&app, json!({"query": "DIS"})).await, ["disk"]);
    assert_eq!(
        alerts(&app, json!({"query": "%"})).await,
        Vec::<String>::new()
    );
    assert_eq!(alerts(&app, json!({"query": "  "})).await.len(), 3);
    let all = app
        .ok(
            "/alert/list",
            json!({"start_time": 0, "end_time": now_s() + 60}),
        )
        .await;
    let disk_id = all["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["alert_key"] == "disk")
        .unwrap()["alert_id"]
        .clone();
    assert_eq!(
        alerts(&app, json!({"alert_ids": [disk_id]})).await,
        ["disk"]
    );
    let by_updated = app
        .ok(
            "/alert/list",
            json!({"start_time": 0, "end_time": now_s() + 60, "orderby": "updated_at"}),
        )
        .await;
    let times: Vec<i64> = by_updated["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["updated_at"].as_i64().unwrap())
        .collect();
    assert!(
        times.windows(2).all(|w| w[0] >= w[1]),
        "newest update first: {times:?}"
    );
    let mut asc = alerts(&app, json!({"orderby": "updated_at", "asc": true})).await;
    asc.reverse();
    assert_eq!(asc, ids(&by_updated, "alert_key"), "asc is the reverse");
    assert_eq!(alerts(&app, json!({"by_updated_at": true})).await.len(), 3);
    assert!(alerts(&app, json!({"ever_muted": true})).await.is_empty());

    for (field, value) in [
        ("alert_severity", json!("Fatal")),
        ("orderby", json!("title")),
        ("search_after_ctx", json!("abc")),
        ("alert_ids", json!(["nope"])),
    ] {
        let body = json!({"start_time": 0, "end_time": now_s() + 60, field: value});
        let message = app
            .fails("/alert/list", body, 400, "InvalidParameter")
            .await;
        assert!(message.contains(field), "{message}");
    }
}
