//! TLS verification on and off against a self-signed local HTTPS receiver,
//! and a stock Standard Webhooks library accepting real pushes.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Version};
use axum_server::tls_rustls::RustlsConfig;
use serde_json::json;

use crate::helpers::{Db, TestApp};
use crate::receiver::TestReceiver;

both_dbs!(
    tls_verify_on_rejects_self_signed_off_accepts,
    stock_verifier_accepts_pushes,
    pushes_reuse_connections_over_http1_and_http2
);

/// A self-signed certificate for localhost and 127.0.0.1. With it
/// axum-server offers HTTP/2 and HTTP/1.1 by ALPN.
async fn self_signed_tls() -> RustlsConfig {
    let _ = rustls_crypto_provider();
    let cert =
        rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()]).unwrap();
    RustlsConfig::from_pem(
        cert.cert.pem().into_bytes(),
        cert.key_pair.serialize_pem().into_bytes(),
    )
    .await
    .unwrap()
}

pub async fn https_receiver() -> (String, Arc<Mutex<usize>>) {
    let config = self_signed_tls().await;
    let hits: Arc<Mutex<usize>> = Default::default();
    let h = hits.clone();
    let app = axum::Router::new().fallback(move |_: HeaderMap, _: Bytes| {
        let h = h.clone();
        async move {
            *h.lock().unwrap() += 1;
            "ok"
        }
    });
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum_server::from_tcp_rustls(listener, config)
            .serve(app.into_make_service())
            .await
    });
    (format!("https://localhost:{}/hook", addr.port()), hits)
}

/// Each request's HTTP version and the address it came from.
type Seen = Arc<Mutex<Vec<(Version, SocketAddr)>>>;

/// A receiver that records how each push came: over HTTP/1.1 in clear, or
/// over TLS offering HTTP/2 by ALPN.
async fn recording_receiver(tls: bool) -> (String, Seen) {
    let seen: Seen = Default::default();
    let s = seen.clone();
    let app = axum::Router::new().fallback(
        move |ConnectInfo(peer): ConnectInfo<SocketAddr>, version: Version, _: Bytes| {
            let s = s.clone();
            async move {
                s.lock().unwrap().push((version, peer));
                "ok"
            }
        },
    );
    let make = app.into_make_service_with_connect_info::<SocketAddr>();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    if !tls {
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        tokio::spawn(async move { axum::serve(listener, make).await });
        return (format!("http://{addr}/hook"), seen);
    }
    let config = self_signed_tls().await;
    tokio::spawn(async move {
        axum_server::from_tcp_rustls(listener, config)
            .serve(make)
            .await
    });
    (format!("https://{addr}/hook"), seen)
}

fn rustls_crypto_provider() -> Option<()> {
    // axum-server's rustls needs a process-wide provider; installing twice is harmless.
    let _ = rustls::crypto::ring::default_provider().install_default();
    Some(())
}

async fn tls_verify_on_rejects_self_signed_off_accepts(db: Db) {
    let app = TestApp::spawn(db).await;
    let (url, hits) = https_receiver().await;
    let strict = app
        .ok(
            "/integration/webhook/create",
            json!({"kind": "incident", "name": "strict", "endpoint": url, "retry_policy": "none"}),
        )
        .await["integration_id"]
        .clone();
    let t = app
        .ok(
            "/integration/webhook/test",
            json!({"integration_id": strict}),
        )
        .await;
    assert_eq!(
        (t["success"].clone(), t["error_class"].clone()),
        (json!(false), json!("tls")),
        "{t}"
    );
    assert_eq!(*hits.lock().unwrap(), 0);
    let lax = app
        .ok(
            "/integration/webhook/create",
            json!({"kind": "incident", "name": "lax", "endpoint": url, "tls_verify": false}),
        )
        .await["integration_id"]
        .clone();
    let t = app
        .ok("/integration/webhook/test", json!({"integration_id": lax}))
        .await;
    assert_eq!(
        (t["success"].clone(), t["status_code"].clone()),
        (json!(true), json!(200)),
        "{t}"
    );
    assert_eq!(*hits.lock().unwrap(), 1);
}

/// Runs Python's `standardwebhooks` over a received push. CI installs it
/// (scripts/test); elsewhere the check is skipped with a message unless
/// DUTYHOOK_REQUIRE_PY_VERIFIER is set.
pub fn python_verifies(secret: &str, headers: &HeaderMap, body: &[u8]) -> Option<bool> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("body"), body).unwrap();
    let h: serde_json::Map<String, serde_json::Value> =
        ["webhook-id", "webhook-timestamp", "webhook-signature"]
            .iter()
            .map(|k| {
                (
                    k.to_string(),
                    json!(headers.get(*k).unwrap().to_str().unwrap()),
                )
            })
            .collect();
    std::fs::write(dir.path().join("headers"), serde_json::to_vec(&h).unwrap()).unwrap();
    let script = "import json,sys\n\
        from standardwebhooks.webhooks import Webhook\n\
        d=sys.argv[1]\n\
        body=open(d+'/body','rb').read()\n\
        h=json.load(open(d+'/headers'))\n\
        Webhook(sys.argv[2]).verify(body, h)\n\
        print('verified')\n";
    let out = std::process::Command::new("python3")
        .args(["-c", script, dir.path().to_str().unwrap(), secret])
        .output()
        .ok()?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named") {
        assert!(
            std::env::var("DUTYHOOK_REQUIRE_PY_VERIFIER").is_err(),
            "python standardwebhooks is required here: {stderr}"
        );
        eprintln!("skipping the stock-verifier check: pip install standardwebhooks to run it");
        return None;
    }
    Some(out.status.success() && String::from_utf8_lossy(&out.stdout).contains("verified"))
}

async fn stock_verifier_accepts_pushes(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let created = app
        .ok(
            "/integration/webhook/create",
            json!({"kind": "incident", "name": "v", "endpoint": rx.url}),
        )
        .await;
    let secret = created["signing_secret"].as_str().unwrap().to_string();
    app.incident("Verified by a stock library").await;
    let got = rx.wait_for(1).await;
    if let Some(ok) = python_verifies(&secret, &got[0].headers, &got[0].body) {
        assert!(ok, "standardwebhooks accepts our push");
        let mut tampered = got[0].body.to_vec();
        tampered[5] ^= 1;
        assert_eq!(
            python_verifies(&secret, &got[0].headers, &tampered),
            Some(false),
            "and rejects a tampered body"
        );
    }
    // After a rotation the stock library accepts both secrets.
    let new = app
        .ok(
            "/integration/webhook/rotate-secret",
            json!({"integration_id": created["integration_id"]}),
        )
        .await["signing_secret"]
        .as_str()
        .unwrap()
        .to_string();
    app.incident("After rotation").await;
    let got = rx.wait_for(2).await;
    for s in [&secret, &new] {
        if let Some(ok) = python_verifies(s, &got[1].headers, &got[1].body) {
            assert!(ok);
        }
    }
}

/// Pushes one after another to the same endpoint go over one kept-alive
/// connection, and HTTP/2 is used where the endpoint offers it.
async fn pushes_reuse_connections_over_http1_and_http2(db: Db) {
    let app = TestApp::spawn(db).await;
    let receivers = [
        (Version::HTTP_11, recording_receiver(false).await),
        (Version::HTTP_2, recording_receiver(true).await),
    ];
    let mut integrations = vec![];
    for (version, (url, _)) in &receivers {
        let created = app
            .ok(
                "/integration/webhook/create",
                json!({"kind": "incident", "name": format!("{version:?}"), "endpoint": url,
                       "tls_verify": false, "event_types": ["i_comm"]}),
            )
            .await;
        integrations.push(created["integration_id"].as_i64().unwrap());
    }
    let incident = app.incident("connections").await;
    let pushes = 4;
    for n in 1..=pushes {
        app.ok(
            "/incident/comment",
            json!({"incident_ids": [incident], "comment": format!("comment {n}")}),
        )
        .await;
        // Recorded once its answer was read: its connection is back in the pool.
        for id in &integrations {
            app.attempts(*id, n).await;
        }
    }
    for (version, (url, seen)) in &receivers {
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen.len(), pushes, "{url}: {seen:?}");
        assert!(seen.iter().all(|(v, _)| v == version), "{url}: {seen:?}");
        let peers: std::collections::HashSet<SocketAddr> = seen.iter().map(|(_, p)| *p).collect();
        assert_eq!(
            peers.len(),
            1,
            "{url}: one connection for all pushes, got {seen:?}"
        );
    }
}
