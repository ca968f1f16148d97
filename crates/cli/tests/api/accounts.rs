//! People after their creation (`open-api.md`, "Accounts"): edited by
//! admins (and by themselves, their name only), deactivated — no sign-in,
//! keys deleted, sessions ended, history kept — and reactivated.

use dutyhook_domain::ids::PersonId;
use reqwest::header::LOCATION;
use serde_json::json;

use crate::console::{login_form, post_login};
use crate::helpers::{Db, TestApp};

both_dbs!(
    admins_edit_people_and_people_their_own_name,
    a_deactivated_person_cannot_sign_in_or_call
);

async fn admins_edit_people_and_people_their_own_name(db: Db) {
    let app = TestApp::spawn(db).await;
    let (bob, bob_key) = app.person("Bob", "bob@example.com", "member").await;
    app.person("Carol", "carol@example.com", "viewer").await;
    app.ok(
        "/person/update",
        json!({"person_id": bob, "person_name": "Robert", "email": "robert@example.com", "role": "admin"}),
    )
    .await;
    let info = app.ok("/person/info", json!({"person_id": bob})).await;
    assert_eq!(
        (
            &info["person_name"],
            &info["email"],
            &info["role"],
            &info["active"]
        ),
        (
            &json!("Robert"),
            &json!("robert@example.com"),
            &json!("admin"),
            &json!(true)
        )
    );
    let message = app
        .fails(
            "/person/update",
            json!({"person_id": bob, "email": "carol@example.com"}),
            409,
            "Conflict",
        )
        .await;
    assert!(message.starts_with("email"), "{message}");
    // Anyone renames themselves; nothing else without the admin role.
    let (dave, dave_key) = app.person("Dave", "dave@example.com", "member").await;
    let (status, v) = app
        .post_as(
            &dave_key,
            "/person/update",
            json!({"person_id": dave, "person_name": "David"}),
        )
        .await;
    assert_eq!(status, 200, "{v}");
    for body in [
        json!({"person_id": dave, "role": "admin"}),
        json!({"person_id": dave, "email": "d@example.com"}),
        json!({"person_id": bob, "person_name": "Bobby"}),
    ] {
        app.fails_as(&dave_key, "/person/update", body, 403, "AccessDenied")
            .await;
    }
    // An admin does not change their own role.
    let (status, v) = app
        .post_as(
            &bob_key,
            "/person/update",
            json!({"person_id": bob, "role": "member"}),
        )
        .await;
    assert_eq!(status, 400, "{v}");
    assert!(v["error"]["message"].as_str().unwrap().starts_with("role"));
    let info = app.ok("/person/info", json!({"person_id": dave})).await;
    assert_eq!(
        (&info["person_name"], &info["role"]),
        (&json!("David"), &json!("member"))
    );
    app.fails(
        "/person/update",
        json!({"person_id": 999}),
        404,
        "ResourceNotFound",
    )
    .await;
}

async fn a_deactivated_person_cannot_sign_in_or_call(db: Db) {
    let app = TestApp::spawn(db).await;
    let (bob, bob_key) = app.person("Bob", "bob@example.com", "member").await;
    let password = "correct horse battery staple";
    let hash = app.state.passwords.hash(password).await.unwrap();
    app.store.set_password(PersonId(bob), &hash).await.unwrap();
    let form = login_form(&app).await;
    let signed_in = post_login(&app, &form, "bob@example.com", password).await;
    assert_eq!(signed_in.status(), 303);
    let cookie = signed_in
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .find(|c| c.starts_with("dh_session="))
        .unwrap();
    let id = app.incident("Bob's incident").await;
    app.post_as(&bob_key, "/incident/ack", json!({"incident_ids": [id]}))
        .await;

    app.ok("/person/deactivate", json!({"person_id": bob}))
        .await;
    let (status, _) = app.post_as(&bob_key, "/incident/list", json!({})).await;
    assert_eq!(status, 401, "the key stopped working");
    let page = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(app.url("/console/incidents"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        page.headers()[LOCATION],
        "/console/login",
        "the session ended"
    );
    let form = login_form(&app).await;
    let refused = post_login(&app, &form, "bob@example.com", password).await;
    assert_ne!(refused.status(), 303, "no sign-in");
    let info = app.ok("/person/info", json!({"person_id": bob})).await;
    assert_eq!(info["active"], false);
    // What Bob did stays.
    let feed = app.ok("/incident/feed", json!({"incident_id": id})).await;
    assert!(feed["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|i| i["type"] == "i_ack" && i["creator_id"] == bob));
    let keys = app.ok("/app-key/list", json!({})).await;
    assert!(keys["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|k| k["person_id"] != bob));

    let message = app
        .fails(
            "/person/deactivate",
            json!({"person_id": app.admin_id.0}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(message.starts_with("person_id"), "{message}");
    app.ok("/person/reactivate", json!({"person_id": bob}))
        .await;
    let form = login_form(&app).await;
    let again = post_login(&app, &form, "bob@example.com", password).await;
    assert_eq!(again.status(), 303, "signs in again");
}
