//! The processes sharing a database, and what happens when one dies: its
//! leases go back to the queue within seconds, not when they expire.
//!
//! Each process writes its row in `nodes` every second and, on PostgreSQL,
//! holds a session-level advisory lock named after its token for as long as
//! it lives. A process killed outright loses its session at once (the
//! kernel closes its socket), so the lock is free: the others see that and,
//! once the row has not been written for a few seconds, release its leases.
//! A process that stops writing for a minute is taken for dead too (a host
//! that vanished without closing its connections).

use std::sync::Weak;
use std::time::Duration;

use crate::dialect::lock_key;
use crate::sql::{now_ms, Sql};
use crate::store::SqlStore;
use crate::topology::Backend;
use crate::Result;
use crate::{Store, StoreError};

/// How often a process says it is alive.
pub(crate) const BEAT: Duration = Duration::from_secs(1);
/// Silence after which a process whose session is gone counts as dead.
const SILENT_MS: i64 = 3_000;
/// Silence after which a process counts as dead whatever its session says.
const LOST_MS: i64 = 60_000;

pub(crate) fn node_role(token: &str) -> String {
    format!("node:{token}")
}

impl SqlStore {
    /// Holds, for as long as this process lives, the session lock by which
    /// the others know it is alive.
    pub(crate) async fn hold_session_lock(&self) -> Result<()> {
        let role = node_role(self.writer.token());
        if self.try_lead(&role).await? {
            Ok(())
        } else {
            Err(StoreError::Corrupt(format!("another process holds {role}")))
        }
    }

    /// Writes this process's row; on PostgreSQL also gives back the leases
    /// of processes found dead, and tells the writer whether any other is
    /// alive to hear of queued deliveries. Answers how many leases were
    /// given back.
    pub(crate) async fn beat(&self) -> Result<u64> {
        let token = self.writer.token().to_string();
        let started_at = self.started_at;
        let postgres = self.backend == Backend::Postgres;
        let (released, others) = self
            .writer
            .tx_outside_kept(move |c| {
                let token = token.clone();
                Box::pin(async move {
                    let now = now_ms();
                    let mut q = Sql::new("INSERT INTO nodes (token, started_at, seen_at) VALUES (");
                    q.text(token.as_str()).push(", ").i64(started_at);
                    q.push(", ").i64(now).push(
                        ") ON CONFLICT (token) DO UPDATE SET seen_at = excluded.seen_at",
                    );
                    q.query().execute(&mut *c).await?;
                    if !postgres {
                        return Ok((0, 0));
                    }
                    let mut q = Sql::new("SELECT token, seen_at FROM nodes WHERE token <> ");
                    q.text(token.as_str());
                    let others: Vec<(String, i64)> = q.query_as().fetch_all(&mut *c).await?;
                    let mut dead = vec![];
                    for (other, seen_at) in &others {
                        if *seen_at >= now - SILENT_MS {
                            continue;
                        }
                        // Taken for the transaction only: free means its session is gone.
                        let (free,): (bool,) =
                            sqlx::query_as("SELECT pg_try_advisory_xact_lock($1)")
                                .bind(lock_key(&node_role(other)))
                                .fetch_one(&mut *c)
                                .await?;
                        if free || *seen_at < now - LOST_MS {
                            dead.push(other.clone());
                        }
                    }
                    let alive = others.len() - dead.len();
                    if dead.is_empty() {
                        return Ok((0, alive));
                    }
                    let mut q = Sql::new(
                        "UPDATE deliveries SET state = 'pending', lease_until = 0, lease_owner = '' \
                         WHERE state = 'leased' AND lease_owner IN ",
                    );
                    q.list_text(&dead);
                    let released = q.query().execute(&mut *c).await?.rows_affected();
                    let mut q = Sql::new("DELETE FROM nodes WHERE token IN ");
                    q.list_text(&dead);
                    q.query().execute(&mut *c).await?;
                    tracing::warn!(
                        processes = ?dead,
                        released,
                        "processes sharing the database died; their deliveries go back to the queue"
                    );
                    Ok((released, alive))
                })
            })
            .await?;
        self.writer.set_peers(others);
        Ok(released)
    }
}

/// Keeps this process's row and session lock alive, and watches the
/// others, until the store is dropped.
pub(crate) async fn keep_alive(store: Weak<SqlStore>) {
    let mut tick = tokio::time::interval(BEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let Some(store) = store.upgrade() else { return };
        if store.closing.load(std::sync::atomic::Ordering::Relaxed) {
            return;
        }
        if let Err(e) = store.hold_session_lock().await {
            tracing::warn!(error = %e, "cannot hold this process's liveness lock; retrying");
            continue;
        }
        if let Err(e) = store.beat().await {
            tracing::warn!(error = %e, "cannot record that this process is alive; retrying");
        }
    }
}
