//! One write batch: every job of it in one transaction.

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Connection};

use super::jobs::{Batch, Effects, Reply};
use crate::dialect;
use crate::direct::DirectConn;
use crate::queue::fifo::FreshLease;
use crate::subscribers::Subscribers;
use crate::topology::Backend;
use crate::write_conn::WriteConn;
use crate::{ClaimBudget, ClaimedDelivery, Result};

/// What a committed batch leaves to do.
#[derive(Default)]
pub(crate) struct Committed {
    pub effects: Effects,
    /// Hand each job's result to its caller.
    pub replies: Vec<Reply>,
    pub claimed: Vec<ClaimedDelivery>,
}

/// Runs `batch` in one transaction: on the writer's own SQLite connection
/// (`direct`) when there is one and the batch has no generic job (those are
/// written for sqlx's connection), else on sqlx's (`held`, taken from `pool`
/// when there is none). Jobs that fail on their own (an operation refused,
/// a conflict) are answered at once and leave no trace; the others are
/// answered through the replies once the caller knows the batch committed.
/// An `Err` means nothing of the batch was written.
pub(crate) async fn run(
    pool: &AnyPool,
    held: &mut Option<PoolConnection<Any>>,
    direct: Option<&mut DirectConn>,
    work: Work<'_>,
    subscribers: &mut Subscribers,
) -> Result<Committed> {
    match direct {
        Some(direct) if work.batch.txs.is_empty() => run_direct(direct, work, subscribers).await,
        _ => run_sqlx(pool, held, work, subscribers).await,
    }
}

/// A batch and what writing it needs to know.
#[derive(Clone, Copy)]
pub(crate) struct Work<'a> {
    pub backend: Backend,
    pub batch: &'a Batch,
    /// The claimer's budget, read before the transaction opens.
    pub budget: Option<&'a ClaimBudget>,
    /// This process's name on the leases it takes.
    pub token: &'a str,
    /// Whether another process is alive to hear of queued deliveries.
    pub peers: bool,
    /// PostgreSQL: make every statement's plan again (`dialect::begin_postgres`).
    pub replan: bool,
}

async fn run_direct(
    direct: &mut DirectConn,
    work: Work<'_>,
    subscribers: &mut Subscribers,
) -> Result<Committed> {
    let mut done = Committed::default();
    let mut phases = Phases::start();
    direct.begin()?;
    phases.mark("begin");
    let applied = apply(
        &mut WriteConn::Direct(direct),
        work,
        subscribers,
        &mut done,
        &mut phases,
    )
    .await
    .and_then(|()| direct.commit());
    if let Err(e) = applied {
        direct.rollback();
        return Err(e);
    }
    phases.mark("commit");
    tracing::trace!(%phases, "write batch phases");
    Ok(done)
}

async fn run_sqlx(
    pool: &AnyPool,
    held: &mut Option<PoolConnection<Any>>,
    work: Work<'_>,
    subscribers: &mut Subscribers,
) -> Result<Committed> {
    let Work {
        backend,
        batch,
        token,
        peers,
        ..
    } = work;
    let mut done = Committed::default();
    let mut phases = Phases::start();
    let conn = match held {
        Some(c) => c,
        None => held.insert(pool.acquire().await?),
    };
    let mut tx = match backend {
        Backend::Sqlite => conn.begin_with(dialect::BEGIN_SQLITE).await?,
        Backend::Postgres => {
            let begun = conn
                .begin_with(dialect::begin_postgres(work.replan, subscribers.kept_at()))
                .await;
            if matches!(&begun, Err(e) if rare_changes_moved(e)) {
                // Another process changed what is kept: read it again. The
                // failed begin's transaction is rolled back here (sqlx had
                // not counted it as begun).
                drop(begun);
                tracing::debug!("subscriptions kept are stale; reading them again");
                subscribers.forget();
                sqlx::Executor::execute(&mut **conn, "ROLLBACK").await?;
                conn.begin_with(dialect::begin_postgres(work.replan, None))
                    .await?
            } else {
                begun?
            }
        }
    };
    phases.mark("begin");
    for job in &batch.txs {
        let mut sp = Connection::begin(&mut *tx).await?;
        match (job.run)(&mut sp).await {
            Ok(value) => {
                sp.commit().await?;
                let answer = job.answer.clone();
                done.replies.push(Box::new(move || answer.send(Ok(value))));
            }
            Err(e) => {
                sp.rollback().await?;
                job.answer.send(Err(e));
            }
        }
    }
    phases.mark("generic");
    // Generic jobs may have changed anything deliveries depend on.
    done.effects.deliveries_moved |= !done.replies.is_empty();
    apply(
        &mut WriteConn::Sqlx(&mut tx),
        work,
        subscribers,
        &mut done,
        &mut phases,
    )
    .await?;
    let queued = done.effects.deliveries_moved || done.effects.events > 0;
    if backend == Backend::Postgres && peers && queued {
        // Delivered at commit: other processes' dispatchers claim at once.
        // Alone, nobody would hear it: one round trip a batch saved. A
        // process that starts meanwhile is heard of at the next beat, and
        // until then finds what is due by polling.
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(dialect::DELIVERIES_CHANNEL)
            .bind(token)
            .execute(&mut *tx)
            .await?;
    }
    if backend == Backend::Postgres && batch.changes_kept() {
        sqlx::query(dialect::COUNT_RARE_CHANGES)
            .bind(dialect::CHANGES_CHANNEL)
            .bind(token)
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    phases.mark("commit");
    tracing::trace!(%phases, "write batch phases");
    Ok(done)
}

fn rare_changes_moved(e: &sqlx::Error) -> bool {
    matches!(e, sqlx::Error::Database(db) if db.code().as_deref() == Some(dialect::RARE_CHANGES_MOVED))
}

/// The batch jobs of `batch`, in the transaction open on `conn`; then the
/// claim of what is due.
async fn apply(
    conn: &mut WriteConn<'_>,
    work: Work<'_>,
    subscribers: &mut Subscribers,
    done: &mut Committed,
    phases: &mut Phases,
) -> Result<()> {
    let batch = work.batch;
    let (replies, effects) = (&mut done.replies, &mut done.effects);
    effects.leasing.lease = fresh_lease(work);
    crate::incidents::apply::apply_mutations(conn, &batch.mutations, replies, effects, subscribers)
        .await?;
    phases.mark("incidents");
    crate::alerts::apply::apply_ingests(conn, &batch.ingests, replies, effects, subscribers)
        .await?;
    phases.mark("alerts");
    crate::queue::settle::apply_completions(conn, &batch.completions, replies, effects).await?;
    phases.mark("completions");
    if let Some(budget) = work.budget {
        if effects.deliveries_moved || effects.events > 0 || !batch.ticks.is_empty() {
            let leasing = std::mem::take(&mut effects.leasing);
            done.claimed = crate::queue::claim::claim(conn, budget, work.token, leasing).await?;
        }
    }
    phases.mark("claim");
    Ok(())
}

/// The lease new deliveries take as they are inserted, where this batch's
/// claim hands them out: it spares their leasing `UPDATE` and their
/// entries in the index of what is due (on SQLite 360 µs of a 3.3 ms batch
/// at 10 webhooks, most of the claim; on PostgreSQL the batch's costliest
/// statement but one, 2.1-2.3 ms). Nobody else sees them before the batch
/// commits, by when the claim has kept or given back each one, under the
/// same rooms and caps as the rest.
fn fresh_lease(work: Work<'_>) -> Option<FreshLease> {
    let budget = work.budget?;
    (budget.limit > 0).then(|| FreshLease {
        until: crate::sql::now_ms() + budget.lease_ms,
        owner: work.token.to_string(),
    })
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
