//! PostgreSQL over TLS: `sslmode=require` encrypts; `verify-full` checks
//! the server's certificate against `sslrootcert` and its name, and refuses
//! a name the certificate does not carry. The local server's TLS uses
//! Debian's snakeoil certificate, issued to `localhost`.

use std::path::Path;

use crate::helpers::{Db, TestDb};

const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

async fn server_has_tls(url: &str) -> bool {
    let mut conn: sqlx::PgConnection = sqlx::Connection::connect(url).await.expect("connect");
    let (ssl,): (String,) = sqlx::query_as("SHOW ssl")
        .fetch_one(&mut conn)
        .await
        .expect("show ssl");
    ssl == "on"
}

#[tokio::test]
async fn postgres_over_tls() {
    let db = TestDb::new(Db::Postgres).await;
    if !server_has_tls(&db.url).await || !Path::new(SNAKEOIL).exists() {
        eprintln!("skipped: the local PostgreSQL has no TLS with {SNAKEOIL}");
        return;
    }
    let on_localhost = db.url.replace("@127.0.0.1:", "@localhost:");
    assert_ne!(
        on_localhost, db.url,
        "the test database is at 127.0.0.1: {}",
        db.url
    );
    let keys = db.keyring();
    for url in [
        format!("{on_localhost}?sslmode=require"),
        format!("{on_localhost}?sslmode=verify-full&sslrootcert={SNAKEOIL}"),
    ] {
        let store = dutyhook_store::open(&url, keys.clone())
            .await
            .unwrap_or_else(|e| panic!("{url}: {e}"));
        assert!(store.count_events().await.is_ok(), "{url}");
        store.close().await;
    }
    let wrong_name = format!("{}?sslmode=verify-full&sslrootcert={SNAKEOIL}", db.url);
    let err = match dutyhook_store::open(&wrong_name, keys).await {
        Ok(_) => panic!("verify-full accepted a certificate for another name"),
        Err(e) => e.to_string(),
    };
    assert!(err.contains("certificate"), "{err}");
}
