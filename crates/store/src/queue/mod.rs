//! The delivery queue and the invocation history: FIFO per (integration,
//! subject) in `fifo`, claiming in `claim`, settling in `settle`, the
//! history in `attempts`, shared circuits in `circuits`.

pub(crate) mod attempts;
pub(crate) mod circuits;
pub(crate) mod claim;
pub(crate) mod due;
pub(crate) mod fifo;
pub(crate) mod health;
#[cfg(test)]
mod lease_tests;
pub(crate) mod prune;
pub(crate) mod rooms;
pub(crate) mod settle;
#[cfg(test)]
mod settle_tests;
pub(crate) mod stats;
#[cfg(test)]
mod temporary_btree_tests;
#[cfg(test)]
pub(crate) mod tests;
pub(crate) mod with_events;
#[cfg(test)]
mod with_events_tests;

use dutyhook_domain::ids::{DeliveryId, EventId, IntegrationId};
use std::sync::Arc;

use async_trait::async_trait;

use self::attempts::{
    insert_attempts, push_attempt_filter, AttemptRow, CountedAttemptRow, ATTEMPT_COLS,
};
use self::fifo::{insert_deliveries, NewDelivery};
use crate::sql::Sql;
use crate::store::SqlStore;
use crate::write_conn::WriteConn;
use crate::writer::{Answer, CompleteJob, Job};
use crate::{
    AttemptFilter, AttemptRecord, Completion, DeliveryHealth, DeliveryStats, DeliveryStore,
    Listing, Page, Result, StoreError,
};

/// How long an outcome is offered again while the database is unavailable:
/// half the default lease (2 minutes), after which the delivery may be
/// another process's.
const OUTCOME_RETRY_FOR: std::time::Duration = std::time::Duration::from_secs(60);

#[async_trait]
impl DeliveryStore for SqlStore {
    async fn complete_deliveries(&self, rows: Vec<Completion>) -> Result<()> {
        let rows: Arc<[Completion]> = rows.into();
        // A push that was made is recorded, not made again: while the
        // database cannot take the outcome (it is down, its disk is full),
        // it is offered again, for as long as the lease surely holds.
        let give_up = std::time::Instant::now() + OUTCOME_RETRY_FOR;
        let mut pause = std::time::Duration::from_millis(100);
        loop {
            let (answer, rx) = Answer::new();
            self.writer
                .send(Job::Complete(CompleteJob {
                    rows: rows.clone(),
                    answer,
                }))
                .await?;
            match rx.await.map_err(|_| StoreError::Closed)? {
                Err(StoreError::Unavailable(cause))
                    if std::time::Instant::now() + pause < give_up =>
                {
                    tracing::debug!(%cause, "an outcome waits for the database");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_secs(2));
                }
                done => return done,
            }
        }
    }

    async fn claim_now(&self) -> Result<usize> {
        let (answer, rx) = Answer::new();
        self.writer.send(Job::Tick(answer)).await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn open_circuit(&self, integration_id: IntegrationId, until_ms: i64) -> Result<()> {
        self.exec_outside_kept(circuits::open(integration_id.into(), until_ms))
            .await
            .map(|_| ())
    }

    async fn close_circuit(&self, integration_id: IntegrationId) -> Result<()> {
        self.exec_outside_kept(circuits::close(integration_id.into()))
            .await
            .map(|_| ())
    }

    async fn release_expired_leases(&self, now_ms: i64) -> Result<u64> {
        let mut q = Sql::new("UPDATE deliveries SET state = 'pending', lease_until = 0 WHERE state = 'leased' AND lease_until < ");
        q.i64(now_ms);
        self.exec_outside_kept(q).await
    }

    async fn enqueue_delivery(
        &self,
        event_id: &EventId,
        integration_id: IntegrationId,
        now_ms: i64,
    ) -> Result<DeliveryId> {
        let event_id = event_id.to_string();
        let id = self
            .writer
            .tx_outside_kept(move |c| {
                let event_id = event_id.clone();
                Box::pin(async move {
                    let mut q = Sql::new("SELECT seq, subject_id FROM events WHERE event_id = ");
                    q.text(&event_id);
                    let (event_seq, subject_key): (i64, String) =
                        q.query_as().fetch_optional(&mut *c).await?.ok_or_else(|| {
                            dutyhook_domain::DomainError::not_found("event", &event_id)
                        })?;
                    let ids = insert_deliveries(
                        &mut WriteConn::Sqlx(&mut *c),
                        &[NewDelivery {
                            event_seq,
                            integration_id: integration_id.into(),
                            subject_key,
                            at: now_ms,
                            subject_created: false,
                        }],
                    )
                    .await?;
                    Ok(ids[0])
                })
            })
            .await?;
        self.claim_now().await?;
        Ok(DeliveryId(id))
    }

    async fn record_attempt(&self, attempt: &AttemptRecord) -> Result<()> {
        let attempt = Arc::new(attempt.clone());
        self.writer
            .tx_outside_kept(move |c| {
                let attempt = attempt.clone();
                Box::pin(async move {
                    insert_attempts(&mut WriteConn::Sqlx(&mut *c), &[&attempt]).await
                })
            })
            .await
    }

    async fn list_attempts(
        &self,
        filter: &AttemptFilter,
        page: Page,
    ) -> Result<Listing<AttemptRecord>> {
        // The total comes from the same statement as the page, so a page
        // never disagrees with its total while attempts are being written.
        let mut q = Sql::new(&format!(
            "SELECT {ATTEMPT_COLS}, COUNT(*) OVER () AS total FROM attempts"
        ));
        push_attempt_filter(&mut q, filter);
        let column = if filter.by_event_time {
            "event_time"
        } else {
            "started_at"
        };
        let dir = if filter.asc { " ASC" } else { " DESC" };
        q.push(" ORDER BY ").push(column).push(dir);
        q.push(", invocation_id")
            .push(dir)
            .push(" LIMIT ")
            .i64(page.limit)
            .push(" OFFSET ")
            .i64(page.offset());
        let rows: Vec<CountedAttemptRow> = q.query_as().fetch_all(&self.read).await?;
        let total = match rows.first() {
            Some(r) => r.total,
            None if page.offset() == 0 => 0,
            None => {
                let mut c = Sql::new("SELECT COUNT(*) FROM attempts");
                push_attempt_filter(&mut c, filter);
                let (total,): (i64,) = c.query_as().fetch_one(&self.read).await?;
                total
            }
        };
        Ok(Listing {
            items: rows
                .into_iter()
                .map(|r| r.row.into_record())
                .collect::<Result<_>>()?,
            total,
        })
    }

    async fn attempt(&self, invocation_id: &str) -> Result<Option<AttemptRecord>> {
        let mut q = Sql::new(&format!(
            "SELECT {ATTEMPT_COLS} FROM attempts WHERE invocation_id = "
        ));
        q.text(invocation_id);
        let row: Option<AttemptRow> = q.query_as().fetch_optional(&self.read).await?;
        row.map(AttemptRow::into_record).transpose()
    }

    async fn delivery_health(
        &self,
        integration_id: IntegrationId,
        now_ms: i64,
    ) -> Result<DeliveryHealth> {
        health::health(&self.read, integration_id.into(), now_ms).await
    }

    async fn delivery_state(&self, delivery_id: DeliveryId) -> Result<Option<(String, i64, i64)>> {
        let mut q = Sql::new("SELECT state, attempts, next_at FROM deliveries WHERE id = ");
        q.i64(delivery_id);
        Ok(q.query_as().fetch_optional(&self.read).await?)
    }

    async fn prune_attempts(&self, before_ms: i64) -> Result<u64> {
        // In chunks, each its own batch: a large prune never holds the writer long.
        const CHUNK: u64 = 5000;
        let mut total = 0;
        loop {
            let mut q = Sql::new("DELETE FROM attempts WHERE invocation_id IN (SELECT invocation_id FROM attempts WHERE started_at < ");
            q.i64(before_ms).push(" LIMIT ").i64(CHUNK as i64).push(")");
            let n = self.exec_outside_kept(q).await?;
            total += n;
            if n < CHUNK {
                break;
            }
            tokio::time::sleep(prune::PAUSE).await;
        }
        // Keys with nothing unfinished need no tail; then the finished
        // deliveries themselves, a chunk at a time each.
        prune::prune_tails(self, prune::CHUNK).await?;
        prune::prune_deliveries(self, before_ms, prune::CHUNK).await?;
        // Replays that ended as long ago, with their items.
        let mut items = Sql::new("DELETE FROM replay_items WHERE replay_id IN (SELECT id FROM replays WHERE state <> 'running' AND ended_at < ");
        items.i64(before_ms).push(")");
        let mut replays = Sql::new("DELETE FROM replays WHERE state <> 'running' AND ended_at < ");
        replays.i64(before_ms);
        self.exec_all(vec![items, replays]).await?;
        Ok(total)
    }

    async fn delivery_stats(&self) -> Result<DeliveryStats> {
        stats::delivery_stats(&self.read).await
    }
}
