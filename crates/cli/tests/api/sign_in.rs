//! Signing in and out (`open-api.md`, "Accounts"): sessions end for good
//! on logout, failed sign-ins are throttled per account and per address,
//! an unknown email costs the same work as a wrong password, and password
//! hashing runs a few at a time.

use dutyhook_domain::ids::PersonId;
use serde_json::json;

use crate::console::{client, login_form, post_login, post_login_via, session, Login};
use crate::helpers::{Db, TestApp, ADMIN_EMAIL};

both_dbs!(
    a_copied_cookie_stops_working_after_logout,
    failed_sign_ins_are_throttled_per_account,
    failed_sign_ins_are_throttled_per_address,
    behind_a_trusted_proxy_the_forwarded_address_counts,
    an_unknown_email_costs_what_a_wrong_password_costs,
    parallel_sign_ins_hash_a_few_at_a_time
);

async fn api_with_cookie(app: &TestApp, cookie: &str, csrf: &str) -> u16 {
    client()
        .post(app.url("/channel/list"))
        .header("cookie", cookie)
        .header("x-csrf-token", csrf)
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

/// Found by copying a cookie: logout only cleared it in the browser, and
/// the copy went on working until it expired.
async fn a_copied_cookie_stops_working_after_logout(db: Db) {
    let app = TestApp::spawn(db).await;
    let (cookie, csrf) = session(&app).await;
    let (other, other_csrf) = session(&app).await;
    assert_eq!(api_with_cookie(&app, &cookie, &csrf).await, 200);
    let resp = client()
        .post(app.url("/console/logout"))
        .header("cookie", &cookie)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 303);
    assert_eq!(
        api_with_cookie(&app, &cookie, &csrf).await,
        401,
        "the copied cookie is refused"
    );
    let page = client()
        .get(app.url("/console/incidents"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(page.headers()["location"], "/console/login");
    assert_eq!(
        api_with_cookie(&app, &other, &other_csrf).await,
        200,
        "another session of the same person goes on"
    );
    // Ending every session of a person (a password change, a deactivation).
    let ended = app.store.end_sessions(app.admin_id, None).await.unwrap();
    assert_eq!(ended, 1);
    assert_eq!(api_with_cookie(&app, &other, &other_csrf).await, 401);
}

/// Found by trying 200 passwords in 6 s: nothing slowed them down.
async fn failed_sign_ins_are_throttled_per_account(db: Db) {
    let app = TestApp::spawn(db).await;
    let (_, bob_password) = person_with_password(&app, "bob@example.com").await;
    let form = login_form(&app).await;
    for _ in 0..10 {
        let resp = post_login(&app, &form, ADMIN_EMAIL, "wrong").await;
        assert_eq!(resp.status(), 401);
    }
    // Even the right password waits now.
    let resp = post_login(&app, &form, ADMIN_EMAIL, &app.password).await;
    assert_eq!(resp.status(), 429);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("Too many failed sign-ins. Try again at") && html.contains("minutes"),
        "{html}"
    );
    // Another account from the same address is not held back.
    let resp = post_login(&app, &form, "Bob@Example.com", &bob_password).await;
    assert_eq!(resp.status(), 303);
    // Fifteen minutes on, the admin may try again.
    app.state
        .clock
        .advance(std::time::Duration::from_secs(15 * 60 + 1));
    let resp = post_login(&app, &form, ADMIN_EMAIL, &app.password).await;
    assert_eq!(resp.status(), 303);
}

/// A person with a console password, as the admin's invite will make one.
async fn person_with_password(app: &TestApp, email: &str) -> (i64, String) {
    let (id, _) = app.person("Bob", email, "member").await;
    let password = "correct horse battery staple".to_string();
    let hash = app.state.passwords.hash(&password).await.unwrap();
    app.store.set_password(PersonId(id), &hash).await.unwrap();
    (id, password)
}

async fn failed_sign_ins_are_throttled_per_address(db: Db) {
    let app = TestApp::spawn(db).await;
    let form = login_form(&app).await;
    for n in 0..100 {
        let resp = post_login(&app, &form, &format!("guess{n}@example.com"), "x").await;
        assert_eq!(resp.status(), 401, "attempt {n}");
    }
    let resp = post_login(&app, &form, ADMIN_EMAIL, &app.password).await;
    assert_eq!(resp.status(), 429, "the address made 100 failed attempts");
    // With no trusted proxy, a client cannot name another address.
    let status = login_from(&app, &form, "198.51.100.9", ADMIN_EMAIL, &app.password).await;
    assert_eq!(
        status, 429,
        "X-Forwarded-For from an untrusted peer is ignored"
    );
}

/// A login as a client at `forwarded`, through whatever sent it.
async fn login_from(
    app: &TestApp,
    form: &Login,
    forwarded: &str,
    email: &str,
    password: &str,
) -> u16 {
    let resp = post_login_via(app, form, Some(forwarded), email, password).await;
    resp.status().as_u16()
}

async fn behind_a_trusted_proxy_the_forwarded_address_counts(db: Db) {
    // The tests connect from 127.0.0.1: here, the proxy.
    let app = TestApp::spawn_with(db, |c| {
        c.trusted_proxies = vec!["127.0.0.0/8".parse().unwrap()]
    })
    .await;
    let form = login_form(&app).await;
    for n in 0..100 {
        let status = login_from(
            &app,
            &form,
            "203.0.113.7",
            &format!("guess{n}@example.com"),
            "x",
        )
        .await;
        assert_eq!(status, 401, "attempt {n}");
    }
    assert_eq!(
        login_from(&app, &form, "203.0.113.7", ADMIN_EMAIL, &app.password).await,
        429,
        "the forwarded address made 100 failed attempts"
    );
    assert_eq!(
        login_from(&app, &form, "198.51.100.9", ADMIN_EMAIL, &app.password).await,
        303,
        "another client behind the same proxy is not held back"
    );
    // A client's own header, left of what the proxy appended, changes nothing.
    assert_eq!(
        login_from(
            &app,
            &form,
            "198.51.100.9, 203.0.113.7",
            ADMIN_EMAIL,
            &app.password
        )
        .await,
        429
    );
}

/// Found by timing: a wrong password took 27 ms, an unknown email 1 ms. The
/// hashing is what takes the time; both must do it, once.
async fn an_unknown_email_costs_what_a_wrong_password_costs(db: Db) {
    let app = TestApp::spawn(db).await;
    let form = login_form(&app).await;
    let mut answers = vec![];
    for email in [ADMIN_EMAIL, "nobody@example.com"] {
        let before = app.state.passwords.checks();
        let resp = post_login(&app, &form, email, "not the password").await;
        let status = resp.status();
        let html = resp.text().await.unwrap();
        let message = html
            .split("role=\"alert\">")
            .nth(1)
            .and_then(|m| m.split('<').next())
            .unwrap()
            .to_string();
        assert_eq!(
            app.state.passwords.checks() - before,
            1,
            "{email}: one password check"
        );
        answers.push((status, message));
    }
    assert_eq!(answers[0], answers[1], "the same answer for both");
}

/// Found with 200 parallel sign-ins: memory went from 26 MiB to 783 MiB
/// (argon2 takes 19 MiB a hash) and /health took 2 s.
async fn parallel_sign_ins_hash_a_few_at_a_time(db: Db) {
    let app = std::sync::Arc::new(TestApp::spawn(db).await);
    let form = std::sync::Arc::new(login_form(&app).await);
    let mut tasks = vec![];
    for _ in 0..40 {
        let (app, form) = (app.clone(), form.clone());
        tasks.push(tokio::spawn(async move {
            post_login(&app, &form, ADMIN_EMAIL, "wrong").await.status()
        }));
    }
    for t in tasks {
        let status = t.await.unwrap().as_u16();
        assert!(status == 401 || status == 429, "{status}");
    }
    let cores = std::thread::available_parallelism().unwrap().get();
    let peak = app.state.passwords.peak();
    assert!(
        peak >= 1 && peak <= (cores / 2).max(1),
        "{peak} hashes ran at once on {cores} cores"
    );
}
