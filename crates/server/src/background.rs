//! Work no request asks for: delivery, waking incidents whose snooze has
//! ended, ending async custom action runs at their deadline, pruning the
//! invocation history, pacing replays. Every process delivers; each other
//! role runs in one process of a cluster at a time.

use std::time::Duration;

use dutyhook_domain::ops;
use tokio::task::JoinHandle;

use crate::leadership::leads;
use crate::runtime::{Runtime, Shutdown};

/// Starts delivery and the background roles; they stop when `shutdown`
/// flips to true and [`Running::finish`] is awaited.
pub fn start(runtime: &Runtime, shutdown: &Shutdown) -> Running {
    let owns_database = runtime.store.owned_by_this_process();
    let delivery = tokio::spawn(
        runtime
            .dispatcher
            .clone()
            .run(shutdown.clone(), owns_database),
    );
    let mut roles = vec![
        tokio::spawn(snooze_expiry(
            runtime.clone(),
            runtime.snooze_check_every,
            shutdown.clone(),
        )),
        tokio::spawn(run_deadlines(
            runtime.clone(),
            runtime.snooze_check_every,
            shutdown.clone(),
        )),
        tokio::spawn(prune_history(
            runtime.clone(),
            runtime.history_retention,
            shutdown.clone(),
        )),
        tokio::spawn(crate::replay_pacer::pace_replays(
            runtime.clone(),
            shutdown.clone(),
        )),
        tokio::spawn(crate::notifications::renotify(
            runtime.clone(),
            runtime.snooze_check_every,
            shutdown.clone(),
        )),
    ];
    if let Some(channel) = runtime.delivery_alerts_channel {
        roles.push(tokio::spawn(crate::self_alerts::watch(
            runtime.clone(),
            channel,
            shutdown.clone(),
        )));
    }
    Running {
        delivery,
        roles,
        grace: runtime.shutdown_grace,
    }
}

/// Delivery and the background roles only, without the API (`dutyhook
/// worker`): runs until `shutdown` flips to true.
pub async fn run(runtime: Runtime, mut shutdown: Shutdown) {
    let running = start(&runtime, &shutdown);
    // A closed channel means nobody can ask any more: stop as well.
    let _ = shutdown.wait_for(|stop| *stop).await;
    running.finish().await;
}

/// Delivery and the background roles of a started [`Runtime`].
pub struct Running {
    delivery: JoinHandle<()>,
    roles: Vec<JoinHandle<()>>,
    grace: Duration,
}

impl Running {
    /// Waits for delivery's graceful end; the roles simply stop.
    pub async fn finish(self) {
        for role in self.roles {
            role.abort();
        }
        // The dispatcher gives back what it still holds once its grace ends.
        let _ = tokio::time::timeout(self.grace + Duration::from_secs(5), self.delivery).await;
    }
}

pub async fn snooze_expiry(app: Runtime, every: Duration, mut shutdown: Shutdown) {
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
pub async fn wake_due(app: &Runtime) -> Result<usize, crate::error::ApiError> {
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

/// Ends async runs still running at their deadline as `timed_out`, checked
/// as often as snoozes.
pub async fn run_deadlines(app: Runtime, every: Duration, mut shutdown: Shutdown) {
    loop {
        if leads(&app, "run-deadlines").await {
            match crate::run_updates::time_out_due(&app).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(count = n, "custom action runs timed out"),
                Err(e) => tracing::warn!(error = %e, "run deadline pass failed; will retry"),
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Deletes history older than `retention`, every minute.
pub async fn prune_history(app: Runtime, retention: Duration, mut shutdown: Shutdown) {
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
pub async fn prune_once(app: &Runtime, retention: Duration) -> Result<u64, crate::error::ApiError> {
    let cutoff = app.clock.now_ms() - retention.as_millis() as i64;
    Ok(app.store.prune_attempts(cutoff).await?)
}
