//! The connection a write batch's statements run on: sqlx's, or on SQLite
//! the writer's own (`direct.rs`), which runs them on the writer's thread.

use sqlx::any::AnyRow;
use sqlx::{AnyConnection, FromRow};

use crate::direct::DirectConn;
use crate::sql::{Placeholders, Sql};
use crate::topology::Backend;
use crate::Result;

pub(crate) enum WriteConn<'c> {
    Sqlx(&'c mut AnyConnection),
    Direct(&'c mut DirectConn),
}

impl Placeholders for WriteConn<'_> {
    fn anonymous_placeholders(&self) -> bool {
        match self {
            WriteConn::Sqlx(c) => c.anonymous_placeholders(),
            WriteConn::Direct(_) => true,
        }
    }
}

impl WriteConn<'_> {
    /// The database the statements go to.
    pub(crate) fn backend(&self) -> Backend {
        if self.postgres() {
            Backend::Postgres
        } else {
            Backend::Sqlite
        }
    }

    /// Whether the statements go to PostgreSQL.
    pub(crate) fn postgres(&self) -> bool {
        match self {
            WriteConn::Sqlx(c) => c.backend_name() == "PostgreSQL",
            WriteConn::Direct(_) => false,
        }
    }

    /// Whether `rows` rows are cheaper written one statement each, found
    /// by key, than with one statement that lists them after `IN`: on the
    /// writer's own SQLite connection, where a statement costs no round
    /// trip but each such list is a temporary b-tree SQLite builds and
    /// tears down (~12,000 instructions), and only for a few rows. A
    /// statement a row costs a few thousand instructions more than a row
    /// of one statement, so somewhere past a few dozen rows one statement
    /// is cheaper again (estimated from callgrind's counts, not measured).
    pub(crate) fn one_at_a_time(&self, rows: usize) -> bool {
        const UP_TO: usize = 16;
        matches!(self, WriteConn::Direct(_)) && rows <= UP_TO
    }

    /// How many of `rows` rows to list after `IN` in one statement, at most
    /// `most`: one, found by key, where [`WriteConn::one_at_a_time`] says so.
    pub(crate) fn rows_per_statement(&self, rows: usize, most: usize) -> usize {
        if self.one_at_a_time(rows) {
            1
        } else {
            most
        }
    }

    /// Runs `q`; the number of rows it changed.
    pub(crate) async fn execute(&mut self, q: &Sql) -> Result<u64> {
        match self {
            WriteConn::Sqlx(c) => Ok(q.query().execute(&mut **c).await?.rows_affected()),
            WriteConn::Direct(c) => c.execute(q),
        }
    }

    /// Runs the `INSERT` `q`, written without `RETURNING`, and answers each
    /// row's rowid in the order of its rows, where that is cheaper than
    /// `RETURNING` (the writer's own SQLite connection:
    /// [`DirectConn::inserted_rowids`]). `None`, having run nothing,
    /// elsewhere: the caller asks with `RETURNING`.
    pub(crate) fn inserted_rowids(&mut self, q: &Sql) -> Result<Option<Vec<i64>>> {
        match self {
            WriteConn::Sqlx(_) => Ok(None),
            WriteConn::Direct(c) => c.inserted_rowids(q),
        }
    }

    /// Runs `q`; every row it answered.
    pub(crate) async fn fetch_all<T>(&mut self, q: &Sql) -> Result<Vec<T>>
    where
        T: for<'r> FromRow<'r, AnyRow> + Send + Unpin,
    {
        match self {
            WriteConn::Sqlx(c) => Ok(q.query_as().fetch_all(&mut **c).await?),
            WriteConn::Direct(c) => Ok(c
                .rows(q)?
                .iter()
                .map(T::from_row)
                .collect::<std::result::Result<_, _>>()?),
        }
    }
}
