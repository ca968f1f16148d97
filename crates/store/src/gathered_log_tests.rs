//! The writer's gathered log, against real files: each commit whole and
//! readable by other connections, in few writes; nothing a transaction that
//! did not commit wrote ever lands over another connection's commit.

use std::path::{Path, PathBuf};

use crate::direct::{DirectConn, Log};

const PRAGMAS: &str = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA cache_size=10;";

/// A new database of one table, `t`, and the writer's connection to it,
/// its log written as `log` says.
fn database(log: Log) -> (tempfile::TempDir, PathBuf, DirectConn) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.db");
    std::fs::File::create(&file).unwrap();
    let mut conn = DirectConn::open(&file, PRAGMAS, log).unwrap();
    conn.script("CREATE TABLE t (id INTEGER PRIMARY KEY, b BLOB NOT NULL)")
        .unwrap();
    (dir, file, conn)
}

/// Another process's connection, through the default VFS.
fn other(file: &Path) -> rusqlite::Connection {
    let conn = rusqlite::Connection::open(file).unwrap();
    conn.execute_batch("PRAGMA synchronous=FULL; PRAGMA busy_timeout=5000;")
        .unwrap();
    conn
}

/// Inserts `rows` rows of `size` bytes from `first` on, in one statement.
fn insert(first: i64, rows: i64, size: i64) -> String {
    format!(
        "WITH RECURSIVE n(i) AS (SELECT {first} UNION ALL SELECT i + 1 FROM n WHERE i < {}) \
         INSERT INTO t (id, b) SELECT i, randomblob({size}) FROM n",
        first + rows - 1
    )
}

fn ids(conn: &rusqlite::Connection) -> Vec<i64> {
    let mut stmt = conn.prepare("SELECT id FROM t ORDER BY id").unwrap();
    let rows = stmt.query_map([], |r| r.get(0)).unwrap();
    rows.map(|r| r.unwrap()).collect()
}

fn intact(file: &Path) -> Vec<i64> {
    let conn = other(file);
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    ids(&conn)
}

#[test]
fn each_commit_reaches_the_log_in_a_few_writes_and_other_connections_read_it() {
    let (_dir, file, mut conn) = database(Log::Gathered);
    let reader = other(&file);
    let before = conn.log_writes().expect("the log is gathered");
    conn.begin().unwrap();
    conn.script(&insert(1, 40, 300)).unwrap();
    conn.commit().unwrap();
    assert_eq!(
        conn.log_writes().unwrap() - before,
        1,
        "a commit of a few pages"
    );
    assert_eq!(ids(&reader), (1..=40).collect::<Vec<_>>());

    // Longer than the default VFS writes at once: several writes, whole.
    let before = conn.log_writes().unwrap();
    conn.begin().unwrap();
    conn.script(&insert(41, 400, 1500)).unwrap();
    conn.commit().unwrap();
    let writes = conn.log_writes().unwrap() - before;
    assert!(writes > 1, "600 KiB in one write would come back short");
    assert!(writes < 50, "{writes} writes for ~150 pages: not gathered");
    assert_eq!(ids(&reader).len(), 440);
    drop((reader, conn));
    assert_eq!(intact(&file).len(), 440);
}

#[test]
fn what_a_rolled_back_transaction_wrote_never_lands_over_a_later_commit() {
    let (_dir, file, mut conn) = database(Log::Gathered);
    conn.begin().unwrap();
    conn.script(&insert(1, 1, 10)).unwrap();
    conn.commit().unwrap();
    // More than the cache holds: pages go to the log before any commit.
    conn.begin().unwrap();
    conn.script(&insert(100, 600, 1000)).unwrap();
    let written = conn.log_writes().unwrap();
    conn.rollback();
    assert_eq!(
        conn.log_writes().unwrap(),
        written,
        "the rollback wrote what the transaction left gathered"
    );
    // Over every frame the rolled back transaction wrote.
    let another = other(&file);
    another.execute_batch(&insert(1000, 2000, 1000)).unwrap();
    conn.begin().unwrap();
    conn.script(&insert(3, 1, 10)).unwrap();
    conn.commit().unwrap();
    let expected: Vec<i64> = [1, 3].into_iter().chain(1000..3000).collect();
    assert_eq!(ids(&another), expected);
    drop((another, conn));
    assert_eq!(intact(&file), expected);
}

#[test]
fn what_a_connection_dropped_in_a_transaction_wrote_never_lands_over_a_later_commit() {
    let (_dir, file, mut conn) = database(Log::Gathered);
    conn.begin().unwrap();
    conn.script(&insert(100, 600, 1000)).unwrap();
    conn.reopen();
    let another = other(&file);
    another.execute_batch(&insert(1000, 2000, 1000)).unwrap();
    conn.begin().unwrap();
    conn.script(&insert(2, 1, 10)).unwrap();
    conn.commit().unwrap();
    let expected: Vec<i64> = [2].into_iter().chain(1000..3000).collect();
    assert_eq!(ids(&another), expected);
    drop((another, conn));
    assert_eq!(intact(&file), expected);
}

#[test]
fn a_log_written_as_sqlite_writes_it_is_not_gathered() {
    let (_dir, _file, conn) = database(Log::AsWritten);
    assert_eq!(conn.log_writes(), None);
}
