use dutyhook_domain::DomainError;
use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("{0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// The database cannot be reached or cannot write: not the caller's
    /// fault, and over when the database is back.
    #[error("{0}")]
    Unavailable(String),
    /// An error of the SQLite writer's own connection (`direct.rs`).
    #[error("database error: {0}")]
    Sqlite(String),
    #[error("migration failed: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("unsupported database URL {0:?}: use sqlite://FILE or postgres://…")]
    UnsupportedUrl(String),
    #[error("the change was not saved: {0}")]
    Commit(String),
    #[error("the database writer has stopped")]
    Closed,
    /// A backup that cannot be made as asked (the reason says what to do).
    #[error("{0}")]
    Backup(String),
    /// A secret is sealed with a key this process does not hold.
    #[error("{0}")]
    WrongKey(String),
}

impl StoreError {
    pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
        e.as_database_error()
            .is_some_and(|d| d.is_unique_violation())
    }

    /// Maps a unique violation to `Conflict` with a message a person can act on.
    pub(crate) fn conflict_or(e: sqlx::Error, message: impl FnOnce() -> String) -> Self {
        if Self::is_unique_violation(&e) {
            StoreError::Conflict(message())
        } else {
            e.into()
        }
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match unavailability(&e) {
            Some(cause) => StoreError::Unavailable(cause),
            None => StoreError::Database(e),
        }
    }
}

/// Why the database cannot be used, when an error says so: it cannot be
/// reached, it is shutting down or starting, or it cannot write (a full
/// disk, an I/O error, a read-only replica).
pub(crate) fn unavailability(e: &sqlx::Error) -> Option<String> {
    let unreachable =
        |detail: &dyn std::fmt::Display| Some(format!("the database cannot be reached: {detail}"));
    match e {
        sqlx::Error::Io(io) => unreachable(io),
        sqlx::Error::Tls(t) => unreachable(t),
        sqlx::Error::PoolTimedOut => unreachable(&"no connection could be made in time"),
        sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => unreachable(e),
        sqlx::Error::Database(db) => {
            let code = db.code().unwrap_or_default();
            if db.try_downcast_ref::<sqlx::sqlite::SqliteError>().is_some() {
                // Primary result codes (the low byte of an extended one).
                let primary = code.parse::<i64>().map(|c| c & 0xff).unwrap_or(-1);
                sqlite_unavailability(primary, db)
            } else {
                match code.as_ref() {
                    "53100" => Some(format!(
                        "the database cannot write: the disk is full ({db})"
                    )),
                    "25006" => Some(format!("the database cannot write: it is read-only ({db})")),
                    c if c.starts_with("08")
                        || c.starts_with("57P")
                        || c.starts_with("53")
                        || c.starts_with("58") =>
                    {
                        Some(format!("the database is unavailable: {db}"))
                    }
                    _ => None,
                }
            }
        }
        _ => None,
    }
}

/// Why SQLite cannot be used, by the primary result code of its error.
fn sqlite_unavailability(primary: i64, detail: &dyn std::fmt::Display) -> Option<String> {
    match primary {
        13 => Some(format!(
            "the database cannot write: the disk is full ({detail})"
        )),
        10 => Some(format!(
            "the database cannot write: disk I/O error ({detail})"
        )),
        8 => Some(format!(
            "the database cannot write: it is read-only ({detail})"
        )),
        14 => Some(format!("the database file cannot be opened ({detail})")),
        5 | 6 => Some(format!(
            "the database is locked by another process ({detail})"
        )),
        _ => None,
    }
}

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        let primary = match &e {
            rusqlite::Error::SqliteFailure(f, _) => i64::from(f.extended_code & 0xff),
            _ => -1,
        };
        match sqlite_unavailability(primary, &e) {
            Some(cause) => StoreError::Unavailable(cause),
            None => StoreError::Sqlite(e.to_string()),
        }
    }
}

impl From<serde_json::Error> for StoreError {
    fn from(e: serde_json::Error) -> Self {
        StoreError::Corrupt(e.to_string())
    }
}
