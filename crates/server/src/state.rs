use std::sync::Arc;

use dutyhook_domain::incident::RenderContext;
use dutyhook_domain::recorder::Recorder;
use dutyhook_store::{IncidentOp, Store};

use crate::error::ApiError;
use dutyhook_domain::incident::Incident;

#[derive(Clone)]
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub key_secret: Arc<Vec<u8>>,
    pub passwords: Arc<crate::passwords::Passwords>,
    pub render: RenderContext,
    pub clock: Clock,
    /// Makes every call to an endpoint outside the queue (test pushes, custom actions).
    pub invoker: dutyhook_delivery::invoker::Invoker,
    pub outbound: dutyhook_delivery::outbound::Policy,
    pub metrics: dutyhook_delivery::metrics::Metrics,
    pub dispatcher: dutyhook_delivery::dispatcher::Dispatcher,
    pub actions_per_channel: usize,
    /// How long the invocation history is kept (the console offers no more).
    pub history_retention: std::time::Duration,
    pub sources: crate::source_cache::SourceCache,
}

/// Wall-clock time plus an offset that only tests move forward (to let a
/// snooze expire without waiting a minute).
#[derive(Clone, Default)]
pub struct Clock {
    offset_ms: Arc<std::sync::atomic::AtomicI64>,
}

impl Clock {
    pub fn now_ms(&self) -> i64 {
        dutyhook_delivery::now_ms() + self.offset_ms.load(std::sync::atomic::Ordering::Relaxed)
    }

    pub fn advance(&self, by: std::time::Duration) {
        self.offset_ms
            .fetch_add(by.as_millis() as i64, std::sync::atomic::Ordering::Relaxed);
    }
}

impl AppState {
    pub fn recorder(&self) -> Recorder {
        Recorder::new(self.clock.now_ms(), self.render.clone())
    }

    /// Runs `op` over the incidents `ids` in one transaction with their
    /// events. `op` may run more than once (see [`IncidentOp`]).
    pub async fn mutate<F>(&self, ids: &[String], op: F) -> Result<Vec<Incident>, ApiError>
    where
        F: Fn(&mut Vec<Incident>, &mut Recorder) -> Result<(), dutyhook_domain::DomainError>
            + Send
            + Sync
            + 'static,
    {
        let op: IncidentOp = Arc::new(op);
        Ok(self
            .store
            .mutate_incidents(ids, self.recorder(), op)
            .await?)
    }
}
