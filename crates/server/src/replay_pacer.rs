//! Queues the items of running replays at their rate: one process of a
//! cluster at a time (the others would only lose the race for each step,
//! which the store settles), five times a second, bursting at most a
//! second's worth after a pause.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use dutyhook_domain::ids::ReplayId;

use crate::leadership::leads;
use crate::runtime::{Runtime, Shutdown};

const TICK: Duration = Duration::from_millis(200);

pub async fn pace_replays(app: Runtime, mut shutdown: Shutdown) {
    // Items each replay may queue now, earned at its rate.
    let mut allowance: HashMap<ReplayId, f64> = HashMap::new();
    let mut last = Instant::now();
    loop {
        let elapsed = last.elapsed().as_secs_f64();
        last = Instant::now();
        if leads(&app, "replays").await {
            if let Err(e) = step(&app, &mut allowance, elapsed).await {
                tracing::warn!(error = %e, "replay pass failed; will retry");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = app.replays.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}

async fn step(
    app: &Runtime,
    allowance: &mut HashMap<ReplayId, f64>,
    elapsed_s: f64,
) -> Result<(), crate::error::ApiError> {
    let running = app.store.running_replays().await?;
    allowance.retain(|id, _| running.iter().any(|(r, _)| r == id));
    for (id, rate) in running {
        let rate = rate as f64;
        // A new replay starts with one tick's worth; none earns more than a second's.
        let earned = allowance
            .entry(id.clone())
            .or_insert(rate * TICK.as_secs_f64());
        *earned = (*earned + rate * elapsed_s).min(rate.max(1.0));
        let n = earned.floor() as i64;
        if n == 0 {
            continue;
        }
        let queued = app
            .store
            .queue_replay_step(&id, n, app.clock.now_ms())
            .await?;
        *earned -= queued as f64;
        if queued > 0 {
            tracing::debug!(replay_id = %id, queued, "replay step");
        }
    }
    Ok(())
}
