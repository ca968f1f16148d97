//! Custom actions (`custom-actions.md`): configuration under the per-channel
//! limit, the incident's list, and synchronous triggers against real local
//! receivers.

use serde_json::{json, Value};

use crate::helpers::{Db, TestApp};
use crate::receiver::TestReceiver;

both_dbs!(
    configuration_every_field_and_rules,
    limit_edges_and_nothing_saved,
    raised_limit_from_configuration,
    concurrent_saves_stay_under_the_limit,
    incident_lists_its_channels_actions,
);

pub(crate) async fn action(
    app: &TestApp,
    name: &str,
    channels: &[i64],
    endpoint: &str,
) -> (u16, Value) {
    app.post(
        "/integration/custom-action/create",
        json!({"name": name, "channel_ids": channels, "endpoint": endpoint}),
    )
    .await
}

pub(crate) async fn action_id(app: &TestApp, name: &str, channels: &[i64], endpoint: &str) -> i64 {
    let (status, v) = action(app, name, channels, endpoint).await;
    assert_eq!(status, 200, "{v}");
    v["data"]["integration_id"].as_i64().unwrap()
}

pub(crate) async fn incident_in(app: &TestApp, channel: i64, title: &str) -> String {
    app.ok(
        "/incident/create",
        json!({"title": title, "incident_severity": "Warning", "channel_id": channel}),
    )
    .await["incident_id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub(crate) async fn trigger(app: &TestApp, incident: &str, action: i64) -> Value {
    app.ok(
        "/incident/action/trigger",
        json!({"incident_id": incident, "action_id": action}),
    )
    .await
}

pub(crate) async fn history(app: &TestApp, integration: i64) -> Vec<Value> {
    let now = crate::helpers::now_s();
    app.ok(
        "/integration/history/list",
        json!({"integration_id": integration, "start_time": now - 600, "end_time": now + 600}),
    )
    .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

pub(crate) async fn feed(app: &TestApp, incident: &str) -> Value {
    app.ok(
        "/incident/feed",
        json!({"incident_id": incident, "asc": true}),
    )
    .await
}

pub(crate) async fn channel_action_names(app: &TestApp, incident: &str) -> Vec<String> {
    app.ok("/incident/action/list", json!({"incident_id": incident}))
        .await["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["name"].as_str().unwrap().to_string())
        .collect()
}

async fn configuration_every_field_and_rules(db: Db) {
    let app = TestApp::spawn(db).await;
    let ch = app.channel("payments").await;
    let created = app
        .ok(
            "/integration/custom-action/create",
            json!({
                "name": "Restart host", "description": "kicks the box", "channel_ids": [ch, ch],
                "endpoint": "http://127.0.0.1:9/restart", "tls_verify": false, "timeout_ms": 2500,
                "headers": [{"key": "X-Token", "value": "s3cr3t-value", "secret": true},
                            {"key": "X-Env", "value": "prod"}]
            }),
        )
        .await;
    let id = created["integration_id"].as_i64().unwrap();
    let secret = created["signing_secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{created}");
    let info = app
        .ok(
            "/integration/custom-action/info",
            json!({"integration_id": id}),
        )
        .await;
    assert_eq!(info["name"], json!("Restart host"));
    assert_eq!(info["description"], json!("kicks the box"));
    assert_eq!(info["channel_ids"], json!([ch]), "each channel once");
    assert_eq!(info["endpoint"], json!("http://127.0.0.1:9/restart"));
    assert_eq!(info["tls_verify"], json!(false));
    assert_eq!(info["timeout_ms"], json!(2500));
    assert_eq!(info["team_id"], json!(0));
    assert_eq!(
        info["headers"],
        json!([{"key": "X-Token", "value": "******", "secret": true},
               {"key": "X-Env", "value": "prod", "secret": false}])
    );
    assert!(!info.to_string().contains("s3cr3t-value"));
    assert!(!info.to_string().contains(&secret), "signing secret masked");
    // Sending the masked value back keeps the secret.
    app.ok(
        "/integration/custom-action/update",
        json!({"integration_id": id, "headers": info["headers"], "timeout_ms": 1000}),
    )
    .await;
    let rx = TestReceiver::start().await;
    app.ok(
        "/integration/custom-action/update",
        json!({"integration_id": id, "endpoint": rx.url}),
    )
    .await;
    let inc = incident_in(&app, ch, "Header kept").await;
    assert!(trigger(&app, &inc, id).await["success"].as_bool().unwrap());
    assert_eq!(rx.received()[0].header("x-token"), "s3cr3t-value");

    // Every rule names its field, and a refused save changes nothing.
    for (body, code, field) in [
        (json!({"name": "x".repeat(41)}), "InvalidParameter", "name"),
        (
            json!({"channel_ids": []}),
            "InvalidParameter",
            "channel_ids",
        ),
        (
            json!({"channel_ids": [0]}),
            "InvalidParameter",
            "channel_ids",
        ),
        (json!({"timeout_ms": 99}), "InvalidParameter", "timeout_ms"),
        (
            json!({"timeout_ms": 10001}),
            "InvalidParameter",
            "timeout_ms",
        ),
        (
            json!({"endpoint": "ftp://example.com/x"}),
            "InvalidParameter",
            "endpoint",
        ),
        (
            json!({"endpoint": "http://169.254.169.254/latest"}),
            "InvalidParameter",
            "endpoint",
        ),
        (
            json!({"headers": [{"key": "Content-Type", "value": "x"}]}),
            "InvalidParameter",
            "headers",
        ),
        (
            json!({"channel_ids": [987654]}),
            "ResourceNotFound",
            "channel 987654",
        ),
    ] {
        let mut b = body.clone();
        b["integration_id"] = json!(id);
        let status = if code == "ResourceNotFound" { 404 } else { 400 };
        let m = app
            .fails("/integration/custom-action/update", b, status, code)
            .await;
        assert!(m.contains(field), "{body}: {m}");
    }
    let again = app
        .ok(
            "/integration/custom-action/info",
            json!({"integration_id": id}),
        )
        .await;
    assert_eq!(again["timeout_ms"], json!(1000));
    assert_eq!(again["endpoint"], json!(rx.url));
    for missing in ["name", "channel_ids", "endpoint"] {
        let mut b = json!({"name": "n", "channel_ids": [ch], "endpoint": rx.url});
        b.as_object_mut().unwrap().remove(missing);
        let m = app
            .fails(
                "/integration/custom-action/create",
                b,
                400,
                "InvalidParameter",
            )
            .await;
        assert!(m.starts_with(missing), "{m}");
    }

    // Names are unique within a channel (whatever the case), not across channels.
    let m = app
        .fails(
            "/integration/custom-action/create",
            json!({"name": "restart HOST", "channel_ids": [ch], "endpoint": rx.url}),
            409,
            "Conflict",
        )
        .await;
    assert!(m.contains("name") && m.contains("payments"), "{m}");
    let other = app.channel("search").await;
    action_id(&app, "Restart host", &[other], &rx.url).await;

    // A managing team: only its members and admins may edit.
    let (member, mkey) = app.person("Mo Member", "mo@example.com", "member").await;
    let team = app.ok("/team/create", json!({"team_name": "Owners"})).await["team_id"]
        .as_i64()
        .unwrap();
    app.ok(
        "/integration/custom-action/update",
        json!({"integration_id": id, "team_id": team}),
    )
    .await;
    let (s, v) = app
        .post_as(
            &mkey,
            "/integration/custom-action/update",
            json!({"integration_id": id, "name": "Mine now"}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("AccessDenied"))
    );
    app.ok(
        "/team/update",
        json!({"team_id": team, "person_ids": [member]}),
    )
    .await;
    let (s, v) = app
        .post_as(
            &mkey,
            "/integration/custom-action/update",
            json!({"integration_id": id, "name": "Mine now"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");

    let list = app.ok("/integration/custom-action/list", json!({})).await;
    assert_eq!(list["total"], json!(2));
    assert!(!list.to_string().contains("s3cr3t-value"));
    app.ok(
        "/integration/custom-action/delete",
        json!({"integration_id": id}),
    )
    .await;
    app.fails(
        "/integration/custom-action/info",
        json!({"integration_id": id}),
        404,
        "ResourceNotFound",
    )
    .await;
    // Webhook endpoints do not see actions, nor actions webhooks.
    let hook = app
        .ok(
            "/integration/webhook/create",
            json!({"kind": "incident", "name": "w", "endpoint": rx.url}),
        )
        .await["integration_id"]
        .clone();
    app.fails(
        "/integration/custom-action/info",
        json!({"integration_id": hook}),
        404,
        "ResourceNotFound",
    )
    .await;
}

async fn limit_edges_and_nothing_saved(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let a = app.channel("alpha").await;
    let b = app.channel("beta").await;
    let mut ids = vec![];
    for n in 1..=3 {
        ids.push(action_id(&app, &format!("A{n}"), &[a], &rx.url).await);
    }
    // The 4th for a full channel is refused, naming it; nothing is saved.
    let (status, v) = action(&app, "A4", &[b, a], &rx.url).await;
    assert_eq!(
        (status, v["error"]["code"].as_str()),
        (400, Some("LimitExceeded")),
        "{v}"
    );
    let m = v["error"]["message"].as_str().unwrap();
    assert!(
        m.contains(&format!("channel {a}")) && m.contains("alpha"),
        "{m}"
    );
    assert!(
        !m.contains(&format!("channel {b}")),
        "beta is not full: {m}"
    );
    let inc_b = incident_in(&app, b, "Beta incident").await;
    assert!(
        channel_action_names(&app, &inc_b).await.is_empty(),
        "the refused save did not bind beta"
    );
    let list = app.ok("/integration/custom-action/list", json!({})).await;
    assert_eq!(list["total"], json!(3));
    // Re-saving an action on its own full channel is fine.
    app.ok(
        "/integration/custom-action/update",
        json!({"integration_id": ids[0], "name": "A1 renamed", "channel_ids": [a]}),
    )
    .await;
    // Moving an action onto a full channel is refused and leaves it where it was.
    let moved = action_id(&app, "B1", &[b], &rx.url).await;
    let (status, v) = app
        .post(
            "/integration/custom-action/update",
            json!({"integration_id": moved, "channel_ids": [a]}),
        )
        .await;
    assert_eq!(v["error"]["code"], json!("LimitExceeded"), "{status} {v}");
    assert_eq!(channel_action_names(&app, &inc_b).await, ["B1"]);
    // Deleting frees a slot.
    app.ok(
        "/integration/custom-action/delete",
        json!({"integration_id": ids[1]}),
    )
    .await;
    app.ok(
        "/integration/custom-action/update",
        json!({"integration_id": moved, "channel_ids": [a, b]}),
    )
    .await;
    let inc_a = incident_in(&app, a, "Alpha incident").await;
    assert_eq!(
        channel_action_names(&app, &inc_a).await,
        ["A1 renamed", "A3", "B1"]
    );
}

async fn raised_limit_from_configuration(db: Db) {
    let app = TestApp::spawn_with(db, |c| c.actions_per_channel = 4).await;
    let ch = app.channel("roomy").await;
    for n in 1..=4 {
        action_id(&app, &format!("R{n}"), &[ch], "http://127.0.0.1:9/").await;
    }
    let (_, v) = action(&app, "R5", &[ch], "http://127.0.0.1:9/").await;
    assert_eq!(v["error"]["code"], json!("LimitExceeded"), "{v}");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap()
        .contains("at most 4"));
}

async fn concurrent_saves_stay_under_the_limit(db: Db) {
    let app = TestApp::spawn(db).await;
    let ch = app.channel("contended").await;
    let other = app.channel("other").await;
    let moved = action_id(&app, "Mover", &[other], "http://127.0.0.1:9/").await;
    let mut calls = vec![];
    for n in 0..12 {
        calls.push(app.post_task(
            "/integration/custom-action/create",
            json!({"name": format!("C{n}"), "channel_ids": [ch], "endpoint": "http://127.0.0.1:9/"}),
        ));
    }
    // An update moving another action in races with the creates too.
    let mover = app.post_task(
        "/integration/custom-action/update",
        json!({"integration_id": moved, "channel_ids": [ch]}),
    );
    let mut saved = 0;
    for c in calls {
        let v = c.await.unwrap();
        match v["error"]["code"].as_str() {
            None => saved += 1,
            Some(code) => assert_eq!(code, "LimitExceeded", "{v}"),
        }
    }
    if mover.await.unwrap()["error"].is_null() {
        saved += 1;
    }
    assert_eq!(saved, 3, "exactly as many saves as the limit succeeded");
    let inc = incident_in(&app, ch, "Contended incident").await;
    assert_eq!(channel_action_names(&app, &inc).await.len(), 3);
}

async fn incident_lists_its_channels_actions(db: Db) {
    let app = TestApp::spawn(db).await;
    let a = app.channel("alpha").await;
    let b = app.channel("beta").await;
    for (name, chans) in [
        ("Zeta", vec![a]),
        ("Alpha", vec![a, b]),
        ("Only B", vec![b]),
    ] {
        action_id(&app, name, &chans, "http://127.0.0.1:9/").await;
    }
    let inc_a = incident_in(&app, a, "In alpha").await;
    assert_eq!(
        channel_action_names(&app, &inc_a).await,
        ["Zeta", "Alpha"],
        "creation order"
    );
    let listed = app
        .ok("/incident/action/list", json!({"incident_id": inc_a}))
        .await;
    assert!(listed["items"][0]["action_id"].as_i64().unwrap() > 0);
    let no_channel = app.incident("No channel").await;
    assert!(channel_action_names(&app, &no_channel).await.is_empty());
    let (_, vkey) = app.person("Vi Viewer", "vi@example.com", "viewer").await;
    let (s, v) = app
        .post_as(
            &vkey,
            "/incident/action/list",
            json!({"incident_id": inc_a}),
        )
        .await;
    assert_eq!(s, 200, "viewers may list: {v}");
    app.fails(
        "/incident/action/list",
        json!({"incident_id": "0123456789abcdef01234567"}),
        404,
        "ResourceNotFound",
    )
    .await;
}
