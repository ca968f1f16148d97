//! The one writer of a process: every change to the database goes through a
//! single task that gathers the changes of many concurrent callers into one
//! transaction (group commit) and answers each caller once it has committed.
//!
//! Why: on SQLite every statement sqlx runs is a round trip to the
//! connection's thread (measured here: ~70 µs a statement, ~300 µs a commit),
//! while a multi-row statement costs ~3.5 µs a row. So the frequent changes —
//! incident operations, delivery completions, claims — are batch jobs whose
//! rows from all callers go into a handful of multi-row statements; rare
//! changes (people, channels, integrations) are closures run in a savepoint
//! of the same transaction. Alert ingestion is a batch job too: a storm is
//! thousands of small requests a second.
//!
//! The writer runs on a thread and runtime of its own. On the shared runtime
//! each statement's answer queued behind every ready push task before the
//! batch could go on (measured at 500 events/s to 10 endpoints on a saturated
//! 2-core machine: p50 660-2,634 ms from call to arrival, against 62-114 ms
//! on its own thread). What it hands to the dispatcher is spawned on the
//! dispatcher's runtime.
//!
//! On PostgreSQL each batch first takes one cluster-wide advisory lock, so the
//! batches of several processes apply one after another: no deadlocks between
//! them, and the FIFO bookkeeping of deliveries needs no finer locks. Pushes,
//! which take the time, run outside any transaction, in every process.

mod batch;
mod gather;
pub(crate) mod jobs;

use std::any::Any;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Any as AnyDb, AnyConnection, AnyPool};
use tokio::sync::{mpsc, oneshot};

pub(crate) use jobs::{
    Answer, Batch, BoxFut, CompleteJob, Failure, IngestJob, Job, MutateJob, Step, TxJob,
};

use crate::direct::DirectConn;
use crate::kept::Generation;
use crate::subscribers::Subscribers;
use crate::topology::Backend;
use crate::{Claimer, Result, StoreError};

pub(crate) type SinkSlot = Arc<Mutex<Option<Weak<dyn Claimer>>>>;

/// The handle callers hold; the task runs until every handle is dropped.
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
    /// This process's name in NOTIFY payloads and on the leases it holds.
    token: Arc<str>,
    /// Advanced by every committed batch that made a rare change.
    generation: Generation,
    /// How many other processes share the database, as the last beat saw
    /// (PostgreSQL; -1 until it has looked): only when there are any is
    /// anyone listening for the deliveries a batch queued.
    peers: Arc<AtomicI64>,
}

/// Jobs waiting beyond this many make callers wait: back-pressure instead of
/// an unbounded queue in memory.
const QUEUE: usize = 8192;
/// After the database could not be reached or could not write, batches
/// fail at once for this long instead of each waiting to fail: callers get
/// a fast answer, and the database is not hammered while it recovers.
const PAUSE_WHEN_UNAVAILABLE: Duration = Duration::from_millis(250);
/// PostgreSQL: how long the writer's statements keep their plans, made for
/// the tables' sizes of when they were made (`dialect::begin_postgres`).
/// Planning them all again takes a few ms.
const PLAN_LIFETIME: Duration = Duration::from_secs(1);

/// What only the SQLite writer has.
pub(crate) struct SqliteSide {
    /// Set when the log should be started over between two batches.
    pub wal_restart: Arc<AtomicBool>,
    /// The writer's own connection, for batches of batch jobs only.
    pub direct: Option<DirectConn>,
}

impl Writer {
    pub(crate) fn start(
        pool: AnyPool,
        backend: Backend,
        sink: SinkSlot,
        token: String,
        sqlite: Option<SqliteSide>,
    ) -> Writer {
        let (wal_restart, direct) = match sqlite {
            Some(side) => (Some(side.wal_restart), side.direct),
            None => (None, None),
        };
        let (jobs, rx) = mpsc::channel(QUEUE);
        let token: Arc<str> = token.into();
        let own_token = token.clone();
        let generation = Generation::new(backend.owned_by_one_process());
        let own_generation = generation.clone();
        let peers = Arc::new(AtomicI64::new(-1));
        let own_peers = peers.clone();
        // A thread and runtime of its own: on the shared runtime, each
        // statement of a batch, once answered, waited for a worker behind
        // every ready push task, and every change waits for the batch.
        std::thread::Builder::new()
            .name("dutyhook-writer".into())
            .spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("the writer's runtime builds")
                    .block_on(
                        Loop {
                            pool,
                            backend,
                            sink,
                            token: own_token,
                            generation: own_generation,
                            peers: own_peers,
                            subscribers: Default::default(),
                            held: None,
                            replan_at: Instant::now(),
                            direct,
                            paused: None,
                        }
                        .run(rx, wal_restart),
                    )
            })
            .expect("the writer's thread starts");
        Writer {
            jobs,
            token,
            generation,
            peers,
        }
    }

    pub(crate) fn token(&self) -> &str {
        &self.token
    }

    pub(crate) fn generation(&self) -> &Generation {
        &self.generation
    }

    /// How many other processes are alive on the database, as last seen.
    pub(crate) fn set_peers(&self, alive: usize) {
        self.peers.store(alive as i64, Ordering::Relaxed);
    }

    /// This process and the others it last saw alive on the database.
    pub(crate) fn processes(&self) -> i64 {
        1 + self.peers.load(Ordering::Relaxed).max(0)
    }

    /// Stops the writer once what is queued is written; later jobs fail
    /// with `Closed`.
    pub(crate) async fn close(&self) {
        let (tx, rx) = oneshot::channel();
        if self.jobs.send(Job::Close(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }

    pub(crate) async fn send(&self, job: Job) -> Result<()> {
        self.jobs.send(job).await.map_err(|_| StoreError::Closed)
    }

    /// Runs `f` inside the next batch's transaction (in a savepoint) and
    /// answers its value once the batch has committed. `f` may run more
    /// than once (see `jobs`), each time from the start.
    pub(crate) async fn tx<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut AnyConnection) -> BoxFut<'c, Result<T>> + Send + 'static,
    {
        self.tx_marked(f, true).await
    }

    /// As `tx`, for a change of nothing any process keeps in memory
    /// (`kept.rs`): the liveness beat, every second, would otherwise make
    /// every process forget what it keeps.
    pub(crate) async fn tx_outside_kept<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut AnyConnection) -> BoxFut<'c, Result<T>> + Send + 'static,
    {
        self.tx_marked(f, false).await
    }

    /// `tx` or `tx_outside_kept`, as `may_change_kept` says.
    pub(crate) async fn tx_marked<T, F>(&self, f: F, may_change_kept: bool) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> Fn(&'c mut AnyConnection) -> BoxFut<'c, Result<T>> + Send + 'static,
    {
        let (answer, rx) = Answer::new();
        let run: jobs::TxFn = Box::new(move |conn| {
            let fut = f(conn);
            Box::pin(async move { fut.await.map(|v| Box::new(v) as Box<dyn Any + Send>) })
        });
        self.send(Job::Tx(TxJob {
            run,
            answer,
            may_change_kept,
        }))
        .await?;
        let value = rx.await.map_err(|_| StoreError::Closed)??;
        Ok(*value
            .downcast::<T>()
            .expect("a transaction answers the type it was asked for"))
    }
}

/// The writer's task and what it keeps between batches.
struct Loop {
    pool: AnyPool,
    backend: Backend,
    sink: SinkSlot,
    token: Arc<str>,
    generation: Generation,
    peers: Arc<AtomicI64>,
    /// The webhooks' subscriptions, kept between batches while no rare
    /// change may have touched them (SQLite).
    subscribers: Subscribers,
    /// Kept from batch to batch: acquiring from the pool tests the
    /// connection with a round trip of its own (measured on SQLite under
    /// load: a batch's begin took 0.45 ms at the median, 0.33 ms without).
    held: Option<PoolConnection<AnyDb>>,
    /// When the statements on `held` are next planned again.
    replan_at: Instant,
    /// SQLite: the connection batch jobs are written on (`direct.rs`).
    direct: Option<DirectConn>,
    /// Until when batches fail at once, and why.
    paused: Option<(Instant, String)>,
}

impl Loop {
    async fn run(mut self, mut rx: mpsc::Receiver<Job>, wal_restart: Option<Arc<AtomicBool>>) {
        while let Some(first) = rx.recv().await {
            let mut batch = Batch::default();
            batch.add(first);
            gather::gather(&mut batch, &mut rx, self.backend);
            let closes = std::mem::take(&mut batch.closes);
            if batch.len() > 0 {
                self.write(batch).await;
            }
            if let Some(due) = &wal_restart {
                if due.swap(false, Ordering::Relaxed) {
                    self.restart_wal().await;
                }
            }
            if !closes.is_empty() {
                // The pool's close waits for every connection to come back.
                // Closed here rather than dropped: a dropped one goes back to
                // the pool from a task of this thread's runtime, which ends now.
                self.drop_connection().await;
                // Closed before the answer too, so that the file is let go
                // of by the time the caller hears it.
                self.direct = None;
                for c in closes {
                    let _ = c.send(());
                }
                break;
            }
        }
    }

    /// Writes a batch and answers every job of it, whatever happens.
    async fn write(&mut self, batch: Batch) {
        if let Some((until, cause)) = &self.paused {
            if Instant::now() < *until {
                batch.fail(&Failure::Unavailable(cause.clone()));
                return;
            }
        }
        let jobs = batch.len();
        let started = Instant::now();
        let failure = match self.attempt(&batch).await {
            Ok(()) => {
                tracing::trace!(
                    jobs,
                    micros = started.elapsed().as_micros() as u64,
                    "write batch"
                );
                return;
            }
            Err(failure) => failure,
        };
        let batch = batch.unanswered();
        match failure {
            Failure::Unavailable(cause) => {
                tracing::error!(jobs, %cause, "the database is unavailable; nothing of the batch was written");
                batch.fail(&Failure::Unavailable(cause.clone()));
                self.paused = Some((Instant::now() + PAUSE_WHEN_UNAVAILABLE, cause));
            }
            Failure::Rejected(cause) if batch.len() <= 1 => {
                tracing::error!(%cause, "a write failed; nothing of it was written");
                batch.fail(&Failure::Rejected(cause));
            }
            Failure::Rejected(cause) => {
                // One job's data broke the batch: each job again on its own,
                // so that only the one at fault fails.
                tracing::warn!(jobs = batch.len(), %cause, "a write batch failed; writing its jobs one by one");
                for solo in batch.one_by_one() {
                    if let Err(failure) = self.attempt(&solo).await {
                        tracing::error!(?failure, "a write failed; nothing of it was written");
                        solo.unanswered().fail(&failure);
                    }
                }
            }
        }
    }

    /// One run of a batch: answers its jobs when it commits; on failure
    /// leaves the jobs not yet answered for the caller to settle.
    async fn attempt(&mut self, batch: &Batch) -> Result<(), Failure> {
        let sink = self
            .sink
            .lock()
            .expect("sink lock")
            .as_ref()
            .and_then(Weak::upgrade);
        // The claimer's budget is read here, before the transaction opens:
        // nothing of delivery runs while it is open.
        let budget = sink.as_ref().map(|s| s.budget(crate::sql::now_ms()));
        // Rare changes may touch subscriptions (another process's: the
        // batch checks as it begins, `subscribers.rs`).
        if batch.changes_kept() {
            self.subscribers.forget();
        }
        let replan = Instant::now() >= self.replan_at;
        let outcome = batch::run(
            &self.pool,
            &mut self.held,
            self.direct.as_mut(),
            batch::Work {
                backend: self.backend,
                batch,
                budget: budget.as_ref(),
                token: &self.token,
                // Until the first beat has looked, others may be there.
                peers: self.peers.load(Ordering::Relaxed) != 0,
                replan,
            },
            &mut self.subscribers,
        )
        .await;
        if outcome.is_err() || batch.changes_kept() {
            self.subscribers.forget();
        }
        match outcome {
            Ok(done) => {
                self.paused = None;
                if replan {
                    self.replan_at = Instant::now() + PLAN_LIFETIME;
                }
                if batch.changes_kept() {
                    self.generation.advance();
                }
                let n = done.claimed.len();
                for reply in done.replies {
                    reply();
                }
                if let Some(sink) = sink {
                    if !done.claimed.is_empty() {
                        sink.take(done.claimed);
                    }
                }
                for tick in &batch.ticks {
                    tick.send(Ok(n));
                }
                tracing::trace!(events = done.effects.events, "batch committed");
                Ok(())
            }
            Err(e) => {
                // After a failed commit the connection may still think a
                // transaction is open (SQLite rolls back by itself on a full
                // disk, and the ROLLBACK sqlx then sends fails): a new one
                // starts clean.
                self.drop_connection().await;
                if let Some(direct) = self.direct.as_mut() {
                    direct.reopen();
                }
                Err(match e {
                    StoreError::Unavailable(cause) => Failure::Unavailable(cause),
                    other => Failure::Rejected(other.to_string()),
                })
            }
        }
    }

    /// `restart_wal`, on the connection the writer writes batch jobs with.
    async fn restart_wal(&mut self) {
        match self.direct.as_mut() {
            Some(direct) => {
                let started = Instant::now();
                log_checkpoint(direct.checkpoint(), started);
            }
            None => restart_wal(&mut self.held).await,
        }
    }

    async fn drop_connection(&mut self) {
        if let Some(conn) = self.held.take() {
            match tokio::time::timeout(Duration::from_secs(2), conn.close()).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => tracing::debug!(error = %e, "closing the writer's connection"),
                Err(_) => tracing::debug!("closing the writer's connection timed out"),
            }
        }
    }
}

/// Copies what is left of the log into the database from the writer's own
/// connection, between two batches: no write is open, so the checkpoint
/// completes, and the next write starts the log over from its beginning
/// instead of growing it. Readers beside it are never waited for; one that
/// holds an old snapshot only postpones the restart.
pub(crate) async fn restart_wal(held: &mut Option<PoolConnection<AnyDb>>) {
    let Some(conn) = held.as_mut() else { return };
    let started = std::time::Instant::now();
    let copied = sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(&mut **conn)
        .await
        .map(|(_, frames, copied)| (frames, copied))
        .map_err(StoreError::from);
    log_checkpoint(copied, started);
}

fn log_checkpoint(copied: Result<(i64, i64)>, started: Instant) {
    match copied {
        Ok((frames, copied)) => tracing::debug!(
            frames,
            copied,
            micros = started.elapsed().as_micros() as u64,
            "WAL checkpointed by the writer"
        ),
        Err(e) => tracing::warn!(error = %e, "the writer's WAL checkpoint failed"),
    }
}

#[cfg(test)]
pub(crate) mod tests;
