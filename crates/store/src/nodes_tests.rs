//! A process alone on PostgreSQL tells nobody of the deliveries it queued;
//! once its beat sees another process alive, every such batch does.

use sqlx::postgres::PgListener;
use sqlx::Connection;

use crate::dialect::DELIVERIES_CHANNEL;
use crate::sql::{now_ms, Sql};
use crate::test_db::{open, Db};
use crate::writer::tests::create;
use crate::Store;

/// The payloads heard on the deliveries channel up to a marker the test
/// sends itself: PostgreSQL delivers notifications in commit order, so
/// whatever the store committed before the marker is heard before it.
async fn heard_before_marker(listener: &mut PgListener, url: &str) -> Vec<String> {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    sqlx::query("SELECT pg_notify($1, 'marker')")
        .bind(DELIVERIES_CHANNEL)
        .execute(&mut conn)
        .await
        .unwrap();
    let mut heard = vec![];
    loop {
        let n = listener.recv().await.unwrap();
        if n.payload() == "marker" {
            return heard;
        }
        heard.push(n.payload().to_string());
    }
}

#[tokio::test]
async fn deliveries_are_announced_only_with_another_process_alive() {
    let db = Db::postgres().await;
    let store = open(&db).await;
    // Until its first beat has looked, a process announces every batch.
    store.beat().await.unwrap();
    // A batch begun before that beat told the writer (the background
    // beat's first, say) may commit later, announced: the writer runs one
    // batch at a time, so once a second beat's batch is in, it is too.
    store.beat().await.unwrap();
    assert_eq!(store.writer.processes(), 1);
    let mut listener = PgListener::connect(&db.url).await.unwrap();
    listener.listen(DELIVERIES_CHANNEL).await.unwrap();

    create(&store, "alone").await;
    assert_eq!(
        heard_before_marker(&mut listener, &db.url).await,
        Vec::<String>::new(),
        "alone, a batch announces nothing"
    );

    // Seen in the future: no beat of the test's takes it for dead.
    let mut q = Sql::new("INSERT INTO nodes (token, started_at, seen_at) VALUES ('peer', ");
    q.i64(now_ms()).push(", ").i64(now_ms() + 600_000).push(")");
    store.exec(q).await.unwrap();
    store.beat().await.unwrap();
    assert_eq!(store.writer.processes(), 2);

    create(&store, "with a peer").await;
    // The background beat's batch may be announced as well.
    let heard = heard_before_marker(&mut listener, &db.url).await;
    assert!(
        !heard.is_empty() && heard.iter().all(|p| p == store.writer.token()),
        "with another process alive, the batch announces its deliveries: {heard:?}"
    );
    store.close().await;
    db.drop().await;
}
