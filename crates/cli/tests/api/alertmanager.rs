//! A real Prometheus Alertmanager (Debian's `prometheus-alertmanager`) whose
//! webhook receiver is dutyhook's Alertmanager endpoint: alerts fed through
//! Alertmanager's own API arrive as alerts grouped into an incident, and
//! resolving them there recovers the alerts and the incident here.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{now_s, Db, TestApp};

both_dbs!(real_alertmanager_fires_and_resolves);

struct Alertmanager {
    child: Child,
    url: String,
    _dir: tempfile::TempDir,
}

impl Drop for Alertmanager {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> Option<&'static str> {
    ["prometheus-alertmanager", "alertmanager"]
        .into_iter()
        .find(|b| {
            Command::new(b)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok()
        })
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts Alertmanager with one route to `webhook`, notifying at once and
/// again a second after any change, resolved alerts included.
async fn start(bin: &str, webhook: &str) -> Alertmanager {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("alertmanager.yml");
    std::fs::write(
        &config,
        format!(
            "route:\n  receiver: dutyhook\n  group_by: ['alertname']\n  group_wait: 0s\n  group_interval: 1s\n  repeat_interval: 1h\n\
             receivers:\n  - name: dutyhook\n    webhook_configs:\n      - url: '{webhook}'\n        send_resolved: true\n"
        ),
    )
    .unwrap();
    let port = free_port();
    let child = Command::new(bin)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address=127.0.0.1:{port}"))
        .arg("--cluster.listen-address=")
        .arg("--log.level=warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("start alertmanager");
    let am = Alertmanager {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    };
    let client = reqwest::Client::new();
    for _ in 0..200 {
        if let Ok(r) = client.get(format!("{}/-/ready", am.url)).send().await {
            if r.status().is_success() {
                return am;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("alertmanager did not become ready at {}", am.url);
}

/// RFC 3339 in UTC for a Unix time (days to civil date, H. Hinnant).
fn rfc3339(t: i64) -> String {
    let (days, secs) = (t.div_euclid(86_400), t.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

#[test]
fn rfc3339_matches_known_dates() {
    assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    assert_eq!(rfc3339(1_649_367_553), "2022-04-07T21:39:13Z");
    assert_eq!(rfc3339(951_782_400), "2000-02-29T00:00:00Z");
}

async fn alerts(app: &TestApp) -> Vec<Value> {
    app.ok(
        "/alert/list",
        json!({"start_time": now_s() - 3600, "end_time": now_s() + 3600, "limit": 100}),
    )
    .await["items"]
        .as_array()
        .unwrap()
        .clone()
}

/// Polls `/alert/list` until `done` holds (Alertmanager notifies on its own time).
async fn until(app: &TestApp, what: &str, done: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    for _ in 0..300 {
        let list = alerts(app).await;
        if done(&list) {
            return list;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{what}: not seen within 30 s; alerts: {:#}",
        json!(alerts(app).await)
    );
}

async fn real_alertmanager_fires_and_resolves(db: Db) {
    let Some(bin) = binary() else {
        assert!(
            std::env::var("DUTYHOOK_REQUIRE_ALERTMANAGER").is_err(),
            "prometheus-alertmanager is required here (scripts/test installs it)"
        );
        eprintln!("skipping: no prometheus-alertmanager (apt-get install prometheus-alertmanager)");
        return;
    };
    let app = TestApp::spawn(db).await;
    let ch = app
        .ok(
            "/channel/create",
            json!({"channel_name": "prom", "grouping": {"method": "p", "dimensions": ["labels.alertname"]}}),
        )
        .await["channel_id"]
        .as_i64()
        .unwrap();
    let key = app
        .ok(
            "/integration/alert-source/create",
            json!({"name": "prom", "source_type": "alertmanager", "channel_id": ch}),
        )
        .await["integration_key"]
        .as_str()
        .unwrap()
        .to_string();
    let am = start(
        bin,
        &app.url(&format!(
            "/event/push/alert/alertmanager?integration_key={key}"
        )),
    )
    .await;
    // A minute back, so that "ended a second ago" is after the start.
    let started = now_s() - 60;
    let fire = |ends: Option<i64>| {
        let mut alerts = json!([
            {"labels": {"alertname": "DiskFull", "instance": "db1", "severity": "critical"},
             "annotations": {"summary": "Disk full on db1", "runbook": "https://runbooks.example/disk"},
             "startsAt": rfc3339(started)},
            {"labels": {"alertname": "DiskFull", "instance": "db2", "severity": "warning"},
             "annotations": {"description": "92% used"},
             "startsAt": rfc3339(started)}
        ]);
        if let Some(t) = ends {
            for a in alerts.as_array_mut().unwrap() {
                a["endsAt"] = json!(rfc3339(t));
            }
        }
        alerts
    };
    let client = reqwest::Client::new();
    let r = client
        .post(format!("{}/api/v2/alerts", am.url))
        .json(&fire(None))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());

    let list = until(&app, "two firing alerts", |l| l.len() == 2).await;
    let by_instance = |l: &[Value], i: &str| {
        l.iter()
            .find(|a| a["labels"]["instance"] == json!(i))
            .unwrap_or_else(|| panic!("no alert for {i}: {l:?}"))
            .clone()
    };
    let db1 = by_instance(&list, "db1");
    let db2 = by_instance(&list, "db2");
    assert_eq!(
        db1["title"],
        json!("Disk full on db1"),
        "summary annotation"
    );
    assert_eq!(
        db2["title"],
        json!("DiskFull"),
        "alertname without a summary"
    );
    assert_eq!(db2["description"], json!("92% used"));
    assert_eq!(db1["alert_severity"], json!("Critical"));
    assert_eq!(db2["alert_severity"], json!("Warning"));
    assert_eq!(db1["data_source_type"], json!("alertmanager"));
    assert_eq!(
        db1["labels"]["runbook"],
        json!("https://runbooks.example/disk"),
        "annotations join the labels"
    );
    for a in [&db1, &db2] {
        let k = a["alert_key"].as_str().unwrap();
        assert!(
            k.len() == 16 && k.chars().all(|c| c.is_ascii_hexdigit()),
            "Alertmanager's fingerprint is the key: {k}"
        );
        assert_eq!(a["progress"], json!("Triggered"));
    }
    let incident = db1["incident"]["incident_id"].as_str().unwrap().to_string();
    assert_eq!(
        db2["incident"]["incident_id"],
        json!(incident),
        "grouped by alertname"
    );
    let info = app.info(&incident).await;
    assert_eq!(info["incident_severity"], json!("Critical"));
    assert_eq!(info["alert_cnt"], json!(2));

    // Resolved in Alertmanager: it notifies `resolved`, which recovers both
    // alerts and, with the last one, the incident.
    let r = client
        .post(format!("{}/api/v2/alerts", am.url))
        .json(&fire(Some(now_s() - 1)))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let list = until(&app, "both alerts recovered", |l| {
        l.len() == 2 && l.iter().all(|a| a["progress"] == json!("Closed"))
    })
    .await;
    for a in &list {
        assert_eq!(a["alert_status"], json!("Ok"));
        assert!(a["end_time"].as_i64().unwrap() >= started);
    }
    let info = app.info(&incident).await;
    assert_eq!(info["progress"], json!("Closed"), "auto-recovery");
    assert_eq!(info["incident_status"], json!("Ok"));
    let rslv: Vec<Value> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e["event_type"] == json!("i_rslv"))
        .collect();
    assert_eq!(rslv.len(), 1, "{rslv:?}");
    assert!(
        rslv[0].get("person").is_none(),
        "recovered by the alerts, not a person"
    );
}
