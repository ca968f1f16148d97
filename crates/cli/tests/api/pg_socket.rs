//! PostgreSQL through its Unix socket, as `docs/operations.md` advises when
//! it runs on the same host: the URL names the socket's directory as its
//! `host` parameter, and every connection the process makes (the writer,
//! the reads, `LISTEN`, the heartbeat) goes through it.

use std::path::Path;

use serde_json::json;

use crate::cli::{api, key_of, start_serve};
use crate::helpers::{pg_admin_url, Db, TestDb};
use crate::receiver::TestReceiver;

const SOCKET_DIR: &str = "/var/run/postgresql";

#[tokio::test]
async fn serve_pushes_over_the_unix_socket() {
    if !Path::new(SOCKET_DIR).join(".s.PGSQL.5432").exists() {
        eprintln!("skipped: no PostgreSQL socket in {SOCKET_DIR}");
        return;
    }
    let db = TestDb::new(Db::Postgres).await;
    let name = db.url.rsplit('/').next().unwrap().to_string();
    let url = format!("postgres://postgres@localhost/{name}?host={SOCKET_DIR}");
    let (_serve, addr, printed) = start_serve(&url);
    let key = key_of(&printed);
    let rx = TestReceiver::start().await;
    let hook = json!({"kind": "incident", "name": "socket", "endpoint": rx.url});
    api(&addr, &key, "/integration/webhook/create", hook).await;
    let incident = json!({"title": "Through the socket", "incident_severity": "Critical"});
    let id = api(&addr, &key, "/incident/create", incident).await["incident_id"].clone();
    let pushed = rx.wait_for(1).await;
    assert_eq!(pushed[0].json()["incident"]["incident_id"], id);

    let mut admin: sqlx::PgConnection = sqlx::Connection::connect(&pg_admin_url()).await.unwrap();
    let (over_socket, over_tcp): (i64, i64) = sqlx::query_as(
        "SELECT COUNT(*) FILTER (WHERE client_addr IS NULL), COUNT(*) FILTER (WHERE client_addr IS NOT NULL) \
         FROM pg_stat_activity WHERE datname = $1",
    )
    .bind(&name)
    .fetch_one(&mut admin)
    .await
    .unwrap();
    assert!(
        over_socket >= 2 && over_tcp == 0,
        "connections over the socket {over_socket}, over TCP {over_tcp}"
    );
}
