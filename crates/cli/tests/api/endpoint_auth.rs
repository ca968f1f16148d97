//! Endpoint authentication (`delivery.md`): basic and bearer credentials, an
//! OAuth2 client-credentials token from a real local token endpoint, and a
//! real TLS server that asks for a client certificate from a private CA.
//! Secret values are write-only, sealed at rest and masked everywhere.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use axum::{Form, Json, Router};
use axum_server::tls_rustls::RustlsConfig;
use dutyhook_domain::ids::IntegrationId;
use serde_json::{json, Value};

use crate::helpers::{with_fields, Db, TestApp};
use crate::receiver::TestReceiver;

both_dbs!(
    basic_and_bearer_credentials_are_sent_and_never_shown,
    oauth2_tokens_are_fetched_once_and_renewed_on_401,
    a_client_certificate_from_a_private_ca_reaches_an_mtls_server,
    bad_auth_settings_are_refused_naming_the_field
);

async fn basic_and_bearer_credentials_are_sent_and_never_shown(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let hook = app
        .ok(
            "/integration/webhook/create",
            json!({"kind": "incident", "name": "basic", "endpoint": rx.url, "event_types": ["i_new"],
                   "auth": {"type": "basic", "username": "ops", "password": "pw-s3cr3t"}}),
        )
        .await["integration_id"]
        .clone();
    app.incident("Basic auth").await;
    let got = rx.wait_for(1).await;
    // base64("ops:pw-s3cr3t")
    assert_eq!(got[0].header("authorization"), "Basic b3BzOnB3LXMzY3IzdA==");
    let info = app
        .ok("/integration/webhook/info", json!({"integration_id": hook}))
        .await;
    assert_eq!(
        info["auth"],
        json!({"type": "basic", "username": "ops", "password": "******"})
    );
    // Sending the mask back keeps the password; the history shows none.
    let mut auth = info["auth"].clone();
    auth["username"] = json!("ops");
    app.ok(
        "/integration/webhook/update",
        json!({"integration_id": hook, "auth": auth, "description": "still ops"}),
    )
    .await;
    app.incident("Basic auth again").await;
    let got = rx.wait_for(2).await;
    assert_eq!(got[1].header("authorization"), "Basic b3BzOnB3LXMzY3IzdA==");
    let attempts = app.attempts(hook.as_i64().unwrap(), 2).await;
    let detail = app
        .ok(
            "/integration/history/info",
            json!({"invocation_id": attempts[0]["invocation_id"]}),
        )
        .await;
    let text = detail.to_string();
    assert!(
        text.contains("\"Authorization\"")
            && !text.contains("pw-s3cr3t")
            && !text.contains("b3BzOnB3"),
        "{detail}"
    );
    let row = crate::secrets::stored_row(&app.db.url, IntegrationId(hook.as_i64().unwrap())).await;
    assert!(!row.contains("pw-s3cr3t"), "sealed at rest: {row}");

    // A custom action's call carries its bearer token.
    let ch = app.channel("ops").await;
    let action_rx = TestReceiver::start().await;
    let action = app
        .ok(
            "/integration/custom-action/create",
            json!({"name": "Restart", "channel_ids": [ch], "endpoint": action_rx.url,
                   "auth": {"type": "bearer", "token": "tok-123"}}),
        )
        .await["integration_id"]
        .clone();
    let id = crate::actions::incident_in(&app, ch, "Host stuck").await;
    app.ok(
        "/incident/action/trigger",
        json!({"incident_id": id, "action_id": action}),
    )
    .await;
    assert_eq!(
        action_rx.wait_for(1).await[0].header("authorization"),
        "Bearer tok-123"
    );
    let info = app
        .ok(
            "/integration/custom-action/info",
            json!({"integration_id": action}),
        )
        .await;
    assert_eq!(info["auth"]["token"], "******");
}

/// A token endpoint of the client-credentials grant: checks the client,
/// hands out `t1`, `t2`, … valid for an hour, and counts what it gave.
#[derive(Clone, Default)]
struct Idp {
    issued: Arc<Mutex<Vec<String>>>,
    /// Tokens the protected endpoint takes.
    valid: Arc<Mutex<HashSet<String>>>,
    seen_by_endpoint: Arc<Mutex<Vec<String>>>,
}

async fn token(
    State(idp): State<Idp>,
    Form(form): Form<Vec<(String, String)>>,
) -> (StatusCode, Json<Value>) {
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.as_str())
    };
    if get("grant_type") != Some("client_credentials")
        || get("client_id") != Some("dutyhook")
        || get("client_secret") != Some("cs-s3cr3t")
        || get("scope") != Some("hooks.write")
    {
        return (
            StatusCode::UNAUTHORIZED,
            Json(json!({"error": "invalid_client"})),
        );
    }
    let mut issued = idp.issued.lock().unwrap();
    let t = format!("t{}", issued.len() + 1);
    issued.push(t.clone());
    idp.valid.lock().unwrap().insert(t.clone());
    (
        StatusCode::OK,
        Json(json!({"access_token": t, "token_type": "Bearer", "expires_in": 3600})),
    )
}

async fn protected(State(idp): State<Idp>, headers: HeaderMap) -> StatusCode {
    let got = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    idp.seen_by_endpoint.lock().unwrap().push(got.clone());
    let ok = got
        .strip_prefix("Bearer ")
        .is_some_and(|t| idp.valid.lock().unwrap().contains(t));
    if ok {
        StatusCode::OK
    } else {
        StatusCode::UNAUTHORIZED
    }
}

async fn oauth2_tokens_are_fetched_once_and_renewed_on_401(db: Db) {
    let app = TestApp::spawn(db).await;
    let idp = Idp::default();
    let router = Router::new()
        .route("/token", post(token))
        .route("/hook", post(protected))
        .with_state(idp.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await });
    let auth = json!({"type": "oauth2_client_credentials", "token_url": format!("{base}/token"),
                      "client_id": "dutyhook", "client_secret": "cs-s3cr3t", "scope": "hooks.write"});
    let hook = app
        .ok(
            "/integration/webhook/create",
            json!({"kind": "incident", "name": "oauth", "endpoint": format!("{base}/hook"),
                   "event_types": ["i_new"], "auth": auth}),
        )
        .await["integration_id"]
        .as_i64()
        .unwrap();
    app.incident("First").await;
    app.incident("Second").await;
    let attempts = app.attempts(hook, 2).await;
    assert!(
        attempts.iter().all(|a| a["status"] == "success"),
        "{attempts:?}"
    );
    assert_eq!(
        *idp.issued.lock().unwrap(),
        ["t1"],
        "one token for both pushes"
    );

    // The endpoint stops taking t1: the next push fetches t2 and is made
    // again at once, inside the same attempt.
    idp.valid.lock().unwrap().clear();
    app.incident("Third").await;
    let attempts = app.attempts(hook, 3).await;
    assert_eq!(attempts[0]["status"], "success", "{:?}", attempts[0]);
    assert_eq!(attempts[0]["attempt"], 1);
    assert_eq!(*idp.issued.lock().unwrap(), ["t1", "t2"]);
    assert_eq!(
        idp.seen_by_endpoint.lock().unwrap()[2..],
        ["Bearer t1", "Bearer t2"]
    );
    let info = app
        .ok("/integration/webhook/info", json!({"integration_id": hook}))
        .await;
    assert_eq!(info["auth"]["client_secret"], "******");

    // A token endpoint that refuses the client: class `auth`, and retried.
    app.ok(
        "/integration/webhook/update",
        json!({"integration_id": hook, "auth": {"type": "oauth2_client_credentials",
               "token_url": format!("{base}/token"), "client_id": "dutyhook",
               "client_secret": "wrong", "scope": "hooks.write"}}),
    )
    .await;
    app.incident("Fourth").await;
    let attempts = app.attempts(hook, 5).await;
    let failed = attempts
        .iter()
        .find(|a| a["status"] == "failure")
        .unwrap_or_else(|| panic!("{attempts:?}"));
    assert_eq!(failed["error_class"], "auth", "{failed}");
    assert!(
        failed["error"].as_str().unwrap().contains("HTTP 401"),
        "{failed}"
    );
    assert!(
        attempts
            .iter()
            .filter(|a| a["error_class"] == "auth")
            .count()
            >= 2,
        "retried: {attempts:?}"
    );
}

/// A CA, a server certificate for 127.0.0.1 and a client certificate, both
/// signed by it.
struct Pki {
    ca_pem: String,
    server: RustlsConfig,
    client_cert_pem: String,
    client_key_pem: String,
}

async fn pki() -> Pki {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut ca_params = rcgen::CertificateParams::new(vec![]).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "dutyhook test CA");
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server = rcgen::CertificateParams::new(vec!["127.0.0.1".into()])
        .unwrap()
        .signed_by(&server_key, &ca, &ca_key)
        .unwrap();
    let client_key = rcgen::KeyPair::generate().unwrap();
    let client = rcgen::CertificateParams::new(vec!["dutyhook-client".into()])
        .unwrap()
        .signed_by(&client_key, &ca, &ca_key)
        .unwrap();
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca.der().clone()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
        .build()
        .unwrap();
    let mut config = rustls::ServerConfig::builder()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![server.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into()),
        )
        .unwrap();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Pki {
        ca_pem: ca.pem(),
        server: RustlsConfig::from_config(Arc::new(config)),
        client_cert_pem: client.pem(),
        client_key_pem: client_key.serialize_pem(),
    }
}

async fn a_client_certificate_from_a_private_ca_reaches_an_mtls_server(db: Db) {
    let app = TestApp::spawn(db).await;
    let pki = pki().await;
    let hits: Arc<Mutex<usize>> = Arc::default();
    let counted = hits.clone();
    let router = Router::new().fallback(move || {
        let counted = counted.clone();
        async move {
            *counted.lock().unwrap() += 1;
            "ok"
        }
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    // An address rather than localhost, which may resolve to ::1 first and
    // reach whatever else listens on the same port number there.
    let url = format!(
        "https://127.0.0.1:{}/hook",
        listener.local_addr().unwrap().port()
    );
    let server = pki.server.clone();
    tokio::spawn(async move {
        axum_server::from_tcp_rustls(listener, server)
            .serve(router.into_make_service())
            .await
    });
    let make = |name: &str, auth: Value| {
        json!({"kind": "incident", "name": name, "endpoint": url, "event_types": ["i_new"],
               "retry_policy": "none", "auth": auth})
    };
    let with_cert = app
        .ok(
            "/integration/webhook/create",
            make(
                "mtls",
                json!({"type": "mtls", "client_cert_pem": pki.client_cert_pem,
                       "client_key_pem": pki.client_key_pem, "ca_pem": pki.ca_pem}),
            ),
        )
        .await["integration_id"]
        .as_i64()
        .unwrap();
    let ca_only = app
        .ok(
            "/integration/webhook/create",
            make("ca only", json!({"type": "none", "ca_pem": pki.ca_pem})),
        )
        .await["integration_id"]
        .as_i64()
        .unwrap();
    let neither = app
        .ok("/integration/webhook/create", make("neither", json!({})))
        .await["integration_id"]
        .as_i64()
        .unwrap();
    app.incident("Over mutual TLS").await;
    let ok = app.attempts(with_cert, 1).await;
    assert_eq!(ok[0]["status"], "success", "{:?}", ok[0]);
    assert_eq!(
        *hits.lock().unwrap(),
        1,
        "only the push with the certificate got through"
    );
    let unknown_ca = app.attempts(neither, 1).await;
    assert_eq!(unknown_ca[0]["error_class"], "tls", "{:?}", unknown_ca[0]);
    // TLS 1.3 ends the client's side of the handshake before the server
    // checks its certificate: the refusal comes as the server's alert, or,
    // when the server's reset overtakes that alert, as a reset connection.
    let no_cert = app.attempts(ca_only, 1).await;
    assert_eq!(no_cert[0]["status"], "failure", "{:?}", no_cert[0]);
    assert!(
        ["tls", "connect"].contains(&no_cert[0]["error_class"].as_str().unwrap_or("")),
        "{:?}",
        no_cert[0]
    );
    let info = app
        .ok(
            "/integration/webhook/info",
            json!({"integration_id": with_cert}),
        )
        .await;
    assert_eq!(info["auth"]["client_key_pem"], "******");
    assert_eq!(info["auth"]["client_cert_pem"], json!(pki.client_cert_pem));
    let row = crate::secrets::stored_row(&app.db.url, IntegrationId(with_cert)).await;
    assert!(!row.contains("PRIVATE KEY"), "the key is sealed at rest");
}

async fn bad_auth_settings_are_refused_naming_the_field(db: Db) {
    let app = TestApp::spawn(db).await;
    let base = json!({"kind": "incident", "name": "x", "endpoint": "http://127.0.0.1:9/x"});
    for (extra, field) in [
        (
            json!({"auth": {"type": "basic", "username": "ops"}}),
            "auth.password",
        ),
        (json!({"auth": {"type": "bearer"}}), "auth.token"),
        (
            json!({"auth": {"type": "oauth2_client_credentials", "token_url": "ftp://idp/t",
                         "client_id": "a", "client_secret": "b"}}),
            "auth.token_url",
        ),
        (
            json!({"auth": {"type": "oauth2_client_credentials", "token_url": "http://169.254.169.254/token",
                         "client_id": "a", "client_secret": "b"}}),
            "auth.token_url",
        ),
        (
            json!({"auth": {"type": "mtls", "client_cert_pem": "not a cert", "client_key_pem": "nor a key"}}),
            "auth.client_cert_pem",
        ),
        (
            json!({"auth": {"ca_pem": "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"}}),
            "auth.ca_pem",
        ),
        (json!({"auth": {"type": "kerberos"}}), "auth.type"),
        (
            json!({"auth": {"type": "bearer", "token": "t"},
                "headers": [{"key": "authorization", "value": "Bearer x"}]}),
            "headers",
        ),
    ] {
        let body = with_fields(&base, extra);
        let message = app
            .fails(
                "/integration/webhook/create",
                body.clone(),
                400,
                "InvalidParameter",
            )
            .await;
        assert!(message.starts_with(field), "{body}: {message}");
    }
    let (_, list) = app.post("/integration/webhook/list", json!({})).await;
    assert_eq!(list["data"]["total"], 0, "nothing was made");
}
