//! The web console: sessions, CSRF and headers over plain HTTP, then the
//! whole console in a real headless Chromium (Playwright) against the real
//! server and real receivers.

use std::path::PathBuf;
use std::time::Duration;

use reqwest::header::{CONTENT_SECURITY_POLICY, LOCATION, SET_COOKIE};
use reqwest::redirect::Policy;
use serde_json::{json, Value};

use crate::browser::{browser_ready, run_in_browser};
use crate::helpers::{Db, TestApp, ADMIN_EMAIL};
use crate::receiver::{Reply, TestReceiver};

both_dbs!(
    login_sessions_and_csrf,
    the_api_needs_the_session_token,
    pages_and_assets,
    in_a_real_browser
);

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

/// `name=value` of the named cookie a response sets, with its attributes.
pub(crate) fn set_cookie(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with(&format!("{name}=")))
}

pub(crate) fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_string()
}

/// The value of `name="csrf" value="…"` (login and logout forms) or of the
/// csrf-token meta tag.
pub(crate) fn token_in(html: &str) -> String {
    let at = html
        .find("name=\"csrf\" value=\"")
        .map(|i| i + 19)
        .or_else(|| html.find("name=\"csrf-token\" content=\"").map(|i| i + 27))
        .unwrap_or_else(|| panic!("no CSRF token in {html}"));
    html[at..].split('"').next().unwrap().to_string()
}

pub(crate) struct Login {
    pub login_cookie: String,
    pub csrf: String,
}

pub(crate) async fn login_form(app: &TestApp) -> Login {
    let resp = client()
        .get(app.url("/console/login"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    let cookie = set_cookie(&resp, "dh_login").expect("a login cookie");
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let html = resp.text().await.unwrap();
    Login {
        login_cookie: cookie_pair(&cookie),
        csrf: token_in(&html),
    }
}

pub(crate) async fn post_login(
    app: &TestApp,
    form: &Login,
    email: &str,
    password: &str,
) -> reqwest::Response {
    post_login_via(app, form, None, email, password).await
}

/// As [`post_login`], through a proxy that says the client is `forwarded`.
pub(crate) async fn post_login_via(
    app: &TestApp,
    form: &Login,
    forwarded: Option<&str>,
    email: &str,
    password: &str,
) -> reqwest::Response {
    let mut request = client()
        .post(app.url("/console/login"))
        .header("cookie", &form.login_cookie);
    if let Some(address) = forwarded {
        request = request.header("x-forwarded-for", address);
    }
    request
        .form(&[
            ("email", email),
            ("password", password),
            ("csrf", &form.csrf),
        ])
        .send()
        .await
        .unwrap()
}

/// Logs the admin in; answers the session cookie pair and the page's CSRF token.
pub(crate) async fn session(app: &TestApp) -> (String, String) {
    session_as(app, ADMIN_EMAIL, &app.password).await
}

pub(crate) async fn session_as(app: &TestApp, email: &str, password: &str) -> (String, String) {
    let form = login_form(app).await;
    let resp = post_login(app, &form, email, password).await;
    assert_eq!(resp.status(), 303);
    assert_eq!(resp.headers()[LOCATION], "/console/incidents");
    let cookie = set_cookie(&resp, "dh_session").expect("a session cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let cookie = cookie_pair(&cookie);
    let page = client()
        .get(app.url("/console/incidents"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    (cookie, token_in(&page.text().await.unwrap()))
}

async fn login_sessions_and_csrf(db: Db) {
    let app = TestApp::spawn(db).await;

    let resp = client()
        .get(app.url("/console/incidents"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303, "no session: to the login form");
    assert_eq!(resp.headers()[LOCATION], "/console/login");

    let form = login_form(&app).await;
    let wrong = post_login(&app, &form, ADMIN_EMAIL, "not-it").await;
    assert_eq!(wrong.status(), 401);
    assert!(set_cookie(&wrong, "dh_session").is_none());
    let html = wrong.text().await.unwrap();
    assert!(html.contains("The email or the password is wrong."));
    let unknown = post_login(&app, &form, "nobody@example.com", &app.password).await;
    assert_eq!(unknown.status(), 401, "an unknown email reads the same");

    let forged = Login {
        login_cookie: form.login_cookie.clone(),
        csrf: "forged".into(),
    };
    let resp = post_login(&app, &forged, ADMIN_EMAIL, &app.password).await;
    assert_eq!(resp.status(), 403, "a login form from elsewhere is refused");
    assert!(set_cookie(&resp, "dh_session").is_none());

    let (cookie, csrf) = session(&app).await;

    // The login page of someone logged in leads to the incidents.
    let resp = client()
        .get(app.url("/console/login"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);

    // Logging out needs the session's token, then ends the session cookie.
    let resp = client()
        .post(app.url("/console/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 403);
    let resp = client()
        .post(app.url("/console/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    let cleared = set_cookie(&resp, "dh_session").expect("the cookie is cleared");
    assert!(cleared.starts_with("dh_session=;"), "{cleared}");
}

async fn the_api_needs_the_session_token(db: Db) {
    let app = TestApp::spawn(db).await;
    let (cookie, csrf) = session(&app).await;
    let create = |token: Option<&str>, cookie: &str| {
        let mut req = client()
            .post(app.url("/incident/create"))
            .header("cookie", cookie)
            .json(&json!({"title": "Disk full", "incident_severity": "Warning"}));
        if let Some(t) = token {
            req = req.header("x-csrf-token", t);
        }
        req.send()
    };

    let before = app.event_count().await;
    let resp = create(None, &cookie).await.unwrap();
    assert_eq!(resp.status(), 403);
    let v: Value = resp.json().await.unwrap();
    assert_eq!(v["error"]["code"], "AccessDenied");
    assert!(v["error"]["message"].as_str().unwrap().contains("CSRF"));
    let resp = create(Some("00"), &cookie).await.unwrap();
    assert_eq!(resp.status(), 403);
    assert_eq!(app.event_count().await, before, "nothing was created");

    let last = cookie.chars().last().unwrap();
    let tampered = format!(
        "{}{}",
        &cookie[..cookie.len() - 1],
        if last == '0' { '1' } else { '0' }
    );
    let resp = create(Some(&csrf), &tampered).await.unwrap();
    assert_eq!(resp.status(), 401, "a cookie that was altered");

    let resp = create(Some(&csrf), &cookie).await.unwrap();
    assert_eq!(resp.status(), 200);
    let events = app.events_since(before).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event_type"], "i_new");
    assert_eq!(
        events[0]["person"]["person_id"],
        app.admin_id.get(),
        "the session's person made the change"
    );

    // A key still works without any session, and a key wins over a cookie.
    let (status, _) = app.post("/channel/list", json!({})).await;
    assert_eq!(status, 200);
}

async fn pages_and_assets(db: Db) {
    let app = TestApp::spawn(db).await;
    let (cookie, _) = session(&app).await;
    let get = |path: &str| client().get(app.url(path)).header("cookie", &cookie).send();
    for page in [
        "incidents",
        "incident?id=0123456789abcdef01234567",
        "integrations",
        "history?integration_id=1",
        "directory",
    ] {
        let resp = get(&format!("/console/{page}")).await.unwrap();
        assert_eq!(resp.status(), 200, "{page}");
        let csp = resp.headers()[CONTENT_SECURITY_POLICY].to_str().unwrap();
        assert!(
            csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"),
            "{csp}"
        );
        assert_eq!(resp.headers()["x-frame-options"], "DENY");
        let html = resp.text().await.unwrap();
        assert!(html.contains("Ada Admin"), "{page}: the person is named");
        assert!(!html.contains("<script>"), "{page}: no inline script");
        assert!(html.contains("<script src=\"/console/assets/app.js\""));
    }
    assert_eq!(get("/console/nothing").await.unwrap().status(), 404);

    // The incident pages are readable before (and without) the script, with
    // every value escaped.
    let inc = app
        .ok(
            "/incident/create",
            json!({"title": "<b>Disk</b> & \"quota\"", "incident_severity": "Critical"}),
        )
        .await;
    app.ok(
        "/incident/comment",
        json!({"incident_ids": [inc["incident_id"]], "comment": "<img src=x onerror=alert(1)>"}),
    )
    .await;
    let escaped_title = "&lt;b&gt;Disk&lt;/b&gt; &amp; &quot;quota&quot;";
    let list = get("/console/incidents")
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains(escaped_title), "{list}");
    assert!(!list.contains("<b>Disk"));
    let id = inc["incident_id"].as_str().unwrap();
    let one = get(&format!("/console/incident?id={id}"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(one.contains(escaped_title), "{one}");
    assert!(one.contains("&lt;img src=x onerror=alert(1)&gt;"), "{one}");
    assert!(!one.contains("<img"));
    assert!(one.contains("data-type=\"i_comm\""));

    for (module, _) in dutyhook_server::console::SCRIPTS {
        let js = get(&format!("/console/assets/{module}")).await.unwrap();
        assert_eq!(js.status(), 200, "{module}");
        assert!(js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript"));
        assert!(
            !js.text().await.unwrap().contains("innerHTML"),
            "{module}: text is never parsed as HTML"
        );
    }
    let css = get("/console/assets/style.css").await.unwrap();
    assert!(css.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/css"));
    assert_eq!(get("/console/assets/x.js").await.unwrap().status(), 404);

    // An event's detail_url leads to the incident's page.
    let resp = get("/incidents/0123456789abcdef01234567").await.unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(
        resp.headers()[LOCATION],
        "/console/incident?id=0123456789abcdef01234567"
    );
    let resp = get("/").await.unwrap();
    assert_eq!(resp.headers()[LOCATION], "/console/incidents");
}

async fn in_a_real_browser(db: Db) {
    if !browser_ready() {
        eprintln!("skipped: Chromium or playwright-core is not installed");
        return;
    }
    let app = TestApp::spawn(db).await;
    // An alert from monitoring, for the alerts page.
    let monitoring = app.channel("Monitoring").await;
    let key = crate::alerts::source(&app, monitoring, "standard").await;
    crate::alerts::pushed(
        &app,
        &key,
        serde_json::json!({"event_status": "Warning", "title_rule": "Disk almost full on db-7",
                           "alert_key": "disk-db-7", "labels": {"host": "db-7"}}),
    )
    .await;
    let action_ok = TestReceiver::start().await;
    action_ok.script([Reply {
        headers: vec![("content-type", "application/json".into())],
        body: serde_json::json!({
            "message": "<script>window.__xss = 1</script> restarted web-1",
            "labels": {"restarted": "yes"},
            "links": [{"title": "<img src=x onerror=window.__xss=2> Runbook", "url": "https://runbook.example/web-1"}],
        })
        .to_string(),
        ..Reply::status(200)
    }]);
    let action_fail = TestReceiver::start().await;
    action_fail.script([Reply::status(500), Reply::status(500)]);
    let action_async = TestReceiver::start().await;
    let reporter = report_like_a_canary(app.url("/action-run/callback"), action_async.clone());
    let hook = TestReceiver::start().await;

    let shots = tempfile::tempdir().unwrap();
    let keep = std::env::var_os("DUTYHOOK_SCREENSHOTS").map(PathBuf::from);
    run_in_browser(
        &app,
        "console.mjs",
        shots.path(),
        &[
            ("ACTION_OK", &action_ok.url),
            ("ACTION_FAIL", &action_fail.url),
            ("ACTION_ASYNC", &action_async.url),
            ("HOOK", &hook.url),
        ],
    )
    .await;
    reporter
        .await
        .expect("the long-running action's endpoint reported");
    if let Some(dir) = keep {
        std::fs::create_dir_all(&dir).unwrap();
        for shot in std::fs::read_dir(shots.path()).unwrap() {
            let shot = shot.unwrap();
            std::fs::copy(shot.path(), dir.join(shot.file_name())).expect("screenshot");
        }
    }

    // The successful action pushed i_custom with the incident; the failing
    // one was tried and answered 500.
    let pushes = action_ok.received();
    let custom: Vec<Value> = pushes.iter().map(|r| r.json()).collect();
    assert_eq!(custom.len(), 1, "{custom:?}");
    assert_eq!(custom[0]["event_type"], "i_custom");
    assert_eq!(custom[0]["person"]["email"], ADMIN_EMAIL);
    assert!(custom[0]["incident"]["title"]
        .as_str()
        .unwrap()
        .contains("<script>"));
    assert!(!action_fail.received().is_empty());

    // The webhook got the test push, i_ack, then the same event again by
    // the resend; each with the secret header's real value.
    let pushes = hook.wait_for(5).await;
    assert!(pushes
        .iter()
        .all(|r| r.header("authorization") == "Bearer s3cr3t-relay-token"));
    let kinds: Vec<Value> = pushes.iter().map(|r| r.json()).collect();
    // (The incidents acknowledged in bulk later are pushed too.)
    let acks: Vec<&Value> = kinds
        .iter()
        .filter(|v| {
            v["event_type"] == "i_ack"
                && v["incident"]["title"]
                    .as_str()
                    .is_some_and(|t| t.contains("<script>"))
        })
        .collect();
    assert_eq!(acks.len(), 2, "{kinds:?}");
    assert_eq!(acks[0]["event_id"], acks[1]["event_id"]);
    assert_eq!(kinds[0]["event_type"], "i_comm", "the test push came first");

    // The fourth action was refused and nothing of it saved.
    let (_, v) = app
        .post("/integration/custom-action/list", json!({"limit": 100}))
        .await;
    let names: Vec<&str> = v["data"]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Restart host", "Roll back", "Deploy canary"]);
}

/// The endpoint of a long-running action: for the first run pushed, reports
/// progress, then success with a link, a second apart.
fn report_like_a_canary(callback_url: String, rx: TestReceiver) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let push = rx.wait_for(1).await[0].json();
        let token = push["run"]["callback_token"].as_str().unwrap().to_string();
        let client = reqwest::Client::new();
        for body in [
            serde_json::json!({"status": "running", "progress": 50, "message": "half of the canary is healthy"}),
            serde_json::json!({"status": "succeeded", "message": "canary healthy",
                "links": [{"title": "Canary report", "url": "https://ci.example/canary/7"}]}),
        ] {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let r = client
                .post(&callback_url)
                .bearer_auth(&token)
                .json(&body)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status().as_u16(), 200, "{}", r.text().await.unwrap());
        }
    })
}
