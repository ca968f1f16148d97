//! SQLite's write-ahead log: copied into the database file beside the
//! writer, and started over between two of its batches.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use crate::Result;

/// Copies the write-ahead log into the database file from a reading
/// connection, four times a second. Left to SQLite, the checkpoint runs
/// inside the writer's commit every 1,000 pages and stalls every write
/// behind it (measured: commits of 6 ms instead of 0.6 ms during an alert
/// storm). Past `WAL_RESTART_FRAMES` it asks the writer to start the log
/// over between two batches (`wal_restart`): these checkpoints have copied
/// nearly all of it already, so the writer's takes milliseconds, mostly
/// the database file's fsync.
pub(crate) async fn checkpoints(read: sqlx::AnyPool, wal_restart: Arc<AtomicBool>) {
    let mut tick = tokio::time::interval(CHECKPOINT_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    while !read.is_closed() {
        tick.tick().await;
        match checkpoint_once(&read, WAL_FRAMES_LIMIT).await {
            Ok(frames) if frames > WAL_RESTART_FRAMES => {
                catch_up(&read, frames).await;
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

/// A short log is cheaper to read and to start over: with checkpoints
/// twice a second and restarts past 16 MiB, 500 creates/s to 10 webhooks
/// had a p99 of 7.9-9.9 ms from create to push, against 6.2-7.4 ms at this
/// pace (and 19-20 ms with 64 MiB; docs/benchmarks.md).
const CHECKPOINT_EVERY: Duration = Duration::from_millis(250);

/// Frames (pages) past which the writer starts the log over: 8 MiB of
/// 4 KiB pages. Each restart holds the writer for milliseconds (8-9 ms
/// under 10 webhooks' full load, mostly the database file's fsync).
const WAL_RESTART_FRAMES: i64 = 2_048;

/// Frames past which the checkpointer restarts the log itself, waiting for
/// the writer's batch: only if the writer's restarts do not take (a reader
/// keeping an old snapshot). 64 MiB.
const WAL_FRAMES_LIMIT: i64 = 16_384;

/// Passive checkpoints again while each finds the log grown by more than
/// `CATCH_UP_FRAMES` since the one before, at most `CATCH_UP_ROUNDS`
/// times: what the writer's own checkpoint then copies, and syncs, on its
/// serial time is only what the last of them had no time to see. Measured
/// at 16 clients creating incidents: one checkpoint of ~11,000 frames took
/// 9-14 ms, in which the writer wrote ~400 more, and the writer's restart
/// that copied those held it 6-9 ms, four times a second.
async fn catch_up(read: &sqlx::AnyPool, mut frames: i64) {
    for round in 1..=CATCH_UP_ROUNDS {
        match checkpoint_once(read, i64::MAX).await {
            Ok(now) if now - frames > CATCH_UP_FRAMES => frames = now,
            Ok(now) => {
                tracing::debug!(round, frames = now, "WAL caught up");
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "WAL catch-up checkpoint failed");
                return;
            }
        }
    }
    tracing::debug!(frames, "WAL not caught up");
}

/// Frames written since the last checkpoint below which the writer's own
/// copies them in well under a millisecond.
const CATCH_UP_FRAMES: i64 = 64;

/// Each round is bounded by the database file's fsync; past a few, a disk
/// slower than the writer only delays the restart.
const CATCH_UP_ROUNDS: usize = 3;

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

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
    use sqlx::Executor;

    use super::*;

    struct Pools {
        /// Removed, with the database, when the test ends, passed or not.
        _dir: tempfile::TempDir,
        db: std::path::PathBuf,
        write: sqlx::AnyPool,
        read: sqlx::AnyPool,
    }

    /// A fresh database with a table `t`: one connection that writes, as
    /// the writer's, and a pool that reads and checkpoints.
    async fn pools() -> Pools {
        sqlx::any::install_default_drivers();
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("w.db");
        let opts = AnyConnectOptions::from_str(&crate::sqlite::sqlite_url(&format!(
            "sqlite://{}",
            db.display()
        )))
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
        Pools {
            _dir: dir,
            db,
            write,
            read,
        }
    }

    /// Rows of about a page each.
    fn insert(n: usize) -> String {
        (0..n)
            .map(|i| format!("INSERT INTO t VALUES ('{}');", "x".repeat(4000 + i)))
            .collect()
    }

    /// What was written while the checkpoint that found the log long ran
    /// is copied before the writer is asked to restart it, so that the
    /// writer's own checkpoint has little left to copy and sync.
    #[tokio::test]
    async fn the_checkpointer_catches_up_before_the_writer_restarts() {
        let Pools {
            _dir,
            db,
            write,
            read,
        } = pools().await;
        sqlx::raw_sql(&insert(300)).execute(&write).await.unwrap();
        let found = checkpoint_once(&read, i64::MAX).await.unwrap();
        sqlx::raw_sql(&insert(300)).execute(&write).await.unwrap();
        let before = std::fs::metadata(&db).unwrap().len();

        catch_up(&read, found).await;

        let after = std::fs::metadata(&db).unwrap().len();
        assert!(
            after >= before + 250 * 4096,
            "the later frames were not copied: {before} bytes, then {after}"
        );
        write.close().await;
        read.close().await;
    }

    /// Found by the soak: under writes that never pause, a passive
    /// checkpoint never catches up, the log is never restarted, and the WAL
    /// file grew to 500 MB in 20 minutes. Past the limit the checkpointer
    /// waits for the writer's open transaction and restarts the log. Before
    /// that limit the writer's own checkpoint between two batches does.
    #[tokio::test]
    async fn a_wal_past_its_limit_is_restarted_even_while_a_write_is_open() {
        let Pools {
            _dir,
            db: _,
            write,
            read,
        } = pools().await;
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
    }
}
