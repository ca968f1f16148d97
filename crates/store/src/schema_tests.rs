//! The two sets of migrations describe one schema: the same tables, the
//! same columns (integers and text alike), the same indexes on the same
//! columns. A migration written for one database and forgotten for the
//! other fails here.

use std::collections::BTreeMap;

use sqlx::AnyPool;

use crate::test_db::{open, Db};
use crate::Store;

/// table → (columns: name → kind, indexes: name → columns)
type Schema = BTreeMap<String, (BTreeMap<String, String>, BTreeMap<String, Vec<String>>)>;

/// The kinds both databases share: whole numbers, text, other.
fn kind(declared: &str) -> String {
    let t = declared.to_ascii_lowercase();
    if t.contains("int") || t == "serial" || t == "bigserial" {
        "integer".into()
    } else if t.contains("text") || t.contains("char") {
        "text".into()
    } else {
        t
    }
}

async fn sqlite_schema(pool: &AnyPool) -> Schema {
    let tables: Vec<(String,)> = sqlx::query_as(
        "SELECT name FROM sqlite_master WHERE type = 'table' \
         AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%' ORDER BY name",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut out = Schema::new();
    for (table,) in tables {
        let cols: Vec<(String, String)> = sqlx::query_as(&format!(
            "SELECT name, type FROM pragma_table_info('{table}')"
        ))
        .fetch_all(pool)
        .await
        .unwrap();
        let indexes: Vec<(String,)> = sqlx::query_as(&format!(
            "SELECT name FROM pragma_index_list('{table}') WHERE origin = 'c'"
        ))
        .fetch_all(pool)
        .await
        .unwrap();
        let mut idx = BTreeMap::new();
        for (name,) in indexes {
            let on: Vec<(String,)> = sqlx::query_as(&format!(
                "SELECT name FROM pragma_index_info('{name}') ORDER BY seqno"
            ))
            .fetch_all(pool)
            .await
            .unwrap();
            idx.insert(name, on.into_iter().map(|(c,)| c).collect());
        }
        let cols = cols.into_iter().map(|(n, t)| (n, kind(&t))).collect();
        out.insert(table, (cols, idx));
    }
    out
}

async fn postgres_schema(pool: &AnyPool) -> Schema {
    let cols: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT table_name::text, column_name::text, data_type::text FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name NOT LIKE '_sqlx%'",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut out = Schema::new();
    for (table, col, t) in cols {
        out.entry(table).or_default().0.insert(col, kind(&t));
    }
    // Indexes made by CREATE INDEX (not those behind primary keys and
    // unique constraints), each with its columns in order.
    let idx: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT t.relname::text, i.relname::text, a.attname::text \
         FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid JOIN pg_class t ON t.oid = x.indrelid \
         JOIN pg_namespace n ON n.oid = t.relnamespace \
         CROSS JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ord) \
         JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum \
         WHERE n.nspname = 'public' AND NOT EXISTS \
           (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) \
         ORDER BY t.relname, i.relname, k.ord",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    for (table, name, col) in idx {
        if let Some(entry) = out.get_mut(&table) {
            entry.1.entry(name).or_default().push(col);
        }
    }
    out
}

#[tokio::test]
async fn both_databases_are_migrated_to_one_schema() {
    let (lite, pg) = (Db::sqlite().await, Db::postgres().await);
    let (a, b) = (open(&lite).await, open(&pg).await);
    let sqlite = sqlite_schema(&a.read).await;
    let postgres = postgres_schema(&b.read).await;
    assert!(sqlite.len() > 15, "the schema was read: {sqlite:?}");
    let tables = |s: &Schema| s.keys().cloned().collect::<Vec<_>>();
    assert_eq!(tables(&sqlite), tables(&postgres), "tables");
    for (table, (cols, idx)) in &sqlite {
        let (pg_cols, pg_idx) = &postgres[table];
        assert_eq!(cols, pg_cols, "columns of {table}");
        assert_eq!(idx, pg_idx, "indexes of {table}");
    }
    a.close().await;
    b.close().await;
    lite.drop().await;
    pg.drop().await;
}
