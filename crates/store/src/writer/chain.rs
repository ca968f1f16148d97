//! PostgreSQL: a batch of batch jobs only runs its transaction in plain SQL,
//! so that its commit can begin the next batch's transaction in the same
//! round trip when more jobs are waiting. Every round trip of a batch is
//! one the cluster's lock is held for, and under load a round trip on a
//! busy machine costs more than the statement it carries (measured at 16
//! clients creating incidents: five round trips a batch, the `BEGIN` with
//! the lock 0.6-0.9 ms and the commit 0.5-0.8 ms of 3.5-5.6 ms).
//!
//! sqlx counts no transaction on the connection meanwhile: batches with
//! generic jobs, whose savepoints sqlx makes, begin theirs through sqlx
//! (`batch::run_sqlx`) after giving back one begun here.

use futures_util::TryStreamExt;
use sqlx::any::AnyRow;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Either, Row};

use crate::dialect;
use crate::subscribers::Subscribers;
use crate::Result;

/// The writer's sqlx connection, kept from batch to batch, and on
/// PostgreSQL the transaction the last batch began on it as it committed.
#[derive(Default)]
pub(crate) struct Held {
    pub conn: Option<PoolConnection<Any>>,
    pub open: Option<Open>,
}

/// A transaction begun for the next batch, with its settings.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Open {
    /// Whether it holds the cluster's lock.
    locked: bool,
    /// The count of committed rare changes, read under the lock when held.
    changes: i64,
}

/// What a commit left on the connection.
pub(crate) enum AfterCommit {
    /// No transaction.
    Idle,
    /// The next batch's.
    Open(Open),
    /// The commit went through but the next transaction failed to begin:
    /// the connection must not be used again.
    Broken,
}

impl Held {
    /// The connection, taken from `pool` when there is none.
    pub(crate) async fn connection(&mut self, pool: &AnyPool) -> Result<&mut PoolConnection<Any>> {
        if self.conn.is_none() {
            self.conn = Some(pool.acquire().await?);
        }
        Ok(self.conn.as_mut().expect("just taken"))
    }

    /// Rolls back a transaction begun for a batch that will not use it,
    /// letting go of the lock.
    pub(crate) async fn give_back(&mut self) -> Result<()> {
        if self.open.take().is_some() {
            if let Some(conn) = self.conn.as_mut() {
                sqlx::raw_sql("ROLLBACK").execute(&mut **conn).await?;
            }
        }
        Ok(())
    }
}

/// Begins the batch's transaction on `conn`, or takes up `open`, and holds
/// the lock; forgets the subscriptions kept if a rare change committed
/// since they were read. Answers whether the plans are made again.
pub(crate) async fn begin(
    conn: &mut AnyConnection,
    open: Option<Open>,
    replan: bool,
    subscribers: &mut Subscribers,
) -> Result<bool> {
    let (changes, replanned) = match open {
        Some(Open {
            locked: true,
            changes,
        }) => (changes, false),
        Some(Open { locked: false, .. }) => {
            let rows = script(conn, &dialect::lock_postgres_reading()).await?;
            (changes_read(&rows)?, false)
        }
        None => {
            let rows = script(conn, &dialect::begin_postgres_reading(replan)).await?;
            (changes_read(&rows)?, replan)
        }
    };
    if subscribers.kept_at().is_some_and(|at| at != changes) {
        tracing::debug!("subscriptions kept are stale; reading them again");
        subscribers.forget();
    }
    Ok(replanned)
}

/// Commits the transaction open on `conn`, telling the other processes of
/// queued deliveries when `notify` names this process, and with `next`
/// (whether to plan again) begins the next batch's. `Err` only when the
/// commit failed.
pub(crate) async fn commit(
    conn: &mut AnyConnection,
    notify: Option<&str>,
    next: Option<bool>,
) -> Result<AfterCommit> {
    let sql = dialect::commit_postgres(notify, next);
    let commit_is = usize::from(notify.is_some());
    let mut answers = sqlx::raw_sql(&sql).fetch_many(&mut *conn);
    let mut done = 0;
    let mut rows = vec![];
    loop {
        match answers.try_next().await {
            Ok(Some(Either::Left(_))) => done += 1,
            Ok(Some(Either::Right(row))) => rows.push(row),
            Ok(None) => break,
            Err(e) if done <= commit_is => return Err(e.into()),
            Err(e) => {
                tracing::warn!(error = %e, "the next write batch failed to begin");
                return Ok(AfterCommit::Broken);
            }
        }
    }
    if next.is_none() {
        return Ok(AfterCommit::Idle);
    }
    // The notification's row first, if any.
    let rows = &rows[commit_is..];
    let opened = rows
        .first()
        .ok_or_else(|| unexpected("no row for the lock"))
        .and_then(|row| Ok(row.try_get::<bool, _>(0)?))
        .and_then(|locked| {
            Ok(Open {
                locked,
                changes: changes_read(rows)?,
            })
        });
    Ok(match opened {
        Ok(open) => AfterCommit::Open(open),
        Err(e) => {
            tracing::warn!(error = %e, "the next write batch's transaction answered oddly");
            AfterCommit::Broken
        }
    })
}

/// The rows `sql` answered, every statement of it run.
async fn script(conn: &mut AnyConnection, sql: &str) -> Result<Vec<AnyRow>> {
    Ok(sqlx::raw_sql(sql).fetch_all(&mut *conn).await?)
}

/// The count of rare changes: the second row of a begin's script.
fn changes_read(rows: &[AnyRow]) -> Result<i64> {
    let row = rows
        .get(1)
        .ok_or_else(|| unexpected("no row for the count of rare changes"))?;
    Ok(row.try_get::<i64, _>(0)?)
}

fn unexpected(what: &str) -> crate::StoreError {
    sqlx::Error::Protocol(format!("a batch's begin answered {what}")).into()
}

#[cfg(test)]
#[path = "chain_tests.rs"]
mod tests;
