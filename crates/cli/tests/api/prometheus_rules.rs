//! The Prometheus rules shipped for dutyhook itself: valid for promtool,
//! and naming only metrics dutyhook serves.

use std::path::Path;
use std::process::Command;

use serde_json::json;

use crate::actions::{incident_in, trigger};
use crate::actions_guardrails::action;
use crate::helpers::{Db, TestApp};
use crate::receiver::TestReceiver;

fn rules_file() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../packaging/prometheus-rules.yml")
}

#[tokio::test]
async fn the_shipped_rules_check_and_name_served_metrics() {
    let rules = rules_file();
    match Command::new("promtool")
        .arg("check")
        .arg("rules")
        .arg(&rules)
        .output()
    {
        Ok(out) => assert!(
            out.status.success(),
            "promtool check rules:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
        Err(_) if std::env::var_os("DUTYHOOK_REQUIRE_PROMTOOL").is_none() => {
            eprintln!("promtool is not installed: only the metric names are checked");
        }
        Err(e) => panic!("promtool is needed (Debian's prometheus package): {e}"),
    }

    // A push, a press and a push given up, so that every family has samples.
    let app = TestApp::spawn(Db::Sqlite).await;
    let rx = TestReceiver::start().await;
    app.ok(
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "hook", "endpoint": rx.url}),
    )
    .await;
    // And one given up: nothing listens there, and it is not retried.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let nowhere = format!("http://{}/", closed.local_addr().unwrap());
    drop(closed);
    let dead = app
        .ok(
            "/integration/webhook/create",
            json!({"kind": "incident", "name": "dead", "endpoint": nowhere, "retry_policy": "none"}),
        )
        .await["integration_id"]
        .as_i64()
        .unwrap();
    let ch = app.channel("ops").await;
    let action = action(&app, ch, &rx.url, json!({})).await;
    let inc = incident_in(&app, ch, "Something broke").await;
    trigger(&app, &inc, action).await;
    rx.wait_for(2).await;
    app.attempts(1, 1).await;
    app.attempts(dead, 1).await;
    let served = app
        .client
        .get(app.url("/metrics"))
        .header("Accept", "application/openmetrics-text; version=1.0.0")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(served.ends_with("# EOF\n"), "OpenMetrics when asked for");
    check_metrics(&app).await;
    let families: Vec<&str> = served
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    let text = std::fs::read_to_string(&rules).unwrap();
    let mut named = 0;
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_')) {
        if !word.starts_with("dutyhook_") {
            continue;
        }
        named += 1;
        let family = ["_total", "_bucket", "_count", "_sum"]
            .iter()
            .find_map(|s| word.strip_suffix(s))
            .unwrap_or(word);
        assert!(
            families.contains(&family),
            "the rules name {word}, which /metrics does not serve: {families:?}"
        );
    }
    assert!(named >= 6, "the rules use dutyhook's metrics");
}

/// Without asking for OpenMetrics a scraper gets the Prometheus text format,
/// which `promtool check metrics` accepts without a complaint.
async fn check_metrics(app: &TestApp) {
    let resp = app.client.get(app.url("/metrics")).send().await.unwrap();
    let content_type = resp.headers()["content-type"].to_str().unwrap().to_string();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let text = resp.text().await.unwrap();
    assert!(
        text.contains("# TYPE dutyhook_pushes_total counter"),
        "{text}"
    );
    let child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(_) if std::env::var_os("DUTYHOOK_REQUIRE_PROMTOOL").is_none() => return,
        Err(e) => panic!("promtool is needed (Debian's prometheus package): {e}"),
    };
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success() && out.stdout.is_empty() && out.stderr.is_empty(),
        "promtool check metrics:\n{}{}\non:\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
