//! Pressing a custom action: what it sends and records, how it fails,
//! who may press it, idempotency keys, and an endpoint writing back.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::HeaderMap;
use serde_json::{json, Value};

use crate::actions::{action_id, feed, history, incident_in, trigger};
use crate::helpers::{feed_types, Db, TestApp};
use crate::receiver::{Reply, TestReceiver};
use crate::tls_and_verifiers::{https_receiver, python_verifies};
use crate::webhooks::check_signed;

both_dbs!(
    trigger_success_records_everything,
    trigger_failures_are_explained_on_the_timeline,
    trigger_tls_verify_on_and_off,
    trigger_refuses_wrong_channel_and_viewers,
    idempotency_key_answers_the_first_result,
    enrichment_round_trip,
    a_rotated_secret_signs_beside_the_old_one,
);

async fn trigger_success_records_everything(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    rx.script([Reply {
        body: "restarted db-1 <ok>".into(),
        ..Reply::status(200)
    }]);
    let hooks = TestReceiver::start().await;
    let ch = app.channel("payments").await;
    let created = app
        .ok(
            "/integration/custom-action/create",
            json!({"name": "Restart", "channel_ids": [ch], "endpoint": rx.url}),
        )
        .await;
    let id = created["integration_id"].as_i64().unwrap();
    let secret = created["signing_secret"].as_str().unwrap().to_string();
    app.ok(
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "custom only", "endpoint": hooks.url, "event_types": ["i_custom"]}),
    )
    .await;
    let inc = incident_in(&app, ch, "Database down").await;
    let result = trigger(&app, &inc, id).await;
    assert_eq!(result["success"], json!(true), "{result}");
    assert_eq!(result["status_code"], json!(200));
    assert_eq!(result["response_body"], json!("restarted db-1 <ok>"));
    assert!(result["duration_ms"].as_i64().unwrap() >= 0);
    assert!(result.get("error_class").is_none(), "{result}");
    let event_id = result["event_id"].as_str().unwrap();
    assert_eq!(event_id.len(), 32);

    // The push: i_custom, the caller, the incident with its alerts, signed.
    let got = rx.received();
    assert_eq!(got.len(), 1);
    let body = got[0].json();
    assert_eq!(body["event_type"], json!("i_custom"));
    assert_eq!(body["event_id"], json!(event_id));
    assert_eq!(got[0].header("webhook-id"), event_id);
    assert_eq!(body["person"]["person_id"], json!(app.admin_id));
    assert_eq!(body["incident"]["incident_id"], json!(inc));
    assert_eq!(body["incident"]["alerts"], json!([]));
    if let Some(ok) = python_verifies(&secret, &got[0].headers, &got[0].body) {
        assert!(ok, "the push is signed with the action's secret");
    }

    // History, timeline, and the i_custom event for incident webhooks.
    let h = history(&app, id).await;
    assert_eq!(h.len(), 1);
    assert_eq!(h[0]["invocation_id"], result["invocation_id"]);
    assert_eq!(h[0]["status"], json!("success"));
    assert_eq!(h[0]["event_type"], json!("i_custom"));
    assert_eq!(h[0]["incident_id"], json!(inc));
    let f = feed(&app, &inc).await;
    assert_eq!(feed_types(&f), ["i_new", "i_custom"]);
    let entry = &f["items"][1];
    assert_eq!(entry["person"]["person_id"], json!(app.admin_id), "{entry}");
    let detail = entry.to_string();
    assert!(
        detail.contains("Restart") && detail.contains("200"),
        "{entry}"
    );
    let pushed = hooks.wait_for(1).await[0].json();
    assert_eq!(pushed["event_type"], json!("i_custom"));
    assert_eq!(
        pushed["action"],
        json!({"integration_id": id, "name": "Restart", "success": true,
               "run_id": result["run_id"], "status": "succeeded"})
    );
    assert_eq!(pushed["person"]["person_id"], json!(app.admin_id));
    assert!(
        pushed["incident"].get("alerts").is_none(),
        "alerts are for custom action payloads only"
    );
    let (_, metrics) = {
        let r = app.client.get(app.url("/metrics")).send().await.unwrap();
        (r.status(), r.text().await.unwrap())
    };
    assert!(
        metrics
            .lines()
            .any(|l| l.starts_with("dutyhook_custom_action_results_total{outcome=\"success\"} 1")),
        "{metrics}"
    );
    // Resending a custom action invocation is refused with a reason.
    let m = app
        .fails(
            "/integration/history/resend",
            json!({"invocation_id": result["invocation_id"]}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(m.contains("trigger it again"), "{m}");
}

async fn trigger_failures_are_explained_on_the_timeline(db: Db) {
    let app = TestApp::spawn_with(db, |c| {
        c.actions_per_channel = 4;
        c.dns_overrides.insert(
            "metadata.test".into(),
            vec!["169.254.169.254".parse().unwrap()],
        );
    })
    .await;
    let hooks = TestReceiver::start().await;
    app.ok(
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "custom only", "endpoint": hooks.url, "event_types": ["i_custom"]}),
    )
    .await;
    let ch = app.channel("ops").await;
    let inc = incident_in(&app, ch, "Things fail").await;

    // A non-2xx answer: failure, no retry.
    let rx = TestReceiver::start().await;
    rx.script([Reply {
        body: "nope".into(),
        ..Reply::status(500)
    }]);
    let failing = action_id(&app, "Fails", &[ch], &rx.url).await;
    let r = trigger(&app, &inc, failing).await;
    assert_eq!(
        (&r["success"], &r["status_code"], &r["error_class"]),
        (&json!(false), &json!(500), &json!("http_status")),
        "{r}"
    );
    assert_eq!(r["response_body"], json!("nope"));
    assert!(r["error"].as_str().unwrap().contains("500"), "{r}");
    assert_eq!(rx.received().len(), 1, "no retry after an HTTP status");
    assert_eq!(history(&app, failing).await.len(), 1);

    // A 2-second endpoint under a 1-second timeout: timeout, and never a
    // second call, since the first may already be restarting the host.
    let slow = TestReceiver::start().await;
    slow.script([Reply {
        delay: Duration::from_secs(2),
        ..Reply::status(200)
    }]);
    // The default timeout: 1000 ms.
    let slow_id = action_id(&app, "Slow", &[ch], &slow.url).await;
    let r = trigger(&app, &inc, slow_id).await;
    assert_eq!(
        (&r["success"], &r["status_code"], &r["error_class"]),
        (&json!(false), &json!(0), &json!("timeout")),
        "{r}"
    );
    assert_eq!(r["error"], json!("no response within 1000 ms"), "{r}");
    let h = history(&app, slow_id).await;
    assert_eq!(h.len(), 1, "a timeout is never retried");
    assert_eq!(slow.received().len(), 1, "one press, one call");

    // Connection refused: connect, retried once.
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let refused = action_id(
        &app,
        "Refused",
        &[ch],
        &format!("http://127.0.0.1:{closed}/x"),
    )
    .await;
    let r = trigger(&app, &inc, refused).await;
    assert_eq!(r["error_class"], json!("connect"), "{r}");
    assert_eq!(history(&app, refused).await.len(), 2);

    // A name resolving to a blocked address: blocked, never connected, no retry.
    let blocked = action_id(&app, "Blocked", &[ch], "http://metadata.test/latest").await;
    let r = trigger(&app, &inc, blocked).await;
    assert_eq!(r["error_class"], json!("blocked"), "{r}");
    assert_eq!(history(&app, blocked).await.len(), 1);

    // Each is on the timeline, failed, with how; each emitted i_custom with
    // success false.
    let f = feed(&app, &inc).await;
    assert_eq!(
        feed_types(&f),
        ["i_new", "i_custom", "i_custom", "i_custom", "i_custom"]
    );
    let classes: Vec<&Value> = f["items"].as_array().unwrap()[1..]
        .iter()
        .map(|e| {
            assert_eq!(e["detail"]["status"], json!("failed"), "{e}");
            &e["detail"]["error_class"]
        })
        .collect();
    assert_eq!(
        classes,
        [
            &json!("http_status"),
            &json!("timeout"),
            &json!("connect"),
            &json!("blocked")
        ]
    );
    let pushed = hooks.wait_for(4).await;
    for p in &pushed {
        let v = p.json();
        assert_eq!(v["event_type"], json!("i_custom"));
        assert_eq!(v["action"]["success"], json!(false), "{v}");
        assert_eq!(v["action"]["status"], json!("failed"), "{v}");
    }
}

async fn trigger_tls_verify_on_and_off(db: Db) {
    let app = TestApp::spawn(db).await;
    let (url, hits) = https_receiver().await;
    let ch = app.channel("tls").await;
    let inc = incident_in(&app, ch, "TLS both ways").await;
    let strict = action_id(&app, "Strict", &[ch], &url).await;
    let r = trigger(&app, &inc, strict).await;
    assert_eq!(r["error_class"], json!("tls"), "{r}");
    assert_eq!(*hits.lock().unwrap(), 0);
    let lax = app
        .ok(
            "/integration/custom-action/create",
            json!({"name": "Lax", "channel_ids": [ch], "endpoint": url, "tls_verify": false}),
        )
        .await["integration_id"]
        .as_i64()
        .unwrap();
    let r = trigger(&app, &inc, lax).await;
    assert_eq!(r["success"], json!(true), "{r}");
    assert_eq!(*hits.lock().unwrap(), 1);
}

async fn trigger_refuses_wrong_channel_and_viewers(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let a = app.channel("alpha").await;
    let b = app.channel("beta").await;
    let in_a = action_id(&app, "Alpha only", &[a], &rx.url).await;
    let inc_b = incident_in(&app, b, "In beta").await;
    let no_channel = app.incident("No channel").await;
    for inc in [&inc_b, &no_channel] {
        let m = app
            .fails(
                "/incident/action/trigger",
                json!({"incident_id": inc, "action_id": in_a}),
                400,
                "InvalidParameter",
            )
            .await;
        assert!(m.starts_with("action_id"), "{m}");
    }
    app.fails(
        "/incident/action/trigger",
        json!({"incident_id": inc_b, "action_id": 424242}),
        404,
        "ResourceNotFound",
    )
    .await;
    app.fails(
        "/incident/action/trigger",
        json!({"incident_id": "not-an-id", "action_id": in_a}),
        400,
        "InvalidParameter",
    )
    .await;
    let inc_a = incident_in(&app, a, "In alpha").await;
    let (_, vkey) = app.person("Vi Viewer", "vi@example.com", "viewer").await;
    let (s, v) = app
        .post_as(
            &vkey,
            "/incident/action/trigger",
            json!({"incident_id": inc_a, "action_id": in_a}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("AccessDenied"))
    );
    let (_, mkey) = app.person("Mo Member", "mo@example.com", "member").await;
    let (s, v) = app
        .post_as(
            &mkey,
            "/incident/action/trigger",
            json!({"incident_id": inc_a, "action_id": in_a}),
        )
        .await;
    assert_eq!(s, 200, "members may trigger: {v}");
    assert_eq!(rx.received().len(), 1, "only the member's trigger called");
}

async fn idempotency_key_answers_the_first_result(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let ch = app.channel("clicks").await;
    let id = action_id(&app, "Once please", &[ch], &rx.url).await;
    let other = action_id(&app, "Another", &[ch], &rx.url).await;
    let inc = incident_in(&app, ch, "Double click").await;
    // Two presses at once with the same key: one call, one answer twice.
    rx.script([Reply {
        delay: Duration::from_millis(300),
        ..Reply::status(200)
    }]);
    let press = |key: &'static str, action: i64| {
        app.post_task(
            "/incident/action/trigger",
            json!({"incident_id": inc, "action_id": action, "idempotency_key": key}),
        )
    };
    let (first, second) = (press("k1", id), press("k1", id));
    let (first, second) = (first.await.unwrap(), second.await.unwrap());
    assert_eq!(first["data"]["success"], json!(true), "{first}");
    assert_eq!(first["data"], second["data"]);
    assert_eq!(rx.received().len(), 1);
    let third = press("k1", id).await.unwrap();
    assert_eq!(
        third["data"]["invocation_id"],
        first["data"]["invocation_id"]
    );
    assert_eq!(rx.received().len(), 1);
    assert_eq!(feed_types(&feed(&app, &inc).await), ["i_new", "i_custom"]);
    // Another key calls again; the same key for another action is refused.
    let fourth = press("k2", id).await.unwrap();
    assert_ne!(
        fourth["data"]["invocation_id"],
        first["data"]["invocation_id"]
    );
    assert_eq!(rx.received().len(), 2);
    let wrong = press("k1", other).await.unwrap();
    assert_eq!(wrong["error"]["code"], json!("InvalidParameter"), "{wrong}");
    assert!(wrong["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("idempotency_key"));
    // Another person's same key is theirs.
    let (_, mkey) = app.person("Mo Member", "mo@example.com", "member").await;
    let (s, v) = app
        .post_as(
            &mkey,
            "/incident/action/trigger",
            json!({"incident_id": inc, "action_id": id, "idempotency_key": "k1"}),
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert_ne!(v["data"]["invocation_id"], first["data"]["invocation_id"]);
    // The window is 10 minutes.
    app.state.clock.advance(Duration::from_secs(601));
    let later = press("k1", id).await.unwrap();
    assert_ne!(
        later["data"]["invocation_id"],
        first["data"]["invocation_id"]
    );
    assert_eq!(rx.received().len(), 4);
    app.fails(
        "/incident/action/trigger",
        json!({"incident_id": inc, "action_id": id, "idempotency_key": ""}),
        400,
        "InvalidParameter",
    )
    .await;
}

/// An endpoint that writes back onto the incident through the Open API with
/// its own key before answering, as enrichment scripts do.
async fn enrichment_round_trip(db: Db) {
    let app = TestApp::spawn(db).await;
    let (_, bot_key) = app
        .person("Enricher Bot", "bot@example.com", "member")
        .await;
    app.ok(
        "/field/create",
        json!({"field_name": "trace_url", "display_name": "Trace", "field_type": "text"}),
    )
    .await;
    let api = app.url("");
    let enricher = axum::Router::new().fallback(move |_: HeaderMap, body: Bytes| {
        let api = api.clone();
        let key = bot_key.clone();
        async move {
            let push: Value = serde_json::from_slice(&body).unwrap();
            let id = push["incident"]["incident_id"].as_str().unwrap().to_string();
            let client = reqwest::Client::new();
            for (path, req) in [
                (
                    "/incident/labels/update",
                    json!({"incident_id": id, "labels": {"trace_id": "t-42", "host": "db-1"}}),
                ),
                (
                    "/incident/field/reset",
                    json!({"incident_id": id, "field_name": "trace_url", "field_value": "https://traces.example/t-42"}),
                ),
            ] {
                let r = client
                    .post(format!("{api}{path}"))
                    .bearer_auth(&key)
                    .json(&req)
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "{path}: {}", r.text().await.unwrap());
            }
            "enriched"
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/enrich", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, enricher).await });
    let ch = app.channel("db").await;
    let id = app
        .ok(
            "/integration/custom-action/create",
            json!({"name": "Pull traces", "channel_ids": [ch], "endpoint": url, "timeout_ms": 5000}),
        )
        .await["integration_id"]
        .as_i64()
        .unwrap();
    let inc = incident_in(&app, ch, "Slow queries").await;
    let r = trigger(&app, &inc, id).await;
    assert_eq!(r["success"], json!(true), "{r}");
    assert_eq!(r["response_body"], json!("enriched"));
    let info = app.info(&inc).await;
    assert_eq!(info["labels"], json!({"trace_id": "t-42", "host": "db-1"}));
    assert_eq!(
        info["fields"]["trace_url"],
        json!("https://traces.example/t-42")
    );
    assert_eq!(
        feed_types(&feed(&app, &inc).await),
        ["i_new", "i_labels", "i_r_field", "i_custom"]
    );
}

/// A custom action's signing secret rotates as a webhook's does: the new
/// one is shown once, and the old one keeps signing beside it for a day.
async fn a_rotated_secret_signs_beside_the_old_one(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let ch = app.channel("payments").await;
    let created = app
        .ok(
            "/integration/custom-action/create",
            json!({"name": "Restart", "channel_ids": [ch], "endpoint": rx.url}),
        )
        .await;
    let id = created["integration_id"].as_i64().unwrap();
    let old = created["signing_secret"].as_str().unwrap().to_string();
    let rotated = app
        .ok(
            "/integration/custom-action/rotate-secret",
            json!({"integration_id": id}),
        )
        .await;
    let new = rotated["signing_secret"].as_str().unwrap().to_string();
    assert!(new.starts_with("whsec_") && new != old, "{rotated}");
    let inc = incident_in(&app, ch, "Database down").await;
    assert_eq!(trigger(&app, &inc, id).await["success"], json!(true));
    let got = rx.received();
    check_signed(&got[0], &new);
    check_signed(&got[0], &old);
    let (_, vkey) = app.person("Vi", "vi@example.com", "viewer").await;
    let (s, v) = app
        .post_as(
            &vkey,
            "/integration/custom-action/rotate-secret",
            json!({"integration_id": id}),
        )
        .await;
    assert_eq!(
        (s, v["error"]["code"].as_str()),
        (403, Some("AccessDenied"))
    );
    app.fails(
        "/integration/custom-action/rotate-secret",
        json!({"integration_id": 9999}),
        404,
        "ResourceNotFound",
    )
    .await;
}
