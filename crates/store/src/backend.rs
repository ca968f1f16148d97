//! What differs between the two databases: how to connect, how writes are
//! serialised, how rows are locked, which migrations run.

use std::collections::HashMap;
use std::str::FromStr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Executor};

use crate::secrets::Keyring;
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
    sink: SinkSlot,
    /// Woken when another process committed deliveries (PostgreSQL NOTIFY).
    remote: Arc<tokio::sync::Notify>,
    /// Connections holding a cluster-wide lock per background role.
    leaders: tokio::sync::Mutex<HashMap<String, PoolConnection<Any>>>,
    /// When this process opened the database (ms).
    pub(crate) started_at: i64,
    /// Set once `close` began: no session lock is taken any more.
    pub(crate) closing: std::sync::atomic::AtomicBool,
    /// Seals and opens the secrets of integrations.
    pub(crate) keys: Keyring,
}

impl SqlStore {
    fn new(
        backend: Backend,
        write: AnyPool,
        read: AnyPool,
        wal_restart: Option<Arc<AtomicBool>>,
        keys: Keyring,
    ) -> SqlStore {
        let sink: SinkSlot = Default::default();
        let token = format!("{:016x}", rand::random::<u64>());
        let writer = Writer::start(
            write.clone(),
            backend,
            sink.clone(),
            token.clone(),
            wal_restart,
        );
        SqlStore {
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

    /// Holds, for as long as this process lives, the session lock by which
    /// the others know it is alive (see `nodes`).
    pub(crate) async fn hold_session_lock(&self) -> Result<()> {
        let role = crate::nodes::node_role(self.writer.token());
        if self.try_lead(&role).await? {
            Ok(())
        } else {
            Err(StoreError::Corrupt(format!("another process holds {role}")))
        }
    }
}

/// The PostgreSQL channel on which a process announces committed deliveries;
/// the payload is the sender's token, so a process ignores its own.
pub(crate) const DELIVERIES_CHANNEL: &str = "dutyhook_deliveries";

/// Listens for other processes' commits and wakes `remote`; reconnects after
/// a lost connection (the dispatcher's polling covers the gap).
async fn listen_for_deliveries(url: String, token: String, remote: Arc<tokio::sync::Notify>) {
    loop {
        match sqlx::postgres::PgListener::connect(&url).await {
            Ok(mut l) => {
                if let Err(e) = l.listen(DELIVERIES_CHANNEL).await {
                    tracing::warn!(error = %e, "LISTEN failed; polling only until it works");
                } else {
                    loop {
                        match l.recv().await {
                            Ok(n) if n.payload() != token => remote.notify_one(),
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "LISTEN connection lost; reconnecting");
                                break;
                            }
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot connect for LISTEN; retrying"),
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// A stable 63-bit key for an advisory lock named `role`.
pub(crate) fn lock_key(role: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("dutyhook:{role}").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h >> 1) as i64
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

/// `synchronous=normal|full` in a SQLite URL is ours, not sqlx's: it is
/// taken out of the URL and applied as a pragma on every connection.
fn split_synchronous(url: &str) -> Result<(String, &'static str)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), "FULL"));
    };
    let mut sync = "FULL";
    let mut rest = vec![];
    for param in query.split('&') {
        match param.split_once('=') {
            Some(("synchronous", v)) => {
                sync = match v.to_ascii_lowercase().as_str() {
                    "normal" => "NORMAL",
                    "full" => "FULL",
                    _ => {
                        return Err(StoreError::UnsupportedUrl(format!(
                            "{url}: synchronous must be normal or full"
                        )))
                    }
                }
            }
            _ => rest.push(param),
        }
    }
    let url = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((url, sync))
}

/// FULL (the default): every commit is on disk before anyone is answered, so
/// an accepted event survives a crash of the machine too (`delivery.md`,
/// "Nothing is lost"). NORMAL keeps commits across a process crash only; it
/// is there for those who accept that trade (docs/decisions.md, "Storage").
fn sqlite_pragmas(
    sync: &'static str,
) -> impl Fn(&mut sqlx::AnyConnection, sqlx::pool::PoolConnectionMetadata) -> ConnectFuture<'_>
       + Send
       + Sync
       + 'static {
    move |conn, _meta| {
        Box::pin(async move {
            conn.execute(
                format!(
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA busy_timeout=10000; \
                     PRAGMA foreign_keys=ON;"
                )
                .as_str(),
            )
            .await?;
            Ok(())
        })
    }
}

/// Checkpoints run beside the writer (`checkpoints`), not in its commits;
/// temporary b-trees in memory, not in files; a log file that one huge
/// transaction grew past the limit is cut back to it at the next restart.
const WRITER_PRAGMAS: &str = "PRAGMA wal_autocheckpoint=0; PRAGMA temp_store=MEMORY; \
                              PRAGMA journal_size_limit=67108864;";

/// Copies the write-ahead log into the database file from a reading
/// connection, twice a second. Left to SQLite, the checkpoint runs inside the
/// writer's commit every 1,000 pages and stalls every write behind it
/// (measured: commits of 6 ms instead of 0.6 ms during an alert storm).
/// Past `WAL_RESTART_FRAMES` it asks the writer to start the log over
/// between two batches (`wal_restart`), which takes it a few milliseconds
/// since these checkpoints have copied nearly all of it already.
async fn checkpoints(read: sqlx::AnyPool, wal_restart: Arc<AtomicBool>) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !read.is_closed() {
        tick.tick().await;
        match checkpoint_once(&read, WAL_FRAMES_LIMIT).await {
            Ok(frames) if frames > WAL_RESTART_FRAMES => {
                wal_restart.store(true, std::sync::atomic::Ordering::Relaxed)
            }
            Ok(_) => {}
            Err(e) => {
                if !read.is_closed() {
                    tracing::warn!(error = %e, "WAL checkpoint failed; retrying");
                }
            }
        }
    }
}

const CHECKPOINT_EVERY: Duration = Duration::from_millis(500);

/// Frames (pages) past which the writer starts the log over: 16 MiB of
/// 4 KiB pages.
const WAL_RESTART_FRAMES: i64 = 4_096;

/// Frames past which the checkpointer restarts the log itself, waiting for
/// the writer's batch: only if the writer's restarts do not take (a reader
/// keeping an old snapshot). 64 MiB.
const WAL_FRAMES_LIMIT: i64 = 16_384;

/// A passive checkpoint, which never waits for the writer. While writes never
/// pause it cannot catch up, so SQLite never restarts the log and the file
/// grows without end; past `frames_limit` a restarting checkpoint (which
/// waits for the writer's current batch) copies the rest and makes the next
/// write start the log over, in the same file. Answers the frames the log
/// held. Truncating the file instead cost 35-40 ms of a stalled writer each
/// time (the file given back, then grown again block by block): p99 of the
/// 500 events/s benchmark 50 ms against 10 ms with restarts.
async fn checkpoint_once(read: &sqlx::AnyPool, frames_limit: i64) -> Result<i64> {
    use sqlx::Row;
    let row = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(read)
        .await?;
    let frames: i64 = row.try_get(1).unwrap_or(0);
    if frames > frames_limit {
        let started = std::time::Instant::now();
        sqlx::query("PRAGMA wal_checkpoint(RESTART)")
            .execute(read)
            .await?;
        tracing::debug!(
            frames,
            millis = started.elapsed().as_millis() as u64,
            "WAL restarted"
        );
    }
    Ok(frames)
}

/// The file of a SQLite URL (`sqlite://dutyhook.db?mode=rwc` → `dutyhook.db`);
/// `None` for an in-memory database.
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| path.into())
}

/// The keys of a database: those given, or (SQLite only) the key file
/// beside it, created on first use.
fn keyring_for(url: &str, backend: Backend, given: Option<Keyring>) -> Result<Keyring> {
    if let Some(keys) = given {
        return Ok(keys);
    }
    match backend {
        Backend::Sqlite => match sqlite_path(url) {
            Some(db) => {
                let mut file = db.into_os_string();
                file.push(".key");
                Keyring::from_file_or_new(std::path::Path::new(&file)).map_err(StoreError::WrongKey)
            }
            None => Ok(Keyring::parse(&crate::secrets::generate_key()).expect("a fresh key")),
        },
        Backend::Postgres => Err(StoreError::WrongKey(
            "PostgreSQL needs a secret key for the secrets it stores, the same for every \
             process: set DUTYHOOK_SECRET_KEY or secret_key_file (make one with \
             `dutyhook secret-key generate`)"
                .into(),
        )),
    }
}

/// The embedded store: one writing connection, four reading ones.
async fn open_sqlite(url: &str, keys: Keyring) -> Result<SqlStore> {
    let (url, sync) = split_synchronous(url)?;
    let opts = AnyConnectOptions::from_str(&sqlite_url(&url))?;
    let write = AnyPoolOptions::new()
        .max_connections(1)
        .after_connect(move |conn, meta| {
            Box::pin(async move {
                sqlite_pragmas(sync)(conn, meta).await?;
                conn.execute(WRITER_PRAGMAS).await?;
                Ok(())
            })
        })
        .connect_with(opts.clone())
        .await?;
    let read = AnyPoolOptions::new()
        .max_connections(4)
        .after_connect(sqlite_pragmas(sync))
        .connect_with(opts)
        .await?;
    sqlx::migrate!("./migrations/sqlite").run(&write).await?;
    let wal_restart = Arc::new(AtomicBool::new(false));
    tokio::spawn(checkpoints(read.clone(), wal_restart.clone()));
    Ok(SqlStore::new(
        Backend::Sqlite,
        write,
        read,
        Some(wal_restart),
        keys,
    ))
}

/// Opens (creating a SQLite file if needed) and migrates the database at
/// `url`. `keys` seal the secrets it stores; without them a SQLite database
/// uses the key file beside it (`FILE.key`, created on first use), and
/// PostgreSQL refuses to open.
pub async fn open(url: &str, keys: Option<Keyring>) -> Result<Arc<dyn Store>> {
    Ok(open_sql(url, keys).await?)
}

pub(crate) async fn open_sql(url: &str, keys: Option<Keyring>) -> Result<Arc<SqlStore>> {
    sqlx::any::install_default_drivers();
    let backend = Backend::of_url(url)?;
    let keys = keyring_for(url, backend, keys)?;
    let store = match backend {
        Backend::Sqlite => open_sqlite(url, keys).await?,
        Backend::Postgres => {
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                // A database that is down answers within a second
                // (ServiceUnavailable) instead of making every call wait.
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect(url)
                .await?;
            sqlx::migrate!("./migrations/postgres").run(&pool).await?;
            let store = SqlStore::new(backend, pool.clone(), pool, None, keys);
            tokio::spawn(listen_for_deliveries(
                url.to_string(),
                store.writer.token().to_string(),
                store.remote.clone(),
            ));
            store
        }
    };
    let store = Arc::new(store);
    store.reseal_integrations().await?;
    if backend == Backend::Postgres {
        tokio::spawn(crate::nodes::keep_alive(Arc::downgrade(&store)));
    }
    Ok(store)
}

/// How long a call waits for a PostgreSQL connection before it is told the
/// database is unavailable.
const ACQUIRE_TIMEOUT: Duration = Duration::from_millis(750);

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

    fn attach_claimer(&self, sink: std::sync::Weak<dyn ClaimSink>) {
        *self.sink.lock().expect("sink lock") = Some(sink);
    }

    async fn close(&self) {
        // Held connections would keep the pool from closing; dropping them
        // ends the sessions and with them the background roles' locks.
        self.closing
            .store(true, std::sync::atomic::Ordering::Relaxed);
        self.leaders.lock().await.clear();
        self.writer.close().await;
        self.write.close().await;
        self.read.close().await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn synchronous_is_taken_out_of_the_url() {
        let cases = [
            ("sqlite://a.db", "sqlite://a.db", "FULL"),
            ("sqlite://a.db?synchronous=full", "sqlite://a.db", "FULL"),
            (
                "sqlite://a.db?mode=rwc&synchronous=Normal",
                "sqlite://a.db?mode=rwc",
                "NORMAL",
            ),
            (
                "sqlite://a.db?synchronous=full&mode=ro",
                "sqlite://a.db?mode=ro",
                "FULL",
            ),
        ];
        for (url, rest, sync) in cases {
            assert_eq!(
                split_synchronous(url).unwrap(),
                (rest.to_string(), sync),
                "{url}"
            );
        }
        let err = split_synchronous("sqlite://a.db?synchronous=off").unwrap_err();
        assert!(err.to_string().contains("normal or full"), "{err}");
    }

    /// Found by the soak: under writes that never pause, a passive
    /// checkpoint never catches up, the log is never restarted, and the WAL
    /// file grew to 500 MB in 20 minutes. Past the limit the checkpointer
    /// waits for the writer's open transaction and restarts the log. Before
    /// that limit the writer's own checkpoint between two batches does.
    #[tokio::test]
    async fn a_wal_past_its_limit_is_restarted_even_while_a_write_is_open() {
        sqlx::any::install_default_drivers();
        let dir = std::env::temp_dir().join(format!("dutyhook-wal-{}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).unwrap();
        let db = dir.join("w.db");
        let opts = AnyConnectOptions::from_str(&sqlite_url(&format!("sqlite://{}", db.display())))
            .unwrap();
        let write = AnyPoolOptions::new()
            .max_connections(1)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0;")
                        .await?;
                    Ok(())
                })
            })
            .connect_with(opts.clone())
            .await
            .unwrap();
        let read = AnyPoolOptions::new()
            .max_connections(2)
            .after_connect(|conn, _| {
                Box::pin(async move {
                    conn.execute("PRAGMA busy_timeout=10000;").await?;
                    Ok(())
                })
            })
            .connect_with(opts)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE t (v TEXT)")
            .execute(&write)
            .await
            .unwrap();
        let insert = |n: usize| {
            (0..n)
                .map(|i| format!("INSERT INTO t VALUES ('{}');", "x".repeat(4000 + i)))
                .collect::<String>()
        };

        // Under the limit: a passive checkpoint only.
        sqlx::raw_sql(&insert(300)).execute(&write).await.unwrap();
        assert!(checkpoint_once(&read, 1_000_000).await.unwrap() > 300);

        // A write is open (as the writer's batches always are under load)
        // while the log is past the limit.
        sqlx::raw_sql(&insert(300)).execute(&write).await.unwrap();
        let mut open = write.begin().await.unwrap();
        sqlx::raw_sql(&insert(300))
            .execute(&mut *open)
            .await
            .unwrap();
        let checkpoint = tokio::spawn({
            let read = read.clone();
            async move { checkpoint_once(&read, 100).await.unwrap() }
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        open.commit().await.unwrap();
        assert!(checkpoint.await.unwrap() > 300);

        // The next write starts the log over: it holds only that write.
        sqlx::raw_sql(&insert(5)).execute(&write).await.unwrap();
        let frames = checkpoint_once(&read, i64::MAX).await.unwrap();
        assert!(frames < 50, "the log was not restarted: {frames} frames");

        // The writer's checkpoint between two batches: the batch after it
        // starts the log over, with no checkpoint from anyone else.
        let mut held = Some(write.acquire().await.unwrap());
        sqlx::raw_sql(&insert(300))
            .execute(&mut **held.as_mut().unwrap())
            .await
            .unwrap();
        crate::writer::restart_wal(&mut held).await;
        sqlx::raw_sql(&insert(5))
            .execute(&mut **held.as_mut().unwrap())
            .await
            .unwrap();
        drop(held);
        let frames = checkpoint_once(&read, i64::MAX).await.unwrap();
        assert!(
            frames < 50,
            "the writer did not restart the log: {frames} frames"
        );

        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM t")
            .fetch_one(&read)
            .await
            .unwrap();
        assert_eq!(n, 1210, "nothing was lost");
        write.close().await;
        read.close().await;
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[tokio::test]
    async fn the_chosen_synchronous_level_is_applied() {
        sqlx::any::install_default_drivers();
        let dir = std::env::temp_dir().join(format!("dutyhook-sync-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for (sync, level) in [("NORMAL", 1), ("FULL", 2)] {
            let url = format!("sqlite://{}/{sync}.db?mode=rwc", dir.display());
            let pool = AnyPoolOptions::new()
                .max_connections(1)
                .after_connect(sqlite_pragmas(sync))
                .connect(&url)
                .await
                .unwrap();
            let (got,): (i64,) = sqlx::query_as("PRAGMA synchronous")
                .fetch_one(&pool)
                .await
                .unwrap();
            assert_eq!(got, level, "{sync}");
            pool.close().await;
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
