//! The SQLite writer's own connection, used on the writer's thread without
//! a hop: sqlx runs every SQLite statement on a thread of the connection's,
//! and each statement's round trip there and back waited for both threads
//! to get a core (profiled at 16 clients: a batch of 17 jobs took 2.1 ms,
//! its `BEGIN` alone 0.46 ms). The writer's thread is its own, so here it
//! runs the statements itself, through rusqlite.
//!
//! Rows come back as sqlx's `AnyRow`, so that every row type reads them as
//! it reads rows from sqlx.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rusqlite::types::ValueRef;
use rusqlite::OpenFlags;
use sqlx::any::{AnyRow, AnyTypeInfo, AnyTypeInfoKind, AnyValue};
use sqlx_core::any::{AnyColumn, AnyValueKind};
use sqlx_core::ext::ustr::UStr;

use crate::sql::{Bind, OneRowEach, Sql};
use crate::{Result, StoreError};

/// Statements kept prepared. Multi-row `INSERT`s run once a row here
/// (`Sql::one_row_each`), so they keep one text each, and `IN` lists are
/// padded to a power of two (`sql::padded`), so the updates keep a few.
/// At 10 webhooks, 256 kept raised the peak memory by 15 MB, 128 by 6 MB,
/// 64 by none (measured before the inserts ran once a row).
const PREPARED: usize = 64;

/// Turns off SQLite's count of the memory it holds (`SQLITE_CONFIG_MEMSTATUS`,
/// on by default), which nothing here reads: it takes a global mutex and asks
/// the allocator for each block's size on every allocation and free
/// (`sqlite3MemSize` and the mutex's lock and unlock were 4-5 % of all the
/// server's samples at 16 clients, nearly all on the writer's thread). Only
/// possible before SQLite starts in this process: called before the first
/// connection opens; later calls change nothing.
pub(crate) fn stop_counting_memory() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: the call takes two plain integers. SQLite asks that no
        // other of its functions run meanwhile: every store opens its SQLite
        // connections after this, and once SQLite has started the call
        // changes nothing (it answers SQLITE_MISUSE).
        unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
                0 as std::os::raw::c_int,
            );
        }
    });
}

pub(crate) struct DirectConn {
    conn: rusqlite::Connection,
    file: PathBuf,
    pragmas: String,
    log: Log,
}

/// How the connection's writes reach its write-ahead log.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Log {
    /// Each commit's in one write (`gathered_log`): only where every commit
    /// syncs the log (`synchronous=FULL`).
    Gathered,
    /// As SQLite writes them.
    AsWritten,
}

impl DirectConn {
    /// Opens the database file with the pragmas the writer's pooled
    /// connection gets (`pragmas`, run as one script).
    pub(crate) fn open(file: &Path, pragmas: &str, log: Log) -> Result<DirectConn> {
        Ok(DirectConn {
            conn: connect(file, pragmas, log)?,
            file: file.to_owned(),
            pragmas: pragmas.to_owned(),
            log,
        })
    }

    /// Starts over on a new connection after a failed batch, as the sqlx
    /// side does: whatever state the failure left behind stays with the old
    /// one. If the file cannot be opened now, the old one is kept.
    pub(crate) fn reopen(&mut self) {
        match connect(&self.file, &self.pragmas, self.log) {
            Ok(conn) => self.conn = conn,
            Err(e) => tracing::warn!(error = %e, "reopening the writer's connection"),
        }
    }

    /// Copies the log into the database as far as readers allow; how many
    /// frames the log holds and how many were copied.
    pub(crate) fn checkpoint(&mut self) -> Result<(i64, i64)> {
        Ok(self
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
                Ok((r.get(1)?, r.get(2)?))
            })?)
    }

    /// Runs a script of statements (tests set pragmas with it).
    #[cfg(test)]
    pub(crate) fn script(&mut self, sql: &str) -> Result<()> {
        Ok(self.conn.execute_batch(sql)?)
    }

    /// How many writes reached the log through the gathering VFS.
    #[cfg(test)]
    pub(crate) fn log_writes(&self) -> Option<u64> {
        crate::gathered_log::writes(&self.conn)
    }

    pub(crate) fn begin(&mut self) -> Result<()> {
        Ok(self.conn.execute_batch("BEGIN IMMEDIATE")?)
    }

    pub(crate) fn commit(&mut self) -> Result<()> {
        Ok(self.conn.execute_batch("COMMIT")?)
    }

    /// Rolls back what is open, if anything is (SQLite may already have
    /// rolled back by itself, e.g. on a full disk).
    pub(crate) fn rollback(&mut self) {
        crate::gathered_log::drop_unwritten(&mut self.conn);
        if !self.conn.is_autocommit() {
            if let Err(e) = self.conn.execute_batch("ROLLBACK") {
                tracing::debug!(error = %e, "rolling back the writer's direct connection");
            }
        }
    }

    /// Runs `q`; the number of rows it changed.
    pub(crate) fn execute(&mut self, q: &Sql) -> Result<u64> {
        let changed = self.each_run(q, q.one_row_each(), |stmt| Ok(stmt.raw_execute()? as u64))?;
        Ok(changed.into_iter().sum())
    }

    /// Runs `q`; the rows it answered, in order.
    pub(crate) fn rows(&mut self, q: &Sql) -> Result<Vec<AnyRow>> {
        let rows = self.each_run(q, q.one_row_each(), read_rows)?;
        Ok(rows.into_iter().flatten().collect())
    }

    /// Runs the `INSERT` `q`, written without `RETURNING`, and answers the
    /// rowid of each of its rows, in their order: for one row, or rows that
    /// run once each (`Sql::one_row_each`). SQLite collects what `RETURNING`
    /// answers in a temporary table it opens and closes on every run, which
    /// cost more than the row itself (a fifth of the writer's time went to
    /// the deliveries' and events' inserts at 10 webhooks). Each row must be
    /// stored (a row a conflict skips is an error). `None`, having run
    /// nothing, for other statements.
    pub(crate) fn inserted_rowids(&mut self, q: &Sql) -> Result<Option<Vec<i64>>> {
        let each = q.one_row_each();
        if each.is_none() && q.row_count() != 1 {
            return Ok(None);
        }
        let conn = &self.conn;
        let rowids = self.each_run(q, each, |stmt| match stmt.raw_execute()? {
            1 => Ok(conn.last_insert_rowid()),
            n => Err(crate::StoreError::Corrupt(format!(
                "an insert of one row stored {n}; its rowid is unknown"
            ))),
        })?;
        Ok(Some(rowids))
    }

    /// Prepares `q` and hands it to `run` bound: once, or, for a multi-row
    /// `INSERT` whose rows read alike, once a row (`each`, what
    /// `Sql::one_row_each` made of `q`).
    fn each_run<T>(
        &self,
        q: &Sql,
        each: Option<OneRowEach<'_>>,
        mut run: impl FnMut(&mut rusqlite::CachedStatement<'_>) -> Result<T>,
    ) -> Result<Vec<T>> {
        #[cfg(test)]
        crate::direct_census::note(
            &self.conn,
            each.as_ref().map_or(q.text.as_str(), |e| e.text.as_str()),
        );
        let Some(each) = each else {
            let mut stmt = self.conn.prepare_cached(&q.text)?;
            bind(&mut stmt, &[q.binds()])?;
            return Ok(vec![run(&mut stmt)?]);
        };
        let mut stmt = self.conn.prepare_cached(&each.text)?;
        each.runs()
            .map(|values| {
                bind(&mut stmt, &values)?;
                run(&mut stmt)
            })
            .collect()
    }
}

/// The rows `stmt`, bound, answers.
fn read_rows(stmt: &mut rusqlite::CachedStatement<'_>) -> Result<Vec<AnyRow>> {
    let names: Vec<UStr> = stmt.column_names().into_iter().map(UStr::new).collect();
    let by_name: Arc<sqlx_core::HashMap<UStr, usize>> = Arc::new(
        names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect(),
    );
    let mut out = vec![];
    let mut rows = stmt.raw_query();
    while let Some(row) = rows.next()? {
        let mut columns = Vec::with_capacity(names.len());
        let mut values = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let kind = any_value(row.get_ref(i)?)?;
            columns.push(AnyColumn {
                ordinal: i,
                name: name.clone(),
                type_info: AnyTypeInfo {
                    kind: kind_of(&kind),
                },
            });
            values.push(AnyValue { kind });
        }
        out.push(AnyRow {
            column_names: by_name.clone(),
            columns,
            values,
        });
    }
    Ok(out)
}

fn connect(file: &Path, pragmas: &str, log: Log) -> Result<rusqlite::Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = match log {
        Log::Gathered => {
            let vfs = crate::gathered_log::register().map_err(StoreError::Unavailable)?;
            rusqlite::Connection::open_with_flags_and_vfs(file, flags, vfs)?
        }
        Log::AsWritten => rusqlite::Connection::open_with_flags(file, flags)?,
    };
    conn.execute_batch(pragmas)?;
    conn.set_prepared_statement_cache_capacity(PREPARED);
    Ok(conn)
}

/// Binds `parts`' values, one after the other, as sqlx does: a bare `?`
/// takes the next value, a `$n` or `?n` the n-th.
fn bind(stmt: &mut rusqlite::CachedStatement<'_>, parts: &[&[Bind]]) -> Result<()> {
    let value = |n: usize| {
        let mut n = n;
        for part in parts {
            match part.get(n) {
                Some(b) => return Some(b),
                None => n -= part.len(),
            }
        }
        None
    };
    let mut next = 0;
    for param in 1..=stmt.parameter_count() {
        let n = match stmt.parameter_name(param) {
            None => {
                next += 1;
                next
            }
            Some(name) => name[1..].parse::<usize>().map_err(|_| {
                crate::StoreError::Corrupt(format!("unsupported SQL parameter {name}"))
            })?,
        };
        match value(n - 1) {
            Some(Bind::I64(v)) => stmt.raw_bind_parameter(param, v)?,
            Some(Bind::Text(v)) => stmt.raw_bind_parameter(param, v.as_str())?,
            Some(Bind::OptText(v)) => stmt.raw_bind_parameter(param, v.as_deref())?,
            // As sqlx: a parameter with no value is NULL.
            None => stmt.raw_bind_parameter(param, rusqlite::types::Null)?,
        }
    }
    Ok(())
}

/// A value as sqlx's SQLite driver hands it to `Any`: by its storage class.
fn any_value(v: ValueRef<'_>) -> Result<AnyValueKind<'static>> {
    Ok(match v {
        ValueRef::Null => AnyValueKind::Null(AnyTypeInfoKind::Null),
        ValueRef::Integer(i) => AnyValueKind::BigInt(i),
        ValueRef::Real(f) => AnyValueKind::Double(f),
        ValueRef::Text(t) => AnyValueKind::Text(Cow::Owned(
            std::str::from_utf8(t)
                .map_err(|e| crate::StoreError::Corrupt(format!("text is not UTF-8: {e}")))?
                .to_owned(),
        )),
        ValueRef::Blob(b) => AnyValueKind::Blob(Cow::Owned(b.to_vec())),
    })
}

fn kind_of(v: &AnyValueKind<'_>) -> AnyTypeInfoKind {
    match v {
        AnyValueKind::Null(_) => AnyTypeInfoKind::Null,
        AnyValueKind::BigInt(_) => AnyTypeInfoKind::BigInt,
        AnyValueKind::Double(_) => AnyTypeInfoKind::Double,
        AnyValueKind::Text(_) => AnyTypeInfoKind::Text,
        _ => AnyTypeInfoKind::Blob,
    }
}

#[cfg(test)]
mod tests {
    use sqlx::Row;

    use super::*;
    use crate::sql::Anonymous;

    /// A connection to a new database of one table, `t`.
    fn table_t() -> (tempfile::TempDir, DirectConn) {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("t.db");
        // An empty file is an empty database; the writer's connection
        // opens files, it does not make them.
        std::fs::File::create(&file).unwrap();
        let mut conn = DirectConn::open(&file, "", Log::Gathered).unwrap();
        conn.script("CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, b TEXT UNIQUE)")
            .unwrap();
        (dir, conn)
    }

    #[test]
    fn a_multi_row_insert_runs_once_a_row_and_answers_every_row_in_order() {
        let (_dir, mut conn) = table_t();
        let insert = |names: &[&str], returning: bool| {
            let mut q = Sql::on(&Anonymous, "INSERT INTO t (b) VALUES ");
            for n in names {
                q.row_start().text(*n).row_end();
            }
            q.push(" ON CONFLICT (b) DO NOTHING");
            if returning {
                q.push(" RETURNING id, b");
            }
            q
        };
        let q = insert(&["c", "a", "b"], true);
        assert!(q.one_row_each().is_some());
        let rows = conn.rows(&q).unwrap();
        let got: Vec<(i64, String)> = rows
            .iter()
            .map(|r| (r.get::<i64, _>(0), r.get::<String, _>(1)))
            .collect();
        assert_eq!(got, [(1, "c".into()), (2, "a".into()), (3, "b".into())]);
        // A row that changes nothing is not counted.
        assert_eq!(conn.execute(&insert(&["a", "d", "e"], false)).unwrap(), 2);
    }

    #[test]
    fn an_insert_answers_the_rowid_of_each_row_in_order() {
        let (_dir, mut conn) = table_t();
        let insert = |names: &[&str]| {
            let mut q = Sql::on(&Anonymous, "INSERT INTO t (b) VALUES ");
            for n in names {
                q.row_start().text(*n).row_end();
            }
            q
        };
        assert_eq!(
            conn.inserted_rowids(&insert(&["z"])).unwrap(),
            Some(vec![1])
        );
        conn.script("DELETE FROM t").unwrap();
        assert_eq!(
            conn.inserted_rowids(&insert(&["c", "a", "b"])).unwrap(),
            Some(vec![2, 3, 4])
        );
        let stored = |conn: &mut DirectConn| -> Vec<(i64, String)> {
            conn.rows(&Sql::on(&Anonymous, "SELECT id, b FROM t ORDER BY id"))
                .unwrap()
                .iter()
                .map(|r| (r.get::<i64, _>(0), r.get::<String, _>(1)))
                .collect()
        };
        assert_eq!(
            stored(&mut conn),
            [(2, "c".into()), (3, "a".into()), (4, "b".into())]
        );
        // Rows that do not read alike cannot run one at a time: nothing runs.
        let mut q = Sql::on(&Anonymous, "INSERT INTO t (b) VALUES ");
        q.row_start().text("x").row_end();
        q.push(", ('y'), ");
        q.row_start().text("w").row_end();
        assert_eq!(conn.inserted_rowids(&q).unwrap(), None);
        assert_eq!(stored(&mut conn).len(), 3);
        // A row a conflict skips has no rowid of its own.
        let mut q = insert(&["d", "a"]);
        q.push(" ON CONFLICT (b) DO NOTHING");
        assert!(conn.inserted_rowids(&q).is_err());
    }
}
