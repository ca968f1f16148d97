//! Opening a SQLite database: one writing connection, four reading ones,
//! the pragmas each needs, and the `synchronous` level a URL may choose.

use std::str::FromStr;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{AnyPool, Executor};

use crate::direct::{DirectConn, Log};
use crate::topology::Backend;
use crate::writer::SqliteSide;
use crate::{Result, StoreError};

pub(crate) fn sqlite_url(url: &str) -> String {
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
            conn.execute(connection_pragmas(sync).as_str()).await?;
            Ok(())
        })
    }
}

fn connection_pragmas(sync: &str) -> String {
    format!(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous={sync}; PRAGMA busy_timeout=10000; \
         PRAGMA foreign_keys=ON;"
    )
}

/// Checkpoints run beside the writer (`checkpoints`), not in its commits;
/// temporary b-trees in memory, not in files; a log file that one huge
/// transaction grew past the limit is cut back to it at the next restart;
/// 8 MiB of pages kept instead of 2: over 100,000 creates to 10 webhooks
/// the writer's pushes a second fell by a quarter as the tables grew (its
/// pages read again from the file), and held within 10 % with 8 MiB, for
/// 4-7 MB more memory at the peak (16 MiB: no faster, 13 MB more).
const WRITER_PRAGMAS: &str = "PRAGMA wal_autocheckpoint=0; PRAGMA temp_store=MEMORY; \
                              PRAGMA cache_size=-8192; PRAGMA journal_size_limit=67108864;";

/// The embedded store's pools, migrated: one writing connection, four
/// reading ones; and what only the SQLite writer has: the flag by which the
/// checkpointer (started here) asks it to start the log over, and its own
/// connection (a file's, not an in-memory database's).
pub(crate) async fn pools(url: &str) -> Result<(AnyPool, AnyPool, SqliteSide)> {
    crate::direct::stop_counting_memory();
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
    crate::migrations::migrator(Backend::Sqlite)
        .run(&write)
        .await?;
    let wal_restart = Arc::new(AtomicBool::new(false));
    tokio::spawn(crate::wal::checkpoints(read.clone(), wal_restart.clone()));
    // A second connection to an in-memory database would open another one.
    let direct = if url.contains(":memory:") || url.contains("mode=memory") {
        None
    } else {
        let file = SqliteConnectOptions::from_str(&sqlite_url(&url))?
            .get_filename()
            .to_owned();
        let pragmas = format!("{}{WRITER_PRAGMAS}", connection_pragmas(sync));
        let log = match sync {
            "FULL" => Log::Gathered,
            _ => Log::AsWritten,
        };
        Some(DirectConn::open(&file, &pragmas, log)?)
    };
    Ok((
        write,
        read,
        SqliteSide {
            wal_restart,
            direct,
        },
    ))
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

    #[tokio::test]
    async fn the_writer_gathers_its_log_only_where_every_commit_syncs_it() {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        for (query, gathered) in [("", true), ("&synchronous=normal", false)] {
            let url = format!(
                "sqlite://{}/{gathered}.db?mode=rwc{query}",
                dir.path().display()
            );
            let (write, read, side) = pools(&url).await.unwrap();
            let direct = side.direct.expect("a file's database");
            assert_eq!(direct.log_writes().is_some(), gathered, "{url}");
            write.close().await;
            read.close().await;
        }
    }
}
