//! The SSRF battery: under each outbound policy, every way of naming a
//! blocked address is refused on save when literal, fails with the class
//! `blocked` at push time otherwise, and nothing reaches the blocked address.
//!
//! Two real receivers: one on 127.0.0.1 that the policy allows, one on
//! 127.0.0.2 that it blocks (`default` with 127.0.0.2 denied;
//! `public-only` with 127.0.0.1 allowed), plus the cloud metadata address
//! blocked by both.

use std::time::Duration;

use dutyhook_delivery::outbound::Base;
use serde_json::json;

use crate::helpers::{Db, TestApp};
use crate::receiver::{Reply, TestReceiver};

both_dbs!(under_the_default_policy, under_public_only);

async fn under_the_default_policy(db: Db) {
    battery(db, Base::Default).await
}

async fn under_public_only(db: Db) {
    battery(db, Base::PublicOnly).await
}

fn port_of(url: &str) -> u16 {
    url.rsplit(':')
        .next()
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// Literal names of 127.0.0.2 (blocked here) and of 169.254.169.254.
fn literal_forms(port: u16) -> Vec<String> {
    [
        "127.0.0.2",
        "2130706434",
        "0x7f000002",
        "0177.0.0.2",
        "0x7f.0.0.2",
        "[::ffff:127.0.0.2]",
        "[::ffff:7f00:2]",
        "[64:ff9b::7f00:2]",
        "[2002:7f00:2::1]",
        "169.254.169.254",
        "2852039166",
        "0xa9fea9fe",
        "0251.0376.0251.0376",
        "[::ffff:a9fe:a9fe]",
        "[64:ff9b::a9fe:a9fe]",
        "[fe80::1]",
        "0.0.0.0",
        "0",
        "[::]",
    ]
    .iter()
    .map(|host| format!("http://{host}:{port}/hook"))
    .collect()
}

async fn integration_count(app: &TestApp) -> usize {
    let hooks = app
        .ok("/integration/webhook/list", json!({"limit": 100}))
        .await;
    let actions = app
        .ok("/integration/custom-action/list", json!({"limit": 100}))
        .await;
    hooks["items"].as_array().unwrap().len() + actions["items"].as_array().unwrap().len()
}

async fn webhook(app: &TestApp, endpoint: &str) -> i64 {
    app.ok(
        "/integration/webhook/create",
        json!({"kind": "incident", "name": endpoint, "endpoint": endpoint,
               "retry_policy": "none", "timeout_ms": 500}),
    )
    .await["integration_id"]
        .as_i64()
        .unwrap()
}

async fn battery(db: Db, base: Base) {
    let allowed = TestReceiver::start_on("127.0.0.1").await;
    let blocked = TestReceiver::start_on("127.0.0.2").await;
    let port = port_of(&blocked.url);
    let app = TestApp::spawn_with(db, |c| {
        c.outbound.base = base;
        match base {
            Base::Default => c.outbound.deny.push("127.0.0.2/32".parse().unwrap()),
            Base::PublicOnly => c.outbound.allow.push("127.0.0.1/32".parse().unwrap()),
        }
        let resolve = |ips: &[&str]| ips.iter().map(|ip| ip.parse().unwrap()).collect();
        c.dns_overrides
            .insert("inside.test".into(), resolve(&["127.0.0.2"]));
        c.dns_overrides
            .insert("metadata.test".into(), resolve(&["169.254.169.254"]));
        c.dns_overrides
            .insert("both.test".into(), resolve(&["127.0.0.1", "127.0.0.2"]));
        c.dns_overrides
            .insert("mapped.test".into(), resolve(&["::ffff:127.0.0.2"]));
        c.dns_overrides
            .insert("allowed.test".into(), resolve(&["127.0.0.1"]));
    })
    .await;
    let channel = app
        .ok("/channel/create", json!({"channel_name": "Edge"}))
        .await["channel_id"]
        .as_i64()
        .unwrap();

    // Literal forms: refused on save by every kind of integration, and by
    // an update; nothing is saved.
    let kept = webhook(&app, &allowed.url).await;
    for endpoint in literal_forms(port) {
        for (path, body) in [
            (
                "/integration/webhook/create",
                json!({"kind": "incident", "name": "x", "endpoint": endpoint}),
            ),
            (
                "/integration/webhook/create",
                json!({"kind": "alert", "name": "x", "endpoint": endpoint}),
            ),
            (
                "/integration/custom-action/create",
                json!({"name": "x", "channel_ids": [channel], "endpoint": endpoint}),
            ),
            (
                "/integration/webhook/update",
                json!({"integration_id": kept, "endpoint": endpoint}),
            ),
        ] {
            let m = app.fails(path, body, 400, "InvalidParameter").await;
            assert!(
                m.starts_with("endpoint:") && m.contains("blocked by"),
                "{path} {endpoint}: {m}"
            );
        }
    }
    for endpoint in [
        format!("ftp://127.0.0.1:{port}/"),
        "file:///etc/passwd".to_string(),
        "gopher://127.0.0.1/".to_string(),
        "javascript:alert(1)".to_string(),
        "data:text/plain,hi".to_string(),
        format!("ws://127.0.0.1:{port}/"),
    ] {
        let m = app
            .fails(
                "/integration/webhook/create",
                json!({"kind": "incident", "name": "x", "endpoint": endpoint}),
                400,
                "InvalidParameter",
            )
            .await;
        assert!(m.starts_with("endpoint:"), "{endpoint}: {m}");
    }
    assert_eq!(integration_count(&app).await, 1, "nothing else was saved");
    let info = app
        .ok("/integration/webhook/info", json!({"integration_id": kept}))
        .await;
    assert_eq!(
        info["endpoint"],
        json!(allowed.url),
        "the update changed nothing"
    );

    // Names that resolve to a blocked address fail as `blocked` at push
    // time, for every address they resolve to.
    let mut by_name = vec![];
    for host in ["inside.test", "metadata.test", "both.test", "mapped.test"] {
        by_name.push((
            host,
            webhook(&app, &format!("http://{host}:{port}/hook")).await,
        ));
    }
    // A redirect from an allowed endpoint to the blocked one is not followed.
    let redirecting = TestReceiver::start_on("127.0.0.1").await;
    redirecting.script([Reply {
        headers: vec![("location", blocked.url.clone())],
        ..Reply::status(307)
    }]);
    let redirect_id = webhook(&app, &redirecting.url).await;
    let allowed_by_name = webhook(
        &app,
        &format!("http://allowed.test:{}/hook", port_of(&allowed.url)),
    )
    .await;

    app.ok(
        "/incident/create",
        json!({"title": "Pushed everywhere", "incident_severity": "Info", "channel_id": channel}),
    )
    .await;
    for (host, id) in &by_name {
        let a = &app.attempts(*id, 1).await[0];
        assert_eq!(a["error_class"], json!("blocked"), "{host}: {a}");
        assert!(a["error"].as_str().unwrap().contains("blocked by"), "{a}");
        assert_eq!(a["http_status"], json!(0));
    }
    let a = &app.attempts(redirect_id, 1).await[0];
    assert_eq!(a["error_class"], json!("redirect"), "{a}");
    assert_eq!(a["http_status"], json!(307));

    // The same policy holds for test pushes and custom actions.
    let (host, id) = by_name[0];
    let test = app
        .ok("/integration/webhook/test", json!({"integration_id": id}))
        .await;
    assert_eq!(test["success"], json!(false), "{host}: {test}");
    assert_eq!(test["error_class"], json!("blocked"), "{test}");
    let action = app
        .ok(
            "/integration/custom-action/create",
            json!({"name": "Restart", "channel_ids": [channel], "endpoint": format!("http://inside.test:{port}/hook")}),
        )
        .await["integration_id"]
        .as_i64()
        .unwrap();
    let incident = app
        .ok(
            "/incident/create",
            json!({"title": "Press it", "incident_severity": "Info", "channel_id": channel}),
        )
        .await["incident_id"]
        .clone();
    let pressed = app
        .ok(
            "/incident/action/trigger",
            json!({"incident_id": incident, "action_id": action}),
        )
        .await;
    assert_eq!(pressed["success"], json!(false), "{pressed}");
    assert_eq!(pressed["error_class"], json!("blocked"), "{pressed}");

    // The allowed receiver got its pushes, so silence at the blocked one is
    // not for want of trying.
    allowed.wait_for(2).await;
    redirecting.wait_for(1).await;
    assert!(!app.attempts(allowed_by_name, 1).await.is_empty());
    assert_eq!(app.attempts(kept, 2).await[0]["status"], json!("success"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        blocked.received().is_empty(),
        "nothing reached the blocked address: {:?}",
        blocked.received()
    );
}
