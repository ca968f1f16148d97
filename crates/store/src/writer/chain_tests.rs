//! A batch's commit that begins the next one's transaction: what it
//! committed is committed whatever the next one meets, and the lock goes
//! to a process already waiting for it.

use sqlx::{AnyConnection, Connection, Executor, Row};

use super::{begin, commit, AfterCommit, Open};
use crate::subscribers::Subscribers;
use crate::test_db::Db;

/// A fresh database with the count of rare changes and a table to write.
async fn scratch() -> (Db, AnyConnection, AnyConnection) {
    sqlx::any::install_default_drivers();
    let db = Db::postgres().await;
    let mut writer = AnyConnection::connect(&db.url).await.unwrap();
    writer
        .execute(
            "CREATE TABLE rare_changes (id BIGINT PRIMARY KEY, n BIGINT NOT NULL); \
             INSERT INTO rare_changes VALUES (1, 5); \
             CREATE TABLE t (k BIGINT, CONSTRAINT t_k UNIQUE (k) DEFERRABLE INITIALLY DEFERRED)",
        )
        .await
        .unwrap();
    let other = AnyConnection::connect(&db.url).await.unwrap();
    (db, writer, other)
}

async fn insert(conn: &mut AnyConnection, k: i64) {
    sqlx::query("INSERT INTO t (k) VALUES ($1)")
        .bind(k)
        .execute(conn)
        .await
        .unwrap();
}

async fn rows(conn: &mut AnyConnection) -> i64 {
    sqlx::query("SELECT COUNT(*) FROM t")
        .fetch_one(conn)
        .await
        .unwrap()
        .get(0)
}

/// Whether `conn` can take the writers' lock now; released at once.
async fn lock_is_free(conn: &mut AnyConnection) -> bool {
    let free: bool = sqlx::query("SELECT pg_try_advisory_lock(7343230690172101)")
        .fetch_one(&mut *conn)
        .await
        .unwrap()
        .get(0);
    if free {
        conn.execute("SELECT pg_advisory_unlock_all()")
            .await
            .unwrap();
    }
    free
}

async fn someone_waits_for_the_lock(conn: &mut AnyConnection) -> bool {
    sqlx::query(
        "SELECT COUNT(*) > 0 FROM pg_locks \
         WHERE locktype = 'advisory' AND NOT granted AND pid <> pg_backend_pid()",
    )
    .fetch_one(conn)
    .await
    .unwrap()
    .get(0)
}

#[tokio::test]
async fn a_commit_begins_the_next_batch_holding_the_lock() {
    let (db, mut writer, mut other) = scratch().await;
    let mut kept = Subscribers::default();
    assert!(begin(&mut writer, None, true, &mut kept).await.unwrap());
    insert(&mut writer, 1).await;
    let AfterCommit::Open(open) = commit(&mut writer, None, Some(false)).await.unwrap() else {
        panic!("the next transaction begins");
    };
    assert_eq!(
        open,
        Open {
            locked: true,
            changes: 5
        }
    );
    assert_eq!(rows(&mut other).await, 1, "the batch committed");
    assert!(!lock_is_free(&mut other).await, "the next batch holds it");

    assert!(!begin(&mut writer, Some(open), true, &mut kept)
        .await
        .unwrap());
    insert(&mut writer, 2).await;
    assert!(matches!(
        commit(&mut writer, None, None).await.unwrap(),
        AfterCommit::Idle
    ));
    assert_eq!(rows(&mut other).await, 2);
    assert!(
        lock_is_free(&mut other).await,
        "let go with the last commit"
    );
    db.drop().await;
}

#[tokio::test]
async fn a_process_waiting_for_the_lock_has_it_before_the_next_batch() {
    let (db, mut writer, mut other) = scratch().await;
    let mut kept = Subscribers::default();
    begin(&mut writer, None, false, &mut kept).await.unwrap();
    insert(&mut writer, 1).await;
    // The other process waits for the lock as the batch commits: it has it
    // then, the commit answers without it, and the next batch waits for it
    // as it begins.
    let waiting = tokio::spawn(async move {
        other
            .execute("BEGIN; SELECT pg_advisory_xact_lock(7343230690172101)")
            .await
            .unwrap();
        other
    });
    while !someone_waits_for_the_lock(&mut writer).await {
        tokio::task::yield_now().await;
    }
    // A commit that waited for the lock would wait for ever here: the
    // other process holds it until after the commit's answer.
    let committed = tokio::time::timeout(
        std::time::Duration::from_secs(60),
        commit(&mut writer, None, Some(false)),
    )
    .await
    .expect("the commit answers without the lock");
    let AfterCommit::Open(open) = committed.unwrap() else {
        panic!("the next transaction begins");
    };
    assert!(!open.locked);
    let mut other = waiting.await.unwrap();
    assert_eq!(rows(&mut other).await, 1, "the batch committed");
    other
        .execute("UPDATE rare_changes SET n = 6; COMMIT")
        .await
        .unwrap();
    let mut kept = Subscribers::kept_at_count(5);
    begin(&mut writer, Some(open), false, &mut kept)
        .await
        .unwrap();
    assert_eq!(
        kept.kept_at(),
        None,
        "a rare change committed meanwhile: what was kept is read again"
    );
    assert!(!lock_is_free(&mut other).await, "the batch holds it now");
    commit(&mut writer, None, None).await.unwrap();
    db.drop().await;
}

#[tokio::test]
async fn a_commit_that_fails_begins_nothing() {
    let (db, mut writer, mut other) = scratch().await;
    let mut kept = Subscribers::kept_at_count(5);
    begin(&mut writer, None, false, &mut kept).await.unwrap();
    assert_eq!(kept.kept_at(), Some(5), "nothing changed since it was read");
    insert(&mut writer, 1).await;
    insert(&mut writer, 1).await;
    // The deferred constraint fails the commit itself.
    let failed = commit(&mut writer, Some("a1b2"), Some(false)).await;
    assert!(failed.is_err());
    assert_eq!(rows(&mut other).await, 0);
    // The server lets go of the lock after it has answered the error; by
    // the next answer on the connection it has.
    writer.execute("SELECT 1").await.unwrap();
    assert!(lock_is_free(&mut other).await);
    db.drop().await;
}

#[tokio::test]
async fn a_next_batch_that_cannot_begin_leaves_the_commit_done() {
    let (db, mut writer, mut other) = scratch().await;
    let mut kept = Subscribers::default();
    begin(&mut writer, None, false, &mut kept).await.unwrap();
    insert(&mut writer, 1).await;
    // The count the next transaction reads is gone.
    writer.execute("DROP TABLE rare_changes").await.unwrap();
    let after = commit(&mut writer, Some("a1b2"), Some(true)).await.unwrap();
    assert!(matches!(after, AfterCommit::Broken));
    assert_eq!(rows(&mut other).await, 1, "the batch committed");
    db.drop().await;
}
