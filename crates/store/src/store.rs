//! `SqlStore`: the one implementation of [`Store`], over either database.

use std::collections::HashMap;

use std::sync::Arc;

use async_trait::async_trait;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool};

use dutyhook_domain::field::FieldDef;

use crate::dialect::lock_key;
use crate::kept::Kept;
use crate::secrets::Keyring;
use crate::sql::Sql;
use crate::topology::Backend;
use crate::writer::{SinkSlot, SqliteSide, Writer};
use crate::{Claimer, PersonRecord, Result, Store, StoreError};

pub struct SqlStore {
    pub(crate) backend: Backend,
    /// Every change goes through the writer (see `writer.rs`).
    pub(crate) writer: Writer,
    /// The writer's own pool: SQLite one connection; PostgreSQL shared with `read`.
    pub(crate) write: AnyPool,
    pub(crate) read: AnyPool,
    sink: SinkSlot,
    /// Woken when another process committed deliveries (PostgreSQL NOTIFY).
    pub(crate) remote: Arc<tokio::sync::Notify>,
    /// Connections holding a cluster-wide lock per background role.
    leaders: tokio::sync::Mutex<HashMap<String, PoolConnection<Any>>>,
    /// When this process opened the database (ms).
    pub(crate) started_at: i64,
    /// Set once `close` began: no session lock is taken any more.
    pub(crate) closing: std::sync::atomic::AtomicBool,
    /// Seals and opens the secrets of integrations.
    pub(crate) keys: Keyring,
    /// Reads kept in memory while every change is heard of (`kept.rs`).
    pub(crate) kept: KeptReads,
}

/// What `kept` holds: callers by key hash, and the custom field definitions.
pub(crate) struct KeptReads {
    pub(crate) callers: Kept<String, PersonRecord>,
    pub(crate) fields: Kept<(), Vec<FieldDef>>,
}

impl SqlStore {
    pub(crate) fn new(
        backend: Backend,
        write: AnyPool,
        read: AnyPool,
        sqlite: Option<SqliteSide>,
        keys: Keyring,
    ) -> SqlStore {
        let sink: SinkSlot = Default::default();
        let token = format!("{:016x}", rand::random::<u64>());
        let writer = Writer::start(write.clone(), backend, sink.clone(), token.clone(), sqlite);
        let kept = KeptReads {
            callers: Kept::new(writer.generation().clone()),
            fields: Kept::new(writer.generation().clone()),
        };
        SqlStore {
            kept,
            backend,
            writer,
            write,
            read,
            sink,
            remote: Default::default(),
            leaders: Default::default(),
            started_at: crate::sql::now_ms(),
            closing: Default::default(),
            keys,
        }
    }
}

/// Statements of rare changes, run by the writer in a savepoint of its next batch.
impl SqlStore {
    /// Runs one statement through the writer; answers the rows it changed.
    pub(crate) async fn exec(&self, q: Sql) -> Result<u64> {
        self.exec_marked(q, true).await
    }

    /// As `exec`, for bookkeeping that changes nothing kept in memory
    /// (`kept.rs`): history prunes, circuits, leases, presses' keys.
    pub(crate) async fn exec_outside_kept(&self, q: Sql) -> Result<u64> {
        self.exec_marked(q, false).await
    }

    async fn exec_marked(&self, q: Sql, may_change_kept: bool) -> Result<u64> {
        self.writer
            .tx_marked(
                move |c| {
                    let q = q.clone();
                    Box::pin(async move { Ok(q.query().execute(&mut *c).await?.rows_affected()) })
                },
                may_change_kept,
            )
            .await
    }

    /// Runs statements one after another in one savepoint of the next batch.
    pub(crate) async fn exec_all(&self, statements: Vec<Sql>) -> Result<()> {
        self.writer
            .tx(move |c| {
                let statements = statements.clone();
                Box::pin(async move {
                    for q in &statements {
                        q.query().execute(&mut *c).await?;
                    }
                    Ok(())
                })
            })
            .await
    }

    /// As [`Self::exec`], with a unique violation reported as `Conflict(message)`.
    pub(crate) async fn exec_or_conflict(&self, q: Sql, message: String) -> Result<u64> {
        self.writer
            .tx(move |c| {
                let (q, message) = (q.clone(), message.clone());
                Box::pin(async move {
                    let done = q
                        .query()
                        .execute(&mut *c)
                        .await
                        .map_err(|e| StoreError::conflict_or(e, || message))?;
                    Ok(done.rows_affected())
                })
            })
            .await
    }
}

#[async_trait]
impl Store for SqlStore {
    fn backend(&self) -> Backend {
        self.backend
    }

    async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.read).await?;
        Ok(())
    }

    async fn health(&self) -> Result<()> {
        self.ping().await?;
        self.beat().await.map(|_| ())
    }

    fn remote_commits(&self) -> Arc<tokio::sync::Notify> {
        self.remote.clone()
    }

    fn processes(&self) -> i64 {
        self.writer.processes()
    }

    async fn try_lead(&self, role: &str) -> Result<bool> {
        if self.backend == Backend::Sqlite {
            return Ok(true);
        }
        let mut leaders = self.leaders.lock().await;
        // A connection taken now would keep the pool from closing.
        if self.closing.load(std::sync::atomic::Ordering::Relaxed) {
            return Ok(false);
        }
        if let Some(conn) = leaders.get_mut(role) {
            // Still ours while the session that took the lock is alive.
            if sqlx::query("SELECT 1").execute(&mut **conn).await.is_ok() {
                return Ok(true);
            }
            leaders.remove(role);
        }
        let mut conn = self.read.acquire().await?;
        let (got,): (bool,) = sqlx::query_as("SELECT pg_try_advisory_lock($1)")
            .bind(lock_key(role))
            .fetch_one(&mut *conn)
            .await?;
        if got {
            leaders.insert(role.to_string(), conn);
        }
        Ok(got)
    }

    fn attach_claimer(&self, sink: std::sync::Weak<dyn Claimer>) {
        *self.sink.lock().expect("sink lock") = Some(sink);
    }

    async fn close(&self) {
        // Held connections would keep the pool from closing; dropping them
        // ends the sessions and with them the background roles' locks.
        self.closing
            .store(true, std::sync::atomic::Ordering::Relaxed);
        for (_, mut conn) in self.leaders.lock().await.drain() {
            // Give the roles up at once, not whenever the session ends: a
            // returned connection may outlive the pool's close for a while.
            let _ = sqlx::query("SELECT pg_advisory_unlock_all()")
                .execute(&mut *conn)
                .await;
        }
        self.writer.close().await;
        self.write.close().await;
        self.read.close().await;
    }
}
