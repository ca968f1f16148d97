//! The account secrets of the leak hunt (`leaks.rs`): a sign-in link's
//! token, the password chosen through it and the one it was changed to.

use serde_json::{json, Value};

use crate::console::{cookie_pair, token_in};

/// Uses them against the server at `base`; answers what to look for.
pub(crate) async fn use_account_secrets(
    base: &str,
    admin_key: &str,
    person_id: &Value,
    person_key: &str,
) -> Vec<(&'static str, String)> {
    let http = crate::console::client();
    let invite: Value = http
        .post(format!("{base}/person/invite"))
        .bearer_auth(admin_key)
        .json(&json!({"person_id": person_id}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let url = invite["data"]["invite_url"].as_str().unwrap();
    let token = url.split("token=").nth(1).unwrap().to_string();
    let page = http
        .get(format!("{base}/console/invite?token={token}"))
        .send()
        .await
        .unwrap();
    let cookie = cookie_pair(page.headers()["set-cookie"].to_str().unwrap());
    let csrf = token_in(&page.text().await.unwrap());
    let chosen = "chosen-passphrase-7d1e42".to_string();
    let set = http
        .post(format!("{base}/console/invite"))
        .header("cookie", cookie)
        .form(&[
            ("token", token.as_str()),
            ("password", &chosen),
            ("confirm", &chosen),
            ("csrf", &csrf),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(set.status(), 303, "the password was set");
    let changed = "changed-passphrase-9a3c07".to_string();
    let change = http
        .post(format!("{base}/person/password/change"))
        .bearer_auth(person_key)
        .json(&json!({"current_password": chosen, "new_password": changed}))
        .send()
        .await
        .unwrap();
    assert_eq!(change.status(), 200, "the password was changed");
    vec![
        ("a sign-in link's token", token),
        ("a password chosen through a sign-in link", chosen),
        ("a changed password", changed),
    ]
}
