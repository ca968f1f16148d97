//! How a PostgreSQL write batch begins: its settings last as long as the
//! transaction, and its statements' plans are made once until it asks for
//! them to be made again.

use sqlx::{Connection, Executor, PgConnection, Row};

use crate::dialect::begin_postgres;
use crate::test_db::Db;

/// The current value of each setting named.
async fn settings(conn: &mut PgConnection, names: &[&str]) -> Vec<String> {
    let mut values = vec![];
    for name in names {
        values.push(
            sqlx::query("SELECT current_setting($1)")
                .bind(name)
                .fetch_one(&mut *conn)
                .await
                .unwrap()
                .get(0),
        );
    }
    values
}

/// The estimated cost of the plan `EXECUTE lookup` runs in a batch begun
/// with `replan`.
async fn cost_in_batch(conn: &mut PgConnection, replan: bool) -> f64 {
    let mut tx = conn.begin_with(begin_postgres(replan, None)).await.unwrap();
    let plan: serde_json::Value = sqlx::query("EXPLAIN (FORMAT JSON) EXECUTE lookup(7)")
        .fetch_one(&mut *tx)
        .await
        .unwrap()
        .get(0);
    tx.commit().await.unwrap();
    plan[0]["Plan"]["Total Cost"].as_f64().unwrap()
}

#[tokio::test]
async fn a_batchs_settings_end_with_it() {
    let db = Db::postgres().await;
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    let names = [
        "plan_cache_mode",
        "jit",
        "enable_seqscan",
        "enable_bitmapscan",
    ];
    let before = settings(&mut conn, &names).await;
    let mut tx = conn.begin_with(begin_postgres(true, None)).await.unwrap();
    let during = settings(&mut tx, &names).await;
    tx.commit().await.unwrap();
    assert_eq!(during, ["force_generic_plan", "off", "off", "off"]);
    let after = settings(&mut conn, &names).await;
    assert_eq!(after, before, "the connection's own settings are back");
    conn.close().await.unwrap();
    db.drop().await;
}

#[tokio::test]
async fn a_batch_plans_once_until_it_asks_for_plans_fit_for_the_tables_of_now() {
    let db = Db::postgres().await;
    let mut conn = PgConnection::connect(&db.url).await.unwrap();
    conn.execute(
        "CREATE TABLE t (id BIGINT PRIMARY KEY, k BIGINT); CREATE INDEX t_k ON t (k); \
         PREPARE lookup(BIGINT) AS SELECT id FROM t WHERE k = $1",
    )
    .await
    .unwrap();
    let empty = cost_in_batch(&mut conn, false).await;
    conn.execute("INSERT INTO t SELECT g, g % 10 FROM generate_series(1, 50000) g")
        .await
        .unwrap();
    assert_eq!(
        cost_in_batch(&mut conn, false).await,
        empty,
        "the plan made for an empty table is kept"
    );
    let grown = cost_in_batch(&mut conn, true).await;
    assert!(
        grown > empty,
        "made again for 50,000 rows: {grown} vs {empty}"
    );
    conn.close().await.unwrap();
    db.drop().await;
}
