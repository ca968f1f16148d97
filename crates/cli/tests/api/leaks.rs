//! The secret leak test: a full scenario at log level `trace` with secret
//! headers, signing secrets (before and after rotation), app keys, an
//! integration key, a console password and session, a sign-in link and the
//! passwords set through it, endpoint credentials (basic, bearer, OAuth2,
//! an mTLS key: `leaks_endpoint_auth.rs`), the database's password; none
//! of the secret values may appear in any log line, API read, history
//! record, metrics output, console page, or a raw dump of the database
//! (secrets are sealed at rest with a key kept outside it).

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::sync::{Arc, Mutex};

use reqwest::redirect::Policy;
use serde_json::{json, Value};

use crate::cli::{dutyhook, Serve};
use crate::helpers::{now_s, Db, TestDb};
use crate::receiver::TestReceiver;

both_dbs!(no_secret_appears_anywhere);

struct Traced {
    serve: Serve,
    addr: String,
    key: String,
    email: String,
    password: String,
    stdout_after_start: Arc<Mutex<Vec<String>>>,
    log: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

fn start_traced(url: &str) -> Traced {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("stderr.log");
    let mut child = dutyhook(&["serve", "--listen", "127.0.0.1:0", "--database", url])
        .env("DUTYHOOK_LOG", "trace")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .expect("spawn dutyhook");
    let mut reader = BufReader::new(child.stdout.take().unwrap());
    let serve = Serve::from(child);
    let mut banner = vec![];
    let addr = loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "serve exited: {banner:?}"
        );
        if let Some(rest) = line.split("listening on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_string();
        }
        banner.push(line);
    };
    let value = |label: &str| {
        banner
            .iter()
            .find(|l| l.contains(label))
            .unwrap_or_else(|| panic!("{label} not printed: {banner:?}"))
            .split_whitespace()
            .last()
            .unwrap()
            .to_string()
    };
    let stdout_after_start: Arc<Mutex<Vec<String>>> = Default::default();
    let sink = stdout_after_start.clone();
    std::thread::spawn(move || {
        for line in reader.lines().map_while(Result::ok) {
            sink.lock().unwrap().push(line);
        }
    });
    Traced {
        serve,
        addr,
        key: value("app key:"),
        email: value("console login:"),
        password: value("password:"),
        stdout_after_start,
        log,
        _dir: dir,
    }
}

struct Client {
    http: reqwest::Client,
    base: String,
    /// Every answer body read during the scenario.
    seen: Mutex<Vec<(String, String)>>,
}

impl Client {
    async fn post(&self, key: &str, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        self.seen.lock().unwrap().push((path.into(), text.clone()));
        assert_eq!(status, 200, "{path}: {text}");
        serde_json::from_str::<Value>(&text).unwrap()["data"].clone()
    }

    async fn get(&self, path: &str, cookie: Option<&str>) -> String {
        let mut req = self.http.get(format!("{}{path}", self.base));
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        let text = req.send().await.unwrap().text().await.unwrap();
        self.seen.lock().unwrap().push((path.into(), text.clone()));
        text
    }
}

fn str_of(v: &Value, field: &str) -> String {
    v[field]
        .as_str()
        .unwrap_or_else(|| panic!("{field} in {v}"))
        .to_string()
}

async fn no_secret_appears_anywhere(db: Db) {
    let db = TestDb::new(db).await;
    // PostgreSQL: a password in the URL, which no log line may show.
    let db_password = "db-password-in-the-url";
    let with_password = db.url_with_password(db_password);
    let mut t = start_traced(with_password.as_deref().unwrap_or(&db.url));
    let rx = TestReceiver::start().await;
    let c = Client {
        http: reqwest::Client::builder()
            .redirect(Policy::none())
            .build()
            .unwrap(),
        base: format!("http://{}", t.addr),
        seen: Default::default(),
    };
    let admin = t.key.clone();
    let header_secret = "hdr-secret-7f3a91c2";
    let action_secret = "act-secret-0b5e66d4";

    // Secrets made along the way.
    let person = c
        .post(
            &admin,
            "/person/create",
            json!({"person_name": "Bo", "email": "bo@example.com", "role": "member"}),
        )
        .await["person_id"]
        .clone();
    let bo_key = str_of(
        &c.post(
            &admin,
            "/app-key/create",
            json!({"name": "bo", "person_id": person}),
        )
        .await,
        "app_key",
    );
    let account_secrets =
        crate::leaks_accounts::use_account_secrets(&c.base, &admin, &person, &bo_key).await;
    let (endpoint_secrets, endpoint_reads) =
        crate::leaks_endpoint_auth::use_endpoint_secrets(&c.base, &admin, &rx.url).await;
    let channel = c
        .post(&admin, "/channel/create", json!({"channel_name": "Core"}))
        .await["channel_id"]
        .clone();
    let hook = c
        .post(
            &admin,
            "/integration/webhook/create",
            json!({"kind": "incident", "name": "chat", "endpoint": rx.url,
                   "headers": [{"key": "Authorization", "value": format!("Bearer {header_secret}"), "secret": true},
                               {"key": "X-Env", "value": "prod"}]}),
        )
        .await;
    let hook_id = hook["integration_id"].clone();
    let first_secret = str_of(&hook, "signing_secret");
    let rotated = str_of(
        &c.post(
            &admin,
            "/integration/webhook/rotate-secret",
            json!({"integration_id": hook_id}),
        )
        .await,
        "signing_secret",
    );
    let alert_hook = c
        .post(
            &admin,
            "/integration/webhook/create",
            json!({"kind": "alert", "name": "alerts", "endpoint": rx.url,
                   "headers": [{"key": "X-Token", "value": header_secret, "secret": true}]}),
        )
        .await;
    let action = c
        .post(
            &admin,
            "/integration/custom-action/create",
            json!({"name": "Restart", "channel_ids": [channel], "endpoint": rx.url,
                   "headers": [{"key": "X-Action-Token", "value": action_secret, "secret": true}]}),
        )
        .await;
    let source = c
        .post(
            &admin,
            "/integration/alert-source/create",
            json!({"name": "prom", "source_type": "standard", "channel_id": channel}),
        )
        .await;
    let integration_key = str_of(&source, "integration_key");

    // The console: log in with the password, keep the session.
    let login = c
        .http
        .get(format!("{}/console/login", c.base))
        .send()
        .await
        .unwrap();
    let login_cookie = login.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let html = login.text().await.unwrap();
    let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    let login_csrf = html[at..].split('"').next().unwrap().to_string();
    let resp = c
        .http
        .post(format!("{}/console/login", c.base))
        .header("cookie", &login_cookie)
        .form(&[
            ("email", t.email.as_str()),
            ("password", t.password.as_str()),
            ("csrf", &login_csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "the console login worked");
    let session = resp
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("dh_session="))
        .expect("a session");
    let session_value = session.trim_start_matches("dh_session=").to_string();

    // Use every secret: a key in the query string, the session, the
    // integration key, pushes with secret headers, a custom action.
    let incident = c
        .http
        .post(format!("{}/incident/create?app_key={bo_key}", c.base))
        .json(
            &json!({"title": "Leak hunt", "incident_severity": "Critical", "channel_id": channel}),
        )
        .send()
        .await
        .unwrap()
        .json::<Value>()
        .await
        .unwrap()["data"]["incident_id"]
        .clone();
    let page = c.get("/console/incidents", Some(&session)).await;
    let at = page.find("name=\"csrf-token\" content=\"").unwrap() + 27;
    let csrf = page[at..].split('"').next().unwrap().to_string();
    let acked = c
        .http
        .post(format!("{}/incident/ack", c.base))
        .header("cookie", &session)
        .header("x-csrf-token", &csrf)
        .json(&json!({"incident_ids": [incident]}))
        .send()
        .await
        .unwrap();
    assert_eq!(acked.status(), 200);
    let pressed = c
        .post(
            &bo_key,
            "/incident/action/trigger",
            json!({"incident_id": incident, "action_id": action["integration_id"]}),
        )
        .await;
    assert_eq!(pressed["success"], json!(true), "{pressed}");
    let pushed = c
        .http
        .post(format!(
            "{}/event/push/alert/standard?integration_key={integration_key}",
            c.base
        ))
        .json(&json!({"title_rule": "disk full", "event_status": "Warning", "alert_key": "disk"}))
        .send()
        .await
        .unwrap();
    assert_eq!(pushed.status(), 200);
    c.post(
        &admin,
        "/integration/webhook/test",
        json!({"integration_id": hook_id}),
    )
    .await;

    // The secrets were really used: the receiver got them.
    let got = rx.wait_for(5).await;
    assert!(got
        .iter()
        .any(|r| r.header("authorization") == format!("Bearer {header_secret}")));
    assert!(got
        .iter()
        .any(|r| r.header("x-action-token") == action_secret));

    // Read everything back, as the API and the console show it.
    for (path, body) in [
        ("/integration/webhook/list", json!({})),
        ("/integration/webhook/list", json!({"kind": "alert"})),
        (
            "/integration/webhook/info",
            json!({"integration_id": hook_id}),
        ),
        (
            "/integration/webhook/info",
            json!({"integration_id": alert_hook["integration_id"]}),
        ),
        ("/integration/custom-action/list", json!({})),
        (
            "/integration/custom-action/info",
            json!({"integration_id": action["integration_id"]}),
        ),
        ("/integration/alert-source/list", json!({})),
        ("/app-key/list", json!({})),
        ("/person/list", json!({})),
        ("/incident/info", json!({"incident_id": incident})),
        ("/incident/feed", json!({"incident_id": incident})),
        (
            "/alert/list",
            json!({"start_time": 0, "end_time": now_s() + 60}),
        ),
    ] {
        c.post(&admin, path, body).await;
    }
    for id in [
        &hook_id,
        &alert_hook["integration_id"],
        &action["integration_id"],
    ] {
        let mut records = vec![];
        for _ in 0..300 {
            let h = c
                .post(
                    &admin,
                    "/integration/history/list",
                    json!({"integration_id": id, "start_time": now_s() - 600, "end_time": now_s() + 60}),
                )
                .await;
            records = h["items"].as_array().unwrap().clone();
            if !records.is_empty() {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(!records.is_empty(), "integration {id} has history");
        for r in records {
            c.post(
                &admin,
                "/integration/history/info",
                json!({"invocation_id": r["invocation_id"]}),
            )
            .await;
        }
    }
    c.get("/metrics", None).await;
    for page in [
        "/console/incidents".to_string(),
        format!("/console/incident?id={}", incident.as_str().unwrap()),
        "/console/integrations".into(),
        format!("/console/history?integration_id={hook_id}"),
        "/console/directory".into(),
    ] {
        c.get(&page, Some(&session)).await;
    }

    // Stop, so that every log line is written, then look everywhere.
    assert!(t.serve.terminate().success());
    let log = std::fs::read_to_string(&t.log).unwrap();
    assert!(
        log.lines().count() > 100 && log.contains("TRACE"),
        "the log was really at trace level ({} lines)",
        log.lines().count()
    );
    let mut places: Vec<(String, String)> = c.seen.lock().unwrap().clone();
    places.push(("stderr log".into(), log));
    places.push((
        "stdout after start".into(),
        t.stdout_after_start.lock().unwrap().join("\n"),
    ));
    let base64_of = |s: &str| s.trim_start_matches("whsec_").to_string();
    let mut secrets = vec![
        ("the admin's app key", t.key.clone()),
        ("a person's app key", bo_key.clone()),
        ("the console password", t.password.clone()),
        ("the console session", session_value.clone()),
        ("a signing secret", base64_of(&first_secret)),
        ("a rotated signing secret", base64_of(&rotated)),
        (
            "an alert webhook's signing secret",
            base64_of(&str_of(&alert_hook, "signing_secret")),
        ),
        (
            "a custom action's signing secret",
            base64_of(&str_of(&action, "signing_secret")),
        ),
        ("an integration key", integration_key.clone()),
        ("a secret header", header_secret.to_string()),
        ("a custom action's secret header", action_secret.to_string()),
    ];
    if with_password.is_some() {
        secrets.push(("the database's password", db_password.to_string()));
    }
    secrets.extend(account_secrets);
    secrets.extend(endpoint_secrets);
    places.extend(endpoint_reads);
    places.push(("a raw dump of the database".into(), raw_dump(&db.url)));
    let created_answers = [
        "/app-key/create",
        "/integration/webhook/create",
        "/integration/webhook/rotate-secret",
        "/integration/custom-action/create",
        "/integration/alert-source/create",
    ];
    for (place, text) in &places {
        if created_answers.contains(&place.as_str()) {
            continue; // the one answer that shows a new secret, by design
        }
        for (what, secret) in &secrets {
            assert!(secret.len() >= 16, "{what} is long enough to find");
            if let Some(at) = text.find(secret.as_str()) {
                let from = at.saturating_sub(200);
                panic!(
                    "{what} leaked into {place}: …{}…",
                    &text[from..(at + secret.len() + 100).min(text.len())]
                );
            }
        }
    }
}

/// Every byte the database holds: the SQLite files, or `pg_dump`'s output.
fn raw_dump(url: &str) -> String {
    match dutyhook_store::sqlite_path(url) {
        Some(path) => {
            let mut bytes = vec![];
            for suffix in ["", "-wal"] {
                let mut file = path.clone().into_os_string();
                file.push(suffix);
                bytes.extend(std::fs::read(&file).unwrap_or_default());
            }
            assert!(bytes.len() > 10_000, "the database files were read");
            String::from_utf8_lossy(&bytes).into_owned()
        }
        None => {
            let out = std::process::Command::new("pg_dump")
                .args(["--data-only", url])
                .output()
                .expect("pg_dump");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let dump = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                dump.contains("COPY public.integrations"),
                "the dump holds the integrations"
            );
            dump
        }
    }
}
