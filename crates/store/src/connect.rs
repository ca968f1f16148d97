//! Opening a store: the pools, the migrations, the key for its secrets, and
//! what runs beside it (WAL checkpoints on SQLite; LISTEN and the liveness
//! of processes on PostgreSQL).

use std::sync::Arc;
use std::time::Duration;

use sqlx::any::AnyPoolOptions;

use crate::dialect::{CHANGES_CHANNEL, DELIVERIES_CHANNEL};
use crate::kept::Generation;
use crate::secrets::Keyring;
use crate::store::SqlStore;
use crate::topology::Backend;
use crate::{Result, Store, StoreError};

/// The file of a SQLite URL (`sqlite://dutyhook.db?mode=rwc` → `dutyhook.db`);
/// `None` for an in-memory database.
pub fn sqlite_path(url: &str) -> Option<std::path::PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && !path.contains(":memory:")).then(|| path.into())
}

/// The default key file of a SQLite database: `FILE.key` beside it.
pub fn sqlite_key_path(url: &str) -> Option<std::path::PathBuf> {
    let mut file = sqlite_path(url)?.into_os_string();
    file.push(".key");
    Some(file.into())
}

/// The keys of a database: those given, or (SQLite only) the key file
/// beside it, created on first use.
fn keyring_for(url: &str, backend: Backend, given: Option<Keyring>) -> Result<Keyring> {
    if let Some(keys) = given {
        return Ok(keys);
    }
    match backend {
        Backend::Sqlite => match sqlite_key_path(url) {
            Some(file) => Keyring::from_file_or_new(&file).map_err(StoreError::WrongKey),
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
        Backend::Sqlite => {
            let (write, read, side) = crate::sqlite::pools(url).await?;
            SqlStore::new(backend, write, read, Some(side), keys)
        }
        Backend::Postgres => {
            let pool = AnyPoolOptions::new()
                .max_connections(16)
                // A database that is down answers within a second
                // (ServiceUnavailable) instead of making every call wait.
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect(url)
                .await?;
            crate::migrations::migrator(Backend::Postgres)
                .run(&pool)
                .await?;
            let store = SqlStore::new(backend, pool.clone(), pool, None, keys);
            tokio::spawn(listen_to_others(
                url.to_string(),
                store.writer.token().to_string(),
                store.remote.clone(),
                store.writer.generation().clone(),
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

/// Listens for other processes' commits: wakes `remote` when they queued
/// deliveries, advances `generation` when they made a rare change.
/// Reconnects after a lost connection (the dispatcher's polling covers the
/// gap; nothing kept is used meanwhile).
async fn listen_to_others(
    url: String,
    token: String,
    remote: Arc<tokio::sync::Notify>,
    generation: Generation,
) {
    loop {
        match sqlx::postgres::PgListener::connect(&url).await {
            Ok(mut l) => {
                if let Err(e) = l.listen_all([DELIVERIES_CHANNEL, CHANGES_CHANNEL]).await {
                    tracing::warn!(error = %e, "LISTEN failed; polling only until it works");
                } else {
                    generation.hearing();
                    loop {
                        // Not `recv`, which reconnects unseen and drops what
                        // was sent meanwhile: a loss must be known here.
                        match l.try_recv().await {
                            Ok(Some(n)) if n.payload() == token => {}
                            Ok(Some(n)) if n.channel() == CHANGES_CHANNEL => generation.advance(),
                            Ok(Some(_)) => remote.notify_one(),
                            Ok(None) => {
                                generation.deaf();
                                tracing::warn!("LISTEN connection lost; reconnecting");
                                break;
                            }
                            Err(e) => {
                                generation.deaf();
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
