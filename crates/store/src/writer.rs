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

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, Weak};

use dutyhook_domain::alert::{AlertEvent, Source};
use dutyhook_domain::incident::Incident;
use dutyhook_domain::recorder::Recorder;
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool, Connection};
use tokio::sync::{mpsc, oneshot};

use crate::backend::Backend;
use crate::{ClaimSink, IncidentOp, Result, StoreError};

pub(crate) type BoxFut<'c, T> = Pin<Box<dyn Future<Output = T> + Send + 'c>>;

/// Tells a caller how its job ended, once the batch has committed or failed.
pub(crate) type Reply = Box<dyn FnOnce(Result<(), String>) + Send>;

/// Statements of a rare change. `Err(())` means the closure already told its
/// caller what went wrong; its savepoint is rolled back.
pub(crate) type TxFn =
    Box<dyn for<'c> FnOnce(&'c mut AnyConnection) -> BoxFut<'c, Result<Reply, ()>> + Send>;

pub(crate) struct MutateJob {
    pub ids: Vec<String>,
    pub rec: Recorder,
    pub op: IncidentOp,
    pub reply: oneshot::Sender<Result<Vec<Incident>>>,
}

pub(crate) struct IngestJob {
    pub source: Source,
    pub events: Vec<AlertEvent>,
    pub rec: Recorder,
    /// The alert keys of `events`, in order.
    pub reply: oneshot::Sender<Result<Vec<String>>>,
}

pub(crate) struct CompleteJob {
    pub rows: Vec<crate::deliveries::Settlement>,
    pub reply: oneshot::Sender<Result<()>>,
}

pub(crate) enum Job {
    Tx(TxFn),
    Mutate(MutateJob),
    Ingest(Box<IngestJob>),
    Complete(CompleteJob),
    /// Claim due deliveries for the attached dispatcher now.
    Tick(oneshot::Sender<Result<usize>>),
    /// Finish what is queued, give the connection back and stop.
    Close(oneshot::Sender<()>),
}

/// Jobs of one batch, sorted by kind.
#[derive(Default)]
pub(crate) struct Batch {
    pub txs: Vec<TxFn>,
    pub mutations: Vec<MutateJob>,
    pub ingests: Vec<IngestJob>,
    pub completions: Vec<CompleteJob>,
    pub ticks: Vec<oneshot::Sender<Result<usize>>>,
    pub closes: Vec<oneshot::Sender<()>>,
}

impl Batch {
    fn add(&mut self, job: Job) {
        match job {
            Job::Tx(f) => self.txs.push(f),
            Job::Mutate(m) => self.mutations.push(m),
            Job::Ingest(i) => self.ingests.push(*i),
            Job::Complete(c) => self.completions.push(c),
            Job::Tick(t) => self.ticks.push(t),
            Job::Close(c) => self.closes.push(c),
        }
    }

    fn len(&self) -> usize {
        self.txs.len()
            + self.mutations.len()
            + self.ingests.len()
            + self.completions.len()
            + self.ticks.len()
    }
}

/// What a committed batch changed, for those who wait on it.
#[derive(Default)]
pub(crate) struct Effects {
    pub events: usize,
    /// Deliveries that may have become due (new, promoted, released).
    pub deliveries_moved: bool,
}

pub(crate) type SinkSlot = Arc<Mutex<Option<Weak<dyn ClaimSink>>>>;

/// The handle callers hold; the task runs until every handle is dropped.
#[derive(Clone)]
pub(crate) struct Writer {
    jobs: mpsc::Sender<Job>,
    /// This process's name in NOTIFY payloads.
    token: Arc<str>,
}

/// Jobs waiting beyond this many make callers wait: back-pressure instead of
/// an unbounded queue in memory.
const QUEUE: usize = 8192;
/// Jobs per transaction: large enough to amortise a commit, small enough that
/// one batch never holds the writer for long.
const MAX_BATCH: usize = 1000;

impl Writer {
    /// `wal_restart` (SQLite): set when the log should be started over
    /// between two batches.
    pub(crate) fn start(
        pool: AnyPool,
        backend: Backend,
        sink: SinkSlot,
        token: String,
        wal_restart: Option<Arc<AtomicBool>>,
    ) -> Writer {
        let (jobs, rx) = mpsc::channel(QUEUE);
        let token: Arc<str> = token.into();
        let own_token = token.clone();
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
                    .block_on(run(pool, backend, sink, own_token, rx, wal_restart))
            })
            .expect("the writer's thread starts");
        Writer { jobs, token }
    }

    pub(crate) fn token(&self) -> &str {
        &self.token
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
    /// answers its value once the batch has committed.
    pub(crate) async fn tx<T, F>(&self, f: F) -> Result<T>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut AnyConnection) -> BoxFut<'c, Result<T>> + Send + 'static,
    {
        let (tx, rx) = oneshot::channel::<Result<T>>();
        let job: TxFn = Box::new(move |conn| {
            Box::pin(async move {
                match f(conn).await {
                    Ok(v) => Ok(Box::new(move |committed: Result<(), String>| {
                        let _ = tx.send(committed.map(|()| v).map_err(StoreError::Commit));
                    }) as Reply),
                    Err(e) => {
                        let _ = tx.send(Err(e));
                        Err(())
                    }
                }
            })
        });
        self.send(Job::Tx(job)).await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }
}

async fn run(
    pool: AnyPool,
    backend: Backend,
    sink: SinkSlot,
    token: Arc<str>,
    mut rx: mpsc::Receiver<Job>,
    wal_restart: Option<Arc<AtomicBool>>,
) {
    // Kept from batch to batch: acquiring from the pool tests the connection
    // with a round trip of its own (measured on SQLite under load: a batch's
    // begin took 0.45 ms at the median, 0.33 ms without). After a failed
    // batch it goes back, and a tested one is taken.
    let mut held: Option<PoolConnection<Any>> = None;
    while let Some(first) = rx.recv().await {
        let mut batch = Batch::default();
        batch.add(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.add(job),
                Err(_) => break,
            }
        }
        let closes = std::mem::take(&mut batch.closes);
        if batch.len() > 0 {
            let sink = sink
                .lock()
                .expect("sink lock")
                .as_ref()
                .and_then(Weak::upgrade);
            let jobs = batch.len();
            let started = std::time::Instant::now();
            let effects =
                run_batch(&pool, &mut held, backend, batch, sink.as_deref(), &token).await;
            tracing::trace!(
                jobs,
                events = effects.events,
                micros = started.elapsed().as_micros() as u64,
                "write batch"
            );
        }
        if let Some(due) = &wal_restart {
            if due.swap(false, Ordering::Relaxed) {
                restart_wal(&mut held).await;
            }
        }
        if !closes.is_empty() {
            // The pool's close waits for every connection to come back.
            // Closed here rather than dropped: a dropped one goes back to
            // the pool from a task of this thread's runtime, which ends now.
            if let Some(conn) = held.take() {
                if let Err(e) = conn.close().await {
                    tracing::debug!(error = %e, "closing the writer's connection");
                }
            }
            for c in closes {
                let _ = c.send(());
            }
            break;
        }
    }
}

/// Copies what is left of the log into the database from the writer's own
/// connection, between two batches: no write is open, so the checkpoint
/// completes, and the next write starts the log over from its beginning
/// instead of growing it. Readers beside it are never waited for; one that
/// holds an old snapshot only postpones the restart.
pub(crate) async fn restart_wal(held: &mut Option<PoolConnection<Any>>) {
    let Some(conn) = held.as_mut() else { return };
    let started = std::time::Instant::now();
    match sqlx::query_as::<_, (i64, i64, i64)>("PRAGMA wal_checkpoint(PASSIVE)")
        .fetch_one(&mut **conn)
        .await
    {
        Ok((_, frames, copied)) => tracing::debug!(
            frames,
            copied,
            micros = started.elapsed().as_micros() as u64,
            "WAL checkpointed by the writer"
        ),
        Err(e) => tracing::warn!(error = %e, "the writer's WAL checkpoint failed"),
    }
}

/// Runs one batch in one transaction and answers every job in it.
async fn run_batch(
    pool: &AnyPool,
    held: &mut Option<PoolConnection<Any>>,
    backend: Backend,
    mut batch: Batch,
    sink: Option<&dyn ClaimSink>,
    token: &str,
) -> Effects {
    let mut replies: Vec<Reply> = vec![];
    let mut effects = Effects::default();
    let mut claimed = vec![];
    let ticks = std::mem::take(&mut batch.ticks);
    let mut phases = Phases::start();
    let outcome: Result<()> = async {
        let conn = match held {
            Some(c) => c,
            None => held.insert(pool.acquire().await?),
        };
        let mut tx = match backend {
            Backend::Sqlite => conn.begin_with("BEGIN IMMEDIATE").await?,
            Backend::Postgres => conn.begin().await?,
        };
        phases.mark("begin");
        if backend == Backend::Postgres {
            // Bitmap scans never mark the index entries of dead rows as dead,
            // so each batch re-read the thousands a busy queue leaves in its
            // partial indexes until autovacuum came round (measured: the
            // cluster cap's count 2-3 ms a batch, 0.1 ms with index scans).
            // Custom plans only: a statement text that recurs (a claim of
            // 100 ids, say) got a generic plan after five runs, which read
            // the whole open queue instead of 100 keys (measured: 45 ms
            // against 2 ms).
            sqlx::query(
                "SELECT pg_advisory_xact_lock(7343230690172101), \
                 set_config('enable_bitmapscan', 'off', true), \
                 set_config('plan_cache_mode', 'force_custom_plan', true)",
            )
            .execute(&mut *tx)
            .await?;
        }
        for f in batch.txs.drain(..) {
            let mut sp = Connection::begin(&mut *tx).await?;
            match f(&mut sp).await {
                Ok(reply) => {
                    sp.commit().await?;
                    replies.push(reply);
                }
                Err(()) => sp.rollback().await?,
            }
        }
        phases.mark("generic");
        // Generic jobs may have changed anything deliveries depend on.
        effects.deliveries_moved |= !replies.is_empty();
        crate::incidents::apply_mutations(
            &mut tx,
            std::mem::take(&mut batch.mutations),
            &mut replies,
            &mut effects,
        )
        .await?;
        phases.mark("incidents");
        crate::alerts::apply_ingests(
            &mut tx,
            std::mem::take(&mut batch.ingests),
            &mut replies,
            &mut effects,
        )
        .await?;
        phases.mark("alerts");
        crate::deliveries::apply_completions(
            &mut tx,
            std::mem::take(&mut batch.completions),
            &mut replies,
            &mut effects,
        )
        .await?;
        phases.mark("completions");
        if let Some(sink) = sink {
            if effects.deliveries_moved || effects.events > 0 || !ticks.is_empty() {
                claimed = crate::deliveries::claim(&mut tx, backend, sink).await?;
            }
        }
        if backend == Backend::Postgres && (effects.deliveries_moved || effects.events > 0) {
            // Delivered at commit: other processes' dispatchers claim at once.
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(crate::backend::DELIVERIES_CHANNEL)
                .bind(token)
                .execute(&mut *tx)
                .await?;
        }
        phases.mark("claim");
        tx.commit().await?;
        phases.mark("commit");
        Ok(())
    }
    .await;
    tracing::trace!(%phases, "write batch phases");
    match outcome {
        Ok(()) => {
            let n = claimed.len();
            for r in replies {
                r(Ok(()));
            }
            if let Some(sink) = sink {
                if !claimed.is_empty() {
                    sink.claimed(claimed);
                }
            }
            for t in ticks {
                let _ = t.send(Ok(n));
            }
        }
        Err(e) => {
            *held = None;
            tracing::error!(error = %e, jobs = replies.len(), "a write batch failed; nothing of it was written");
            let text = e.to_string();
            for r in replies {
                r(Err(text.clone()));
            }
            for t in ticks {
                let _ = t.send(Err(StoreError::Commit(text.clone())));
            }
            effects = Effects::default();
        }
    }
    effects
}

/// Microseconds each part of a batch took, for the trace log: what a batch
/// spends its time on under load.
struct Phases {
    at: std::time::Instant,
    parts: Vec<(&'static str, u128)>,
}

impl Phases {
    fn start() -> Phases {
        Phases {
            at: std::time::Instant::now(),
            parts: Vec::with_capacity(8),
        }
    }

    fn mark(&mut self, part: &'static str) {
        let now = std::time::Instant::now();
        self.parts.push((part, (now - self.at).as_micros()));
        self.at = now;
    }
}

impl std::fmt::Display for Phases {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, (part, us)) in self.parts.iter().enumerate() {
            write!(f, "{}{part}={us}", if i > 0 { " " } else { "" })?;
        }
        Ok(())
    }
}
