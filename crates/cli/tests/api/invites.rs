//! Getting and changing a console password (`open-api.md`, "Accounts"):
//! one-time invitation links (7 days, the newest only, also the reset of a
//! forgotten password) and changing one's own password, which ends one's
//! other sessions.

use std::time::Duration;

use reqwest::header::LOCATION;
use serde_json::json;

use crate::console::{
    client, cookie_pair, login_form, post_login, session_as, set_cookie, token_in,
};
use crate::helpers::{Db, TestApp, PUBLIC_URL};

both_dbs!(
    an_invitation_sets_a_password_once,
    newer_invitations_void_older_and_links_expire,
    only_admins_invite_active_people,
    changing_a_password_ends_the_other_sessions
);

/// The path and query of an invitation link.
async fn invite(app: &TestApp, person_id: i64) -> String {
    let v = app
        .ok("/person/invite", json!({"person_id": person_id}))
        .await;
    let url = v["invite_url"].as_str().unwrap();
    let expires_in = v["expires_at"].as_i64().unwrap() - crate::helpers::now_s();
    assert!(
        (7 * 86400 - 60..=7 * 86400 + 60).contains(&expires_in),
        "{v}"
    );
    url.strip_prefix(PUBLIC_URL)
        .expect("on the public URL")
        .to_string()
}

struct Chooser {
    login_cookie: String,
    csrf: String,
    token: String,
}

/// Opens the link: answers the form's cookie and tokens, or the status.
async fn open(app: &TestApp, link: &str) -> Result<Chooser, u16> {
    let resp = client().get(app.url(link)).send().await.unwrap();
    if resp.status() != 200 {
        return Err(resp.status().as_u16());
    }
    let login_cookie = cookie_pair(&set_cookie(&resp, "dh_login").unwrap());
    let html = resp.text().await.unwrap();
    Ok(Chooser {
        login_cookie,
        csrf: token_in(&html),
        token: link.split("token=").nth(1).unwrap().to_string(),
    })
}

async fn choose(app: &TestApp, c: &Chooser, password: &str, confirm: &str) -> reqwest::Response {
    client()
        .post(app.url("/console/invite"))
        .header("cookie", &c.login_cookie)
        .form(&[
            ("token", c.token.as_str()),
            ("password", password),
            ("confirm", confirm),
            ("csrf", &c.csrf),
        ])
        .send()
        .await
        .unwrap()
}

async fn signs_in(app: &TestApp, email: &str, password: &str) -> bool {
    let form = login_form(app).await;
    post_login(app, &form, email, password).await.status() == 303
}

/// Whether a session cookie still opens a console page.
async fn live(app: &TestApp, cookie: &str) -> bool {
    let resp = client()
        .get(app.url("/console/incidents"))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    resp.status() == 200
}

const GOOD: &str = "correct horse battery";

async fn an_invitation_sets_a_password_once(db: Db) {
    let app = TestApp::spawn(db).await;
    let (bob, _) = app.person("Bob Builder", "bob@example.com", "member").await;
    assert!(
        !signs_in(&app, "bob@example.com", "").await,
        "no password yet"
    );
    let link = invite(&app, bob).await;
    let page = client().get(app.url(&link)).send().await.unwrap();
    let html = page.text().await.unwrap();
    assert!(html.contains("Welcome, Bob Builder") && html.contains("bob@example.com"));

    let form = open(&app, &link).await.unwrap();
    let short = choose(&app, &form, "short", "short").await;
    assert_eq!(short.status(), 400);
    assert!(short
        .text()
        .await
        .unwrap()
        .contains("The password must be 10 to 256 characters"));
    let form = open(&app, &link).await.unwrap();
    let differ = choose(&app, &form, GOOD, "correct horse battery!").await;
    assert_eq!(differ.status(), 400);
    assert!(differ
        .text()
        .await
        .unwrap()
        .contains("The two passwords differ"));
    let mut forged = open(&app, &link).await.unwrap();
    forged.csrf = "forged".into();
    assert_eq!(choose(&app, &forged, GOOD, GOOD).await.status(), 403);

    let form = open(&app, &link).await.unwrap();
    let done = choose(&app, &form, GOOD, GOOD).await;
    assert_eq!(done.status(), 303, "{:?}", done.text().await);
    assert_eq!(done.headers()[LOCATION], "/console/incidents");
    let cookie = cookie_pair(&set_cookie(&done, "dh_session").expect("signed in"));
    assert!(live(&app, &cookie).await);
    assert!(signs_in(&app, "bob@example.com", GOOD).await);

    assert_eq!(open(&app, &link).await.err(), Some(410), "used once");
    let again = choose(
        &app,
        &form,
        "another good password",
        "another good password",
    )
    .await;
    assert_eq!(again.status(), 410);
    assert!(signs_in(&app, "bob@example.com", GOOD).await, "unchanged");
}

async fn newer_invitations_void_older_and_links_expire(db: Db) {
    let app = TestApp::spawn(db).await;
    let (bob, _) = app.person("Bob", "bob@example.com", "member").await;
    let first = invite(&app, bob).await;
    let second = invite(&app, bob).await;
    assert_eq!(open(&app, &first).await.err(), Some(410), "voided");
    let form = open(&app, &second).await.unwrap();
    assert_eq!(choose(&app, &form, GOOD, GOOD).await.status(), 303);
    let (bobs_session, _) = session_as(&app, "bob@example.com", GOOD).await;

    // A reset: the old password works until the new one is set, which ends
    // Bob's sessions.
    let reset = invite(&app, bob).await;
    assert!(signs_in(&app, "bob@example.com", GOOD).await);
    let form = open(&app, &reset).await.unwrap();
    let new = "a brand new passphrase";
    assert_eq!(choose(&app, &form, new, new).await.status(), 303);
    assert!(!live(&app, &bobs_session).await, "the old session ended");
    assert!(!signs_in(&app, "bob@example.com", GOOD).await);
    assert!(signs_in(&app, "bob@example.com", new).await);

    let late = invite(&app, bob).await;
    let form = open(&app, &late).await.unwrap();
    app.state.clock.advance(Duration::from_secs(7 * 86400 + 1));
    assert_eq!(open(&app, &late).await.err(), Some(410), "expired");
    assert_eq!(choose(&app, &form, GOOD, GOOD).await.status(), 410);
    assert!(signs_in(&app, "bob@example.com", new).await, "unchanged");
}

async fn only_admins_invite_active_people(db: Db) {
    let app = TestApp::spawn(db).await;
    let (_, bob_key) = app.person("Bob", "bob@example.com", "member").await;
    let (carol, _) = app.person("Carol", "carol@example.com", "viewer").await;
    app.fails_as(
        &bob_key,
        "/person/invite",
        json!({"person_id": carol}),
        403,
        "AccessDenied",
    )
    .await;
    app.fails(
        "/person/invite",
        json!({"person_id": 999}),
        404,
        "ResourceNotFound",
    )
    .await;
    let link = invite(&app, carol).await;
    app.ok("/person/deactivate", json!({"person_id": carol}))
        .await;
    assert_eq!(
        open(&app, &link).await.err(),
        Some(410),
        "deactivation voids it"
    );
    let message = app
        .fails(
            "/person/invite",
            json!({"person_id": carol}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(
        message.starts_with("person_id") && message.contains("deactivated"),
        "{message}"
    );
    app.ok("/person/reactivate", json!({"person_id": carol}))
        .await;
    assert!(open(&app, &invite(&app, carol).await).await.is_ok());
    assert_eq!(
        open(&app, "/console/invite?token=nonsense").await.err(),
        Some(410)
    );
    assert_eq!(open(&app, "/console/invite").await.err(), Some(410));
}

async fn changing_a_password_ends_the_other_sessions(db: Db) {
    let app = TestApp::spawn(db).await;
    let (bob, bob_key) = app.person("Bob", "bob@example.com", "member").await;
    let form = open(&app, &invite(&app, bob).await).await.unwrap();
    choose(&app, &form, GOOD, GOOD).await;
    let (here, csrf) = session_as(&app, "bob@example.com", GOOD).await;
    let (elsewhere, _) = session_as(&app, "bob@example.com", GOOD).await;
    let change = |current: &str, new: &str| {
        client()
            .post(app.url("/person/password/change"))
            .header("cookie", &here)
            .header("x-csrf-token", &csrf)
            .json(&json!({"current_password": current, "new_password": new}))
            .send()
    };
    let wrong: serde_json::Value = change("not my password", "a new passphrase here")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(wrong["error"]["code"], "InvalidParameter", "{wrong}");
    assert!(wrong["error"]["message"]
        .as_str()
        .unwrap()
        .starts_with("current_password"));
    let short: serde_json::Value = change(GOOD, "short").await.unwrap().json().await.unwrap();
    assert!(
        short["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("new_password"),
        "{short}"
    );
    assert!(live(&app, &elsewhere).await, "nothing changed yet");

    let new = "a new passphrase here";
    let done = change(GOOD, new).await.unwrap();
    assert_eq!(done.status(), 200);
    assert!(live(&app, &here).await, "the session that changed it stays");
    assert!(!live(&app, &elsewhere).await, "the others end");
    assert!(!signs_in(&app, "bob@example.com", GOOD).await);
    assert!(signs_in(&app, "bob@example.com", new).await);

    // With an app key, every session ends; wrong current passwords are
    // throttled as failed sign-ins are.
    let (status, _) = app
        .post_as(
            &bob_key,
            "/person/password/change",
            json!({"current_password": new, "new_password": GOOD}),
        )
        .await;
    assert_eq!(status, 200);
    assert!(!live(&app, &here).await);
    let mut last = None;
    for _ in 0..11 {
        let (_, v) = app
            .post_as(
                &bob_key,
                "/person/password/change",
                json!({"current_password": "guess guess guess", "new_password": new}),
            )
            .await;
        last = v["error"]["code"].as_str().map(str::to_string);
    }
    assert_eq!(last.as_deref(), Some("RequestTooFrequently"));
}
