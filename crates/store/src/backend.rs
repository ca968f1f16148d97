//! What differs between the two databases: how to connect, how writes are
//! serialised, how rows are locked, which migrations run.

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::writer::{SinkSlot, Writer};
use crate::{ClaimSink, Result, Store, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn of_url(url: &str) -> Result<Self> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::UnsupportedUrl(url.to_string()))
        }
    }
}

pub struct SqlStore {
    pub(crate) backend: Backend,
    /// Every change goes through the writer (see `writer.rs`).
    pub(crate) writer: Writer,
    /// The writer's own pool: SQLite one connection; PostgreSQL shared with `read`.
    write: AnyPool,
    pub(crate) read: AnyPool,
    pub(crate) notify: Arc<tokio::sync::Notify>,
    sink: SinkSlot,
}

impl SqlStore {
    fn new(backend: Backend, write: AnyPool, read: AnyPool) -> SqlStore {
        let notify: Arc<tokio::sync::Notify> = Default::default();
        let sink: SinkSlot = Default::default();
        let writer = Writer::start(write.clone(), backend, sink.clone(), notify.clone());
        SqlStore {
            backend,
            writer,
            write,
            read,
            notify,
            sink,
        }
    }
}

fn sqlite_url(url: &str) -> String {
    // Create the file when missing, as `serve` promises.
    if url.contains('?') || url.contains(":memory:") {
        url.to_string()
    } else {
        format!("{url}?mode=rwc")
    }
}

type ConnectFuture<'c> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), sqlx::Error>> + Send + 'c>>;

fn sqlite_pragmas(
    conn: &mut sqlx::AnyConnection,
    _meta: sqlx::pool::PoolConnectionMetadata,
) -> ConnectFuture<'_> {
    Box::pin(async move {
        // FULL: a committed event survives a power cut, not only a process crash.
        // A 64 MiB page cache: the default 2 MiB makes every batch re-read the
        // delivery and alert indexes from the OS (measured: pread was the
        // writer's largest cost during an alert storm).
        conn.execute("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA busy_timeout=10000; PRAGMA foreign_keys=ON; PRAGMA cache_size=-65536;")
            .await?;
        Ok(())
    })
}

/// Copies the write-ahead log into the database file from a reading
/// connection, twice a second. Left to SQLite, the checkpoint runs inside the
/// writer's commit every 1,000 pages and stalls every write behind it
/// (measured: commits of 6 ms instead of 0.6 ms during an alert storm).
async fn checkpoints(read: sqlx::AnyPool) {
    let mut tick = tokio::time::interval(Duration::from_millis(500));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !read.is_closed() {
        tick.tick().await;
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&read)
            .await
        {
            if !read.is_closed() {
                tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
            }
        }
    }
}

/// Opens (creating a SQLite file if needed) and migrates the database at `url`.
pub async fn open(url: &str) -> Result<Arc<dyn Store>> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of_url(url)?;
    let store = match backend {
        Backend::Sqlite => {
            let opts = AnyConnectOptions::from_str(&sqlite_url(url))?;
            let write = AnyPoolOptions::new()
                .max_connections(1)
                .after_connect(|conn, meta| {
                    Box::pin(async move {
                        sqlite_pragmas(conn, meta).await?;
                        // Checkpoints run beside the writer (`checkpoints`), not in its commits.
                        conn.execute("PRAGMA wal_autocheckpoint=0;").await?;
                        Ok(())
                    })
                })
                .connect_with(opts.clone())
                .await?;
            let read = AnyPoolOptions::new()
                .max_connections(4)
                .after_connect(sqlite_pragmas)
                .connect_with(opts)
                .await?;
            sqlx::migrate!("./migrations/sqlite").run(&write).await?;
            tokio::spawn(checkpoints(read.clone()));
            SqlStore::new(backend, write, read)
        }
        Backend::Postgres => {
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                .acquire_timeout(Duration::from_secs(10))
                .connect(url)
                .await?;
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
            SqlStore::new(backend, pool.clone(), pool)
        }
    };
    Ok(Arc::new(store))
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

    fn events_committed(&self) -> Arc<tokio::sync::Notify> {
        self.notify.clone()
    }

    fn attach_claimer(&self, sink: std::sync::Weak<dyn ClaimSink>) {
        *self.sink.lock().expect("sink lock") = Some(sink);
    }

    async fn close(&self) {
        self.write.close().await;
        self.read.close().await;
    }
}
