//! How pushes fail, and that one failing endpoint harms no other.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{refused_endpoint, Db, TestApp};
use crate::receiver::{Reply, TestReceiver};

both_dbs!(
    failure_classes,
    outbound_policy_at_push_time,
    blackholed_endpoint_does_not_delay_others,
    metrics_series,
    history_is_pruned_after_retention,
);

async fn one_shot_hook(app: &TestApp, endpoint: &str, timeout_ms: i64) -> i64 {
    app.ok(
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "x", "endpoint": endpoint, "retry_policy": "none", "timeout_ms": timeout_ms}),
    )
    .await["integration_id"]
        .as_i64()
        .unwrap()
}

async fn last_attempt(app: &TestApp, integration_id: i64) -> Value {
    app.attempts(integration_id, 1).await.swap_remove(0)
}

/// A TCP server that accepts and then either closes at once or never answers.
async fn raw_server(close: bool) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((sock, _)) = listener.accept().await {
            if close {
                drop(sock);
            } else {
                held.push(sock);
            }
        }
    });
    format!("http://{addr}/hook")
}

async fn failure_classes(db: Db) {
    let app = TestApp::spawn(db).await;
    let slow = TestReceiver::start().await;
    slow.script([Reply {
        delay: Duration::from_millis(1500),
        ..Reply::status(200)
    }]);
    let redirect = TestReceiver::start().await;
    redirect.script([Reply {
        headers: vec![("location", refused_endpoint("elsewhere"))],
        ..Reply::status(302)
    }]);
    let refused = refused_endpoint("hook");
    let cases = [
        (slow.url.clone(), "timeout"),
        (redirect.url.clone(), "redirect"),
        (refused, "connect"),
        (raw_server(true).await, "connect"),
        ("http://no-such-host.invalid/hook".to_string(), "dns"),
    ];
    let mut hooks = vec![];
    for (url, class) in &cases {
        hooks.push((one_shot_hook(&app, url, 300).await, *class));
    }
    app.incident("Fails everywhere").await;
    for (id, class) in hooks {
        let a = last_attempt(&app, id).await;
        assert_eq!(a["status"], json!("failure"), "{a}");
        assert_eq!(a["error_class"], json!(class), "{a}");
        assert!(!a["error"].as_str().unwrap().is_empty());
        if class == "timeout" {
            assert!(
                a["duration_ms"].as_i64().unwrap() < 1500,
                "the timeout cut the attempt short: {a}"
            );
        }
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(redirect.received().len(), 1, "the redirect is not followed");
}

async fn outbound_policy_at_push_time(db: Db) {
    let rx = TestReceiver::start().await;
    let port = rx
        .url
        .split(':')
        .nth(2)
        .unwrap()
        .split('/')
        .next()
        .unwrap()
        .to_string();
    let app = TestApp::spawn_with(db, |c| {
        c.outbound.base = dutyhook_delivery::outbound::Base::PublicOnly;
        c.dns_overrides
            .insert("internal.test".into(), vec!["127.0.0.1".parse().unwrap()]);
        c.dns_overrides.insert(
            "mixed.test".into(),
            vec![
                "93.184.216.34".parse().unwrap(),
                "127.0.0.1".parse().unwrap(),
            ],
        );
        c.dns_overrides.insert(
            "metadata.test".into(),
            vec!["169.254.169.254".parse().unwrap()],
        );
    })
    .await;
    let m = app
        .fails(
            "/integration/webhook/create",
            json!({"kind": "incident", "name": "x", "endpoint": rx.url}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(
        m.contains("127.0.0.1") && m.contains("public-only"),
        "a literal blocked address is refused on save: {m}"
    );
    let mut hooks = vec![];
    for host in ["internal.test", "mixed.test", "metadata.test"] {
        hooks.push((
            host,
            one_shot_hook(&app, &format!("http://{host}:{port}/hook"), 500).await,
        ));
    }
    app.incident("Blocked pushes").await;
    for (host, id) in hooks {
        let a = last_attempt(&app, id).await;
        assert_eq!(a["error_class"], json!("blocked"), "{host}: {a}");
        assert!(a["error"].as_str().unwrap().contains("blocked by"), "{a}");
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        rx.received().is_empty(),
        "nothing reached the blocked address"
    );
}

async fn blackholed_endpoint_does_not_delay_others(db: Db) {
    let app = TestApp::spawn(db).await;
    let healthy = TestReceiver::start().await;
    let dead = raw_server(false).await;
    let dead_id = app
        .ok(
            "/integration/webhook/create",
            json!({"kind": "incident", "name": "dead", "endpoint": dead, "timeout_ms": 200}),
        )
        .await["integration_id"]
        .as_i64()
        .unwrap();
    app.ok(
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "healthy", "endpoint": healthy.url}),
    )
    .await;
    for i in 0..30 {
        app.incident(&format!("Incident {i}")).await;
    }
    healthy.wait_for(30).await;
    // The dead endpoint's circuit opens after 5 consecutive failures.
    let mut open = false;
    for _ in 0..1500 {
        let m = app
            .client
            .get(app.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        if m.contains(&format!(
            "dutyhook_circuit_state{{integration_id=\"{dead_id}\"}} 1"
        )) {
            open = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(open, "the circuit of the dead endpoint opened");
    let stats = app.store.delivery_stats().await.unwrap();
    assert!(stats.pending > 0, "paused deliveries are kept, not dropped");
}

async fn metrics_series(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    app.ok(
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "m", "endpoint": rx.url}),
    )
    .await;
    app.incident("Counted").await;
    rx.wait_for(1).await;
    let expected = [
        "dutyhook_pushes_total{kind=\"incident_webhook\",outcome=\"success\"} 1",
        "dutyhook_push_duration_seconds_bucket",
        "dutyhook_deliveries_pending 0",
        "dutyhook_deliveries_oldest_pending_age_seconds",
    ];
    // The push is counted when its answer arrives; the pending gauge is
    // read from the store, where the delivery settles a batch later.
    let mut text = String::new();
    for _ in 0..1000 {
        let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        text = resp.text().await.unwrap();
        if expected.iter().all(|series| text.contains(series)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    for series in expected {
        assert!(text.contains(series), "{series} missing from:\n{text}");
    }
}

async fn history_is_pruned_after_retention(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let id = app
        .ok(
            "/integration/webhook/create",
            json!({"kind": "incident", "name": "p", "endpoint": rx.url}),
        )
        .await["integration_id"]
        .as_i64()
        .unwrap();
    app.incident("Soon forgotten").await;
    let inv = last_attempt(&app, id).await["invocation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let week = Duration::from_secs(7 * 24 * 3600);
    assert_eq!(
        dutyhook_server::background::prune_once(&app.state, week)
            .await
            .unwrap(),
        0,
        "young records stay"
    );
    app.state.clock.advance(week + Duration::from_secs(60));
    assert_eq!(
        dutyhook_server::background::prune_once(&app.state, week)
            .await
            .unwrap(),
        1
    );
    app.fails(
        "/integration/history/info",
        json!({"invocation_id": inv}),
        404,
        "ResourceNotFound",
    )
    .await;
}
