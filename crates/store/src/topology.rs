//! Which database this is, and what that means for the processes using it.

use crate::{Result, StoreError};

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
            // The scheme alone: the rest may hold a password.
            let scheme = url.split_once(':').map_or(url, |(scheme, _)| scheme);
            Err(StoreError::UnsupportedUrl(format!("{scheme}:")))
        }
    }
}

impl Backend {
    /// Whether one process owns the database (SQLite), so that whatever it
    /// finds leased at start is its own, from before a crash; otherwise
    /// (PostgreSQL) other processes may hold leases.
    pub fn owned_by_one_process(self) -> bool {
        self == Backend::Sqlite
    }
}
