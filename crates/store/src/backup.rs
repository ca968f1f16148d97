//! An online, consistent copy of a SQLite database (`VACUUM INTO`): taken
//! in one read transaction while `serve` keeps writing, into a new file.

use std::path::Path;

use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{ConnectOptions, Connection};

use crate::connect::sqlite_path;
use crate::{Result, StoreError};

/// Copies the SQLite database at `url` to `to`, which must not exist yet.
/// Answers the size of the copy in bytes.
pub async fn backup_sqlite(url: &str, to: &Path) -> Result<u64> {
    let from = sqlite_path(url).ok_or_else(|| {
        // Not the URL: a PostgreSQL one may hold a password.
        StoreError::Backup(
            "only a SQLite database is copied this way; for PostgreSQL use pg_dump".into(),
        )
    })?;
    if !from.exists() {
        return Err(StoreError::Backup(format!(
            "no database at {}",
            from.display()
        )));
    }
    if to.exists() {
        return Err(StoreError::Backup(format!(
            "{} exists already: name a new file",
            to.display()
        )));
    }
    let mut conn = SqliteConnectOptions::new()
        .filename(&from)
        .read_only(true)
        .busy_timeout(std::time::Duration::from_secs(10))
        .connect()
        .await?;
    sqlx::query("VACUUM INTO ?")
        .bind(to.to_string_lossy().to_string())
        .execute(&mut conn)
        .await?;
    conn.close().await?;
    Ok(std::fs::metadata(to).map(|m| m.len()).unwrap_or(0))
}
