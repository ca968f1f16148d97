//! Upgrading a database keeps what it held: the queue's order per
//! (integration, subject) when migration 0009 moved it from an index per key
//! into chains (`next_id`, `delivery_tails`); the filter columns migration
//! 0015 fills from each row's document; the tails migration 0022 keys by
//! subject.

use dutyhook_domain::ids::{DeliveryId, EventId, IntegrationId};
use serde_json::json;
use sqlx::any::AnyPoolOptions;
use sqlx::AnyPool;

use crate::test_db::Db;
use crate::topology::Backend;
use crate::{AttemptRecord, Completion, DeliveryResolution};

const BEFORE_CHAINS: i64 = 8;

async fn migrate_to_8(pool: &AnyPool, postgres: bool) {
    let backend = if postgres {
        Backend::Postgres
    } else {
        Backend::Sqlite
    };
    crate::migrations::migrator_upto(backend, BEFORE_CHAINS)
        .run(pool)
        .await
        .unwrap();
}

/// Integration 1; key `a`: leased head, two waiting; key `b`: done.
async fn queue_at_8(pool: &AnyPool) {
    for sql in [
        "INSERT INTO integrations (kind, name, config, secret, created_at, updated_at) \
         VALUES ('incident_webhook', 'w', '{}', 'whsec_x', 0, 0)",
        "INSERT INTO events (event_id, event_type, subject_kind, subject_id, event_time, payload) VALUES \
         ('e1', 'i_comm', 'incident', 'a', 1, '{}'), ('e2', 'i_comm', 'incident', 'a', 2, '{}'), \
         ('e3', 'i_comm', 'incident', 'a', 3, '{}'), ('e4', 'i_comm', 'incident', 'b', 4, '{}')",
        "INSERT INTO deliveries (event_seq, integration_id, subject_key, state, next_at, lease_until, created_at) VALUES \
         (1, 1, 'a', 'leased', 1, 99999999999999, 1), (2, 1, 'a', 'waiting', 2, 0, 2), \
         (3, 1, 'a', 'waiting', 3, 0, 3), (4, 1, 'b', 'done', 4, 0, 4)",
    ] {
        sqlx::query(sql).execute(pool).await.unwrap();
    }
}

fn done(delivery_id: i64) -> Completion {
    Completion::Attempt {
        delivery_id: DeliveryId(delivery_id),
        resolution: DeliveryResolution::Done,
        note: None,
        record: Box::new(attempt(delivery_id, IntegrationId(1))),
    }
}

/// A successful first attempt of a delivery, as the history keeps it.
pub(crate) fn attempt(delivery_id: i64, integration_id: IntegrationId) -> AttemptRecord {
    AttemptRecord {
        invocation_id: format!("inv{delivery_id}"),
        integration_id,
        integration_kind: dutyhook_domain::integration::IntegrationKind::IncidentWebhook,
        delivery_id: DeliveryId(delivery_id),
        event_id: format!("e{delivery_id}").into(),
        event_type: dutyhook_domain::event::EventType::i_comm,
        subject_kind: dutyhook_domain::event::SubjectKind::Incident,
        subject_id: "a".into(),
        attempt: 1,
        test: false,
        event_time: 1,
        started_at: 1,
        duration_ms: 1,
        success: true,
        http_status: 200,
        error_class: String::new(),
        error: String::new(),
        request: json!({}).into(),
        response: json!({}).into(),
    }
}

async fn queued_order_survives_the_upgrade(url: &str, postgres: bool) {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    migrate_to_8(&pool, postgres).await;
    queue_at_8(&pool).await;
    pool.close().await;

    let store = crate::open(
        url,
        Some(crate::Keyring::parse(&crate::generate_key()).unwrap()),
    )
    .await
    .unwrap();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    let chains: Vec<(i64, i64)> = sqlx::query_as("SELECT id, next_id FROM deliveries ORDER BY id")
        .fetch_all(&pool)
        .await
        .unwrap();
    assert_eq!(chains, vec![(1, 2), (2, 3), (3, 0), (4, 0)]);
    let tails: Vec<(String, i64)> =
        sqlx::query_as("SELECT subject_key, tail_id FROM delivery_tails ORDER BY subject_key")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(tails, vec![("a".to_string(), 3)]);

    let state = |id| {
        let store = store.clone();
        async move { store.delivery_state(id).await.unwrap().unwrap().0 }
    };
    // A new delivery of a busy key queues behind its tail; of a free key, leads.
    let behind = store
        .enqueue_delivery(&EventId::from("e1"), IntegrationId(1), 10)
        .await
        .unwrap();
    assert_eq!(state(behind).await, "waiting");
    let free = store
        .enqueue_delivery(&EventId::from("e4"), IntegrationId(1), 10)
        .await
        .unwrap();
    assert_eq!(state(free).await, "pending");
    // Settling the head promotes exactly the next one, in order.
    store.complete_deliveries(vec![done(1)]).await.unwrap();
    assert_eq!(
        (
            state(DeliveryId(2)).await,
            state(DeliveryId(3)).await,
            state(behind).await
        ),
        ("pending".into(), "waiting".into(), "waiting".into())
    );
    for head in [2, 3] {
        assert_eq!(state(DeliveryId(head)).await, "pending");
        sqlx::query(&format!(
            "UPDATE deliveries SET state = 'leased' WHERE id = {head}"
        ))
        .execute(&pool)
        .await
        .unwrap();
        store.complete_deliveries(vec![done(head)]).await.unwrap();
    }
    assert_eq!(state(behind).await, "pending");
}

fn sqlite_url() -> (String, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("dutyhook-up-{}", rand::random::<u64>()));
    std::fs::create_dir_all(&dir).unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.join("u.db").display());
    (url, dir)
}

/// A fresh PostgreSQL database, dropped when the test ends, passed or not
/// (a failed test here used to leave its database behind).
async fn postgres_db() -> Db {
    sqlx::any::install_default_drivers();
    Db::postgres().await
}

#[tokio::test]
async fn sqlite_queue_keeps_its_order_across_the_upgrade() {
    let (url, dir) = sqlite_url();
    queued_order_survives_the_upgrade(&url, false).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn postgres_queue_keeps_its_order_across_the_upgrade() {
    let db = postgres_db().await;
    queued_order_survives_the_upgrade(&db.url, true).await;
    db.drop().await;
}

/// A database migrated to `version`, given `rows`, then migrated the rest
/// of the way: what an upgrade finds and what it leaves.
async fn upgraded_from(url: &str, backend: Backend, version: i64, rows: &[&str]) -> AnyPool {
    sqlx::any::install_default_drivers();
    let pool = AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    crate::migrations::migrator_upto(backend, version)
        .run(&pool)
        .await
        .unwrap();
    for sql in rows {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    crate::migrations::migrator(backend)
        .run(&pool)
        .await
        .unwrap();
    pool
}

/// Migration 0015 fills the new filter columns from rows written before it.
async fn filter_columns_are_filled(url: &str, backend: Backend) {
    let pool = upgraded_from(
        url,
        backend,
        14,
        &[
            "INSERT INTO incidents (id, num, channel_id, progress, severity, start_time, created_at, created_ms, \
             updated_at, snoozed_before, title, description, labels_text, doc) VALUES \
             ('i1', 'AAAAA1', 0, 'Closed', 'Info', 1, 1, 1000, 1, 0, 't', '', '', \
              '{\"creator\": {\"person_id\": 7, \"person_name\": \"A\", \"email\": \"a@x\"}, \"closer\": {\"person_id\": 8}}'), \
             ('i2', 'AAAAA2', 0, 'Triggered', 'Info', 1, 1, 1000, 1, 0, 't', '', '', '{\"creator\": null}')",
            "INSERT INTO alerts (id, data_source_id, alert_key, channel_id, progress, start_time, updated_at, doc) \
             VALUES ('a1', 1, 'k', 1, 'Triggered', 1, 1, '{\"alert_severity\": \"Warning\"}')",
        ],
    )
    .await;
    let people: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT id, creator_id, closer_id FROM incidents ORDER BY id")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(people, vec![("i1".into(), 7, 8), ("i2".into(), 0, 0)]);
    let (severity,): (String,) = sqlx::query_as("SELECT severity FROM alerts")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(severity, "Warning");
    pool.close().await;
}

#[tokio::test]
async fn sqlite_filter_columns_are_filled_on_upgrade() {
    let (url, dir) = sqlite_url();
    filter_columns_are_filled(&url, Backend::Sqlite).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn postgres_filter_columns_are_filled_on_upgrade() {
    let db = postgres_db().await;
    filter_columns_are_filled(&db.url, Backend::Postgres).await;
    db.drop().await;
}

/// Migration 0022 keys the tails by (subject, integration) and carries over
/// only the tails something still queues behind.
async fn tails_are_rekeyed(url: &str, backend: Backend) {
    let pool = upgraded_from(
        url,
        backend,
        21,
        &[
            "INSERT INTO events (event_id, event_type, subject_kind, subject_id, event_time, payload) VALUES \
             ('e1', 'i_comm', 'incident', 'a', 1, '{}'), ('e2', 'i_comm', 'incident', 'b', 2, '{}')",
            "INSERT INTO deliveries (event_seq, integration_id, subject_key, state, next_at, lease_until, created_at) VALUES \
             (1, 1, 'a', 'pending', 1, 0, 1), (1, 2, 'a', 'done', 1, 0, 1), (2, 1, 'b', 'waiting', 2, 0, 2)",
            "INSERT INTO delivery_tails (integration_id, subject_key, tail_id) VALUES (1, 'a', 1), (2, 'a', 2), (1, 'b', 3)",
        ],
    )
    .await;
    let tails: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT subject_key, integration_id, tail_id FROM delivery_tails ORDER BY subject_key, integration_id",
    )
    .fetch_all(&pool)
    .await
    .unwrap();
    assert_eq!(tails, vec![("a".into(), 1, 1), ("b".into(), 1, 3)]);
    // The new key: the same (subject, integration) twice is refused.
    let again = sqlx::query(
        "INSERT INTO delivery_tails (subject_key, integration_id, tail_id) VALUES ('a', 1, 9)",
    )
    .execute(&pool)
    .await;
    assert!(again.is_err(), "(subject, integration) is the key");
    pool.close().await;
}

#[tokio::test]
async fn sqlite_tails_are_rekeyed_on_upgrade() {
    let (url, dir) = sqlite_url();
    tails_are_rekeyed(&url, Backend::Sqlite).await;
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test]
async fn postgres_tails_are_rekeyed_on_upgrade() {
    let db = postgres_db().await;
    tails_are_rekeyed(&db.url, Backend::Postgres).await;
    db.drop().await;
}
