//! Replays (`delivery.md`, "Delivery health"): an integration's failed and
//! skipped deliveries of a window, one per event, queued again oldest first.
//! Queuing a step advances the replay's `queued` in the same transaction,
//! only if nobody advanced it meanwhile: so across processes and restarts
//! every item is queued exactly once, and pushed as any delivery is.

use async_trait::async_trait;
use dutyhook_domain::ids::{IntegrationId, PersonId, ReplayId};
use dutyhook_domain::DomainError;

use crate::queue::fifo::{insert_deliveries, NewDelivery, OPEN_STATES};
use crate::sql::Sql;
use crate::store::SqlStore;
use crate::write_conn::WriteConn;
use crate::{DeliveryStore, Result, StoreError};

/// At most this many events in one replay: a wider window is refused.
pub const REPLAY_MAX_ITEMS: i64 = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplayState {
    /// Queuing its items at its rate.
    Running,
    /// Every item queued (the pushes may still be on their way).
    Finished,
    /// Stopped by hand; what was queued before still goes out.
    Cancelled,
}

impl ReplayState {
    pub fn as_str(self) -> &'static str {
        match self {
            ReplayState::Running => "running",
            ReplayState::Finished => "finished",
            ReplayState::Cancelled => "cancelled",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        match s {
            "running" => Ok(ReplayState::Running),
            "finished" => Ok(ReplayState::Finished),
            "cancelled" => Ok(ReplayState::Cancelled),
            other => Err(StoreError::Corrupt(format!("replay state {other:?}"))),
        }
    }
}

/// What to replay.
#[derive(Debug, Clone)]
pub struct NewReplay {
    pub replay_id: ReplayId,
    pub integration_id: IntegrationId,
    pub created_by: PersonId,
    pub now_ms: i64,
    /// Event times (ms), both ends included.
    pub from_ms: i64,
    pub to_ms: i64,
    pub failed: bool,
    pub skipped: bool,
    pub rate_per_s: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReplayInfo {
    pub replay_id: ReplayId,
    pub integration_id: IntegrationId,
    pub state: ReplayState,
    pub rate_per_s: i64,
    pub total: i64,
    pub queued: i64,
    /// Of the queued: pushed successfully, given up, skipped, still on
    /// their way.
    pub pushed: i64,
    pub failed: i64,
    pub skipped: i64,
    pub pending: i64,
    pub created_at: i64,
    pub ended_at: i64,
}

#[async_trait]
pub trait ReplayStore: Send + Sync {
    /// Records a replay of the matching deliveries; answers how many events
    /// it holds. `InvalidParameter` over [`REPLAY_MAX_ITEMS`].
    async fn create_replay(&self, r: &NewReplay) -> Result<i64>;
    async fn replay(&self, id: &ReplayId) -> Result<Option<ReplayInfo>>;
    /// Stops queuing; false when it was no longer running.
    async fn cancel_replay(&self, id: &ReplayId, now_ms: i64) -> Result<bool>;
    /// Running replays: (id, rate per second).
    async fn running_replays(&self) -> Result<Vec<(ReplayId, i64)>>;
    /// Queues the next `n` items of a running replay; answers how many.
    async fn queue_replay_step(&self, id: &ReplayId, n: i64, now_ms: i64) -> Result<i64>;
}

#[async_trait]
impl ReplayStore for SqlStore {
    async fn create_replay(&self, r: &NewReplay) -> Result<i64> {
        let states: Vec<String> = [("failed", r.failed), ("skipped", r.skipped)]
            .iter()
            .filter(|(_, on)| *on)
            .map(|(s, _)| s.to_string())
            .collect();
        // One item per event, oldest first (by the event's place in the
        // outbox, which keeps each incident's order).
        let mut pick = Sql::new(
            "SELECT d.event_seq, MIN(d.subject_key) FROM deliveries d JOIN events e ON e.seq = d.event_seq \
             WHERE d.integration_id = ",
        );
        pick.i64(r.integration_id)
            .push(" AND d.state IN ")
            .list_text(&states);
        pick.push(" AND e.event_time >= ").i64(r.from_ms);
        pick.push(" AND e.event_time <= ").i64(r.to_ms);
        pick.push(" GROUP BY d.event_seq ORDER BY d.event_seq LIMIT ")
            .i64(REPLAY_MAX_ITEMS + 1);
        // Read outside the writer: a past window's unsent deliveries do not
        // change, and the writer is not held while they are found.
        let items: Vec<(i64, String)> = pick.query_as().fetch_all(&self.read).await?;
        let total = items.len() as i64;
        if total > REPLAY_MAX_ITEMS {
            return Err(DomainError::invalid(
                "start_time",
                format!("the window holds more than {REPLAY_MAX_ITEMS} deliveries: replay a shorter one"),
            )
            .into());
        }
        let (r, items) = (r.clone(), std::sync::Arc::new(items));
        self.writer
            .tx_outside_kept(move |c| {
                let (r, states, items) = (r.clone(), states.clone(), items.clone());
                Box::pin(async move {
                    let mut q = Sql::new(
                        "INSERT INTO replays (id, integration_id, created_by, created_at, start_time, end_time, \
                         statuses, rate_per_s, total, queued, state) VALUES (",
                    );
                    q.text(r.replay_id.as_str()).push(", ").i64(r.integration_id);
                    q.push(", ").i64(r.created_by).push(", ").i64(r.now_ms);
                    q.push(", ").i64(r.from_ms).push(", ").i64(r.to_ms);
                    q.push(", ").text(states.join(",")).push(", ").i64(r.rate_per_s);
                    q.push(", ").i64(total).push(", 0, ");
                    q.text(if total == 0 { "finished" } else { "running" }).push(")");
                    q.query().execute(&mut *c).await?;
                    for (n, chunk) in items.chunks(500).enumerate() {
                        let mut q = Sql::new(
                            "INSERT INTO replay_items (replay_id, position, event_seq, subject_key) VALUES ",
                        );
                        for (i, (seq, key)) in chunk.iter().enumerate() {
                            q.push(if i == 0 { "(" } else { ", (" });
                            q.text(r.replay_id.as_str()).push(", ").i64((n * 500 + i) as i64);
                            q.push(", ").i64(*seq).push(", ").text(key.as_str()).push(")");
                        }
                        q.query().execute(&mut *c).await?;
                    }
                    Ok(total)
                })
            })
            .await
    }

    async fn replay(&self, id: &ReplayId) -> Result<Option<ReplayInfo>> {
        let mut q = Sql::new(
            "SELECT integration_id, state, rate_per_s, total, queued, created_at, ended_at FROM replays WHERE id = ",
        );
        q.text(id.as_str());
        let row: Option<(i64, String, i64, i64, i64, i64, i64)> =
            q.query_as().fetch_optional(&self.read).await?;
        let Some((integration_id, state, rate_per_s, total, queued, created_at, ended_at)) = row
        else {
            return Ok(None);
        };
        let mut q = Sql::new(
            "SELECT d.state, COUNT(*) FROM replay_items r JOIN deliveries d ON d.id = r.delivery_id \
             WHERE r.replay_id = ",
        );
        q.text(id.as_str())
            .push(" AND r.delivery_id > 0 GROUP BY d.state");
        let counts: Vec<(String, i64)> = q.query_as().fetch_all(&self.read).await?;
        let count = |s: &[&str]| -> i64 {
            counts
                .iter()
                .filter(|(state, _)| s.contains(&state.as_str()))
                .map(|(_, n)| n)
                .sum()
        };
        Ok(Some(ReplayInfo {
            replay_id: id.clone(),
            integration_id: IntegrationId(integration_id),
            state: ReplayState::parse(&state)?,
            rate_per_s,
            total,
            queued,
            pushed: count(&["done"]),
            failed: count(&["failed"]),
            skipped: count(&["skipped"]),
            pending: count(&OPEN_STATES),
            created_at,
            ended_at,
        }))
    }

    async fn cancel_replay(&self, id: &ReplayId, now_ms: i64) -> Result<bool> {
        let mut q = Sql::new("UPDATE replays SET state = 'cancelled', ended_at = ");
        q.i64(now_ms)
            .push(" WHERE state = 'running' AND id = ")
            .text(id.as_str());
        Ok(self.exec_outside_kept(q).await? > 0)
    }

    async fn running_replays(&self) -> Result<Vec<(ReplayId, i64)>> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT id, rate_per_s FROM replays WHERE state = 'running' ORDER BY created_at",
        )
        .fetch_all(&self.read)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(id, r)| (ReplayId::from(id), r))
            .collect())
    }

    async fn queue_replay_step(&self, id: &ReplayId, n: i64, now_ms: i64) -> Result<i64> {
        let id = id.clone();
        let queued = self
            .writer
            .tx_outside_kept(move |c| {
                let id = id.clone();
                Box::pin(async move {
                    let mut q = Sql::new(
                        "SELECT integration_id, total, queued FROM replays WHERE state = 'running' AND id = ",
                    );
                    q.text(id.as_str());
                    let row: Option<(i64, i64, i64)> = q.query_as().fetch_optional(&mut *c).await?;
                    let Some((integration_id, total, queued)) = row else {
                        return Ok(0);
                    };
                    let step = n.min(total - queued).max(0);
                    // Ours only if nobody advanced it meanwhile (another process).
                    let mut claim = Sql::new("UPDATE replays SET queued = ");
                    claim.i64(queued + step).push(", state = ");
                    if queued + step >= total {
                        claim.text("finished").push(", ended_at = ").i64(now_ms);
                    } else {
                        claim.text("running");
                    }
                    claim.push(" WHERE state = 'running' AND queued = ").i64(queued);
                    claim.push(" AND id = ").text(id.as_str());
                    if claim.query().execute(&mut *c).await?.rows_affected() == 0 || step == 0 {
                        return Ok(0);
                    }
                    let mut items = Sql::new(
                        "SELECT position, event_seq, subject_key FROM replay_items WHERE replay_id = ",
                    );
                    items.text(id.as_str()).push(" AND position >= ").i64(queued);
                    items.push(" AND position < ").i64(queued + step).push(" ORDER BY position");
                    let rows: Vec<(i64, i64, String)> = items.query_as().fetch_all(&mut *c).await?;
                    let new: Vec<NewDelivery> = rows
                        .iter()
                        .map(|(_, seq, key)| NewDelivery {
                            event_seq: *seq,
                            integration_id,
                            subject_key: key.clone(),
                            at: now_ms,
                            subject_created: false,
                        })
                        .collect();
                    let ids = insert_deliveries(&mut WriteConn::Sqlx(&mut *c), &new).await?;
                    let mut link = Sql::new("UPDATE replay_items SET delivery_id = CASE position");
                    for ((position, _, _), delivery) in rows.iter().zip(&ids) {
                        link.push(" WHEN ").i64(*position).push(" THEN ").i64(*delivery);
                    }
                    link.push(" ELSE delivery_id END WHERE replay_id = ").text(id.as_str());
                    link.push(" AND position >= ").i64(queued);
                    link.push(" AND position < ").i64(queued + step);
                    link.query().execute(&mut *c).await?;
                    Ok(step)
                })
            })
            .await?;
        if queued > 0 {
            self.claim_now().await?;
        }
        Ok(queued)
    }
}
