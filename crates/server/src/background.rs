//! Work no request asks for: waking incidents whose snooze has ended,
//! pruning the invocation history. Each runs in one process of a cluster.

use std::time::Duration;

use dutyhook_domain::ops;
use tokio_util_shutdown::Shutdown;

use crate::state::AppState;

pub mod tokio_util_shutdown {
    /// Set once on shutdown; background loops stop at their next tick.
    pub type Shutdown = tokio::sync::watch::Receiver<bool>;
}

/// Whether this process runs `role` now: one process of a PostgreSQL cluster
/// at a time; whoever holds it keeps it until its session ends.
async fn leads(app: &AppState, role: &str) -> bool {
    match app.store.try_lead(role).await {
        Ok(lead) => lead,
        Err(e) => {
            tracing::warn!(error = %e, role, "cannot tell who runs this background role");
            false
        }
    }
}

pub async fn snooze_expiry(app: AppState, every: Duration, mut shutdown: Shutdown) {
    loop {
        if leads(&app, "snooze-expiry").await {
            if let Err(e) = wake_due(&app).await {
                tracing::warn!(error = %e, "snooze expiry pass failed; will retry");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Emits `i_wake` (no person) for every incident whose snooze has ended.
pub async fn wake_due(app: &AppState) -> Result<usize, crate::error::ApiError> {
    let now_s = app.clock.now_ms() / 1000;
    let ids = app.store.due_snoozes(now_s, 100).await?;
    if ids.is_empty() {
        return Ok(0);
    }
    let n = ids.len();
    app.mutate(&ids, |incs, rec| ops::wake(incs, None, rec))
        .await?;
    tracing::debug!(count = n, "woke snoozed incidents");
    Ok(n)
}

/// Deletes history older than `retention`, every minute.
pub async fn prune_history(app: AppState, retention: Duration, mut shutdown: Shutdown) {
    loop {
        if leads(&app, "history-pruning").await {
            match prune_once(&app, retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(pruned = n, "pruned invocation history"),
                Err(e) => tracing::warn!(error = %e, "pruning history failed; will retry"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(60)) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// One pruning pass: deletes history older than `retention`.
pub async fn prune_once(
    app: &AppState,
    retention: Duration,
) -> Result<u64, crate::error::ApiError> {
    let cutoff = app.clock.now_ms() - retention.as_millis() as i64;
    Ok(app.store.prune_attempts(cutoff).await?)
}
