//! The endpoint credentials of the leak hunt (`leaks.rs`): a basic
//! password, a bearer token, an OAuth2 client secret (whose token URL
//! refuses, so failures are logged) and an mTLS private key, on webhooks
//! that every later event of the hunt is pushed to.

use serde_json::{json, Value};

/// Creates the webhooks; answers what to look for and the reads to search.
pub(crate) async fn use_endpoint_secrets(
    base: &str,
    admin_key: &str,
    endpoint: &str,
) -> (Vec<(&'static str, String)>, Vec<(String, String)>) {
    let password = "basic-pw-5e1f0a7c".to_string();
    let token = "bearer-token-8c2d4e6f".to_string();
    let client_secret = "oauth-client-secret-3b9a71d2".to_string();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let token_url = format!("http://{}/token", closed.local_addr().unwrap());
    drop(closed);
    let key = rcgen::KeyPair::generate().unwrap();
    let cert = rcgen::CertificateParams::new(vec!["dutyhook-client".into()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    let key_pem = key.serialize_pem();
    let http = reqwest::Client::new();
    let mut reads = vec![];
    for (name, auth) in [
        (
            "basic",
            json!({"type": "basic", "username": "ops", "password": password}),
        ),
        ("bearer", json!({"type": "bearer", "token": token})),
        (
            "oauth2",
            json!({"type": "oauth2_client_credentials", "token_url": token_url,
                   "client_id": "dutyhook", "client_secret": client_secret}),
        ),
        (
            "mtls",
            json!({"type": "mtls", "client_cert_pem": cert.pem(), "client_key_pem": key_pem}),
        ),
    ] {
        let created: Value = http
            .post(format!("{base}/integration/webhook/create"))
            .bearer_auth(admin_key)
            .json(&json!({"kind": "incident", "name": name, "endpoint": endpoint, "auth": auth}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(
            created["data"]["integration_id"].is_i64(),
            "{name}: {created}"
        );
        reads.push((format!("creating the {name} webhook"), created.to_string()));
    }
    let list = http
        .post(format!("{base}/integration/webhook/list"))
        .bearer_auth(admin_key)
        .json(&json!({"kind": "incident", "limit": 100}))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    reads.push(("the webhook list".into(), list));
    // Part of the private key itself: past its PEM armour and the PKCS#8
    // header that every key of its type shares.
    let key_body = key_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<String>();
    (
        vec![
            ("a basic auth password", password),
            ("a bearer token", token),
            ("an OAuth2 client secret", client_secret),
            ("an mTLS private key", key_body[60..108].to_string()),
        ],
        reads,
    )
}
