//! How the writer gathers a batch from the jobs waiting for it.

use std::time::Duration;

use tokio::sync::mpsc;

use super::jobs::{Batch, Job};
use crate::topology::Backend;

/// Jobs per transaction: large enough to amortise a commit, small enough that
/// one batch never holds the writer for long.
const MAX_BATCH: usize = 1000;

/// PostgreSQL: how long a batch of a few jobs waits for more before it
/// begins. Each batch costs five round trips whatever its size (~1.5 ms of
/// a 2 ms batch of 16 jobs at one webhook), and under load the callers the
/// last batch answered come back within a fraction of a millisecond: a
/// batch that begins at once leaves them to the one after it. Measured at
/// one webhook (16 clients, 10 s runs, 4 pairs alternating): 4,436–4,563
/// pushes/s against 3,818–4,129 without, the median latency 3.4–3.6 ms
/// against 4.0–4.2. A batch of many jobs gains nothing by waiting (ten
/// webhooks, ~88 jobs a batch: 3 % fewer pushes when it waited too), and
/// one of three jobs or fewer is not under load. PostgreSQL's own `commit_delay`
/// does the same, for the same reason.
const LINGER: Duration = Duration::from_micros(150);
/// The batches that wait [`LINGER`]: from this many jobs…
const LINGER_FROM: usize = 4;
/// …to under this many.
const LINGER_UNDER: usize = 32;

/// Whether a batch of `jobs` jobs gathered so far waits [`LINGER`] for more.
fn lingers(backend: Backend, jobs: usize) -> bool {
    backend == Backend::Postgres && (LINGER_FROM..LINGER_UNDER).contains(&jobs)
}

/// Adds the jobs waiting to `batch`, up to [`MAX_BATCH`].
fn take_waiting(batch: &mut Batch, rx: &mut mpsc::Receiver<Job>) {
    while batch.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(job) => batch.add(job),
            Err(_) => break,
        }
    }
}

/// Adds the jobs waiting to `batch` (which holds the first), and on
/// PostgreSQL, where a batch of a few [`lingers`], those that come meanwhile.
pub(super) fn gather(batch: &mut Batch, rx: &mut mpsc::Receiver<Job>, backend: Backend) {
    take_waiting(batch, rx);
    if lingers(backend, batch.len()) {
        // A thread's sleep, not tokio's, whose timer counts whole ms: the
        // writer's thread runs nothing but the writer.
        std::thread::sleep(LINGER);
        take_waiting(batch, rx);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_postgres_batch_of_a_few_jobs_lingers() {
        for jobs in [0, 1, 3, 32, 88, 1000] {
            assert!(!lingers(Backend::Postgres, jobs), "{jobs} jobs");
        }
        for jobs in [4, 16, 31] {
            assert!(lingers(Backend::Postgres, jobs), "{jobs} jobs");
            assert!(!lingers(Backend::Sqlite, jobs), "{jobs} jobs on SQLite");
        }
    }
}
