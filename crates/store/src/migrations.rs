//! The schema migrations of each database, embedded in the binary (listed by
//! `build.rs`), run by sqlx's migrator: one transaction each, never twice,
//! checksums compared with what a database already applied.

use std::borrow::Cow;

use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::topology::Backend;

mod files {
    include!(concat!(env!("OUT_DIR"), "/migrations.rs"));
}

/// Every migration of `backend`'s set.
pub(crate) fn migrator(backend: Backend) -> Migrator {
    migrator_upto(backend, i64::MAX)
}

/// The migrations of `backend`'s set up to `version` (upgrade tests).
pub(crate) fn migrator_upto(backend: Backend, version: i64) -> Migrator {
    let files = match backend {
        Backend::Sqlite => files::SQLITE,
        Backend::Postgres => files::POSTGRES,
    };
    let migrations = files
        .iter()
        .filter(|(v, _, _)| *v <= version)
        .map(|&(v, description, sql)| {
            let no_tx = sql.starts_with("-- no-transaction");
            Migration::new(
                v,
                Cow::Borrowed(description),
                MigrationType::Simple,
                Cow::Borrowed(sql),
                no_tx,
            )
        })
        .collect::<Vec<_>>();
    Migrator {
        migrations: Cow::Owned(migrations),
        ..Migrator::DEFAULT
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What sqlx itself reads from the directory (as its `migrate!` does) is
    /// what the binary carries: same versions, descriptions and checksums, so
    /// a database migrated by an earlier build is recognised.
    #[tokio::test]
    async fn embedded_migrations_are_the_files_as_sqlx_reads_them() {
        for (backend, dir) in [(Backend::Sqlite, "sqlite"), (Backend::Postgres, "postgres")] {
            let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("migrations")
                .join(dir);
            let read = Migrator::new(path).await.unwrap();
            let ours = migrator(backend);
            let summary = |m: &Migrator| {
                m.iter()
                    .map(|x| {
                        (
                            x.version,
                            x.description.to_string(),
                            x.checksum.to_vec(),
                            x.no_tx,
                        )
                    })
                    .collect::<Vec<_>>()
            };
            assert_eq!(summary(&ours), summary(&read), "{dir}");
            assert!(ours.iter().count() >= 13, "{dir}");
        }
    }
}
