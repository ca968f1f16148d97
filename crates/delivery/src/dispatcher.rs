//! Takes due deliveries from the store and pushes them. Per integration: a
//! cap on attempts in flight and a circuit breaker; per (integration,
//! subject): order, enforced by the store's claim query.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dutyhook_domain::ids::new_event_id;
use dutyhook_domain::webhook::WebhookConfig;
use dutyhook_store::{
    AttemptRecord, ClaimedDelivery, DeliveryResolution, IntegrationRecord, Store,
};
use rand::Rng;
use std::time::Instant;

use dutyhook_domain::template::Template;
use tokio::sync::{mpsc, watch, Semaphore};

use crate::metrics::Metrics;
use crate::push::{PushRequest, PushResult, Pusher};
use crate::retry::{decide, Decision, Outcome, RetryPolicy, Schedule};
use crate::signature::secret_key;

#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    pub inflight_per_integration: usize,
    pub batch: i64,
    /// How long a claimed delivery stays ours before others may take it.
    pub lease: Duration,
    /// Polling backstop when no wake-up arrives.
    pub poll: Duration,
    pub schedule: Schedule,
    pub circuit_threshold: u32,
    pub circuit_open: Duration,
    pub circuit_open_max: Duration,
    /// After a wake-up, how long to gather more work before claiming: fewer,
    /// larger transactions on the single SQLite writer.
    pub gather: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            inflight_per_integration: 16,
            batch: 256,
            lease: Duration::from_secs(120),
            poll: Duration::from_millis(500),
            schedule: Schedule::default(),
            circuit_threshold: 5,
            circuit_open: Duration::from_secs(30),
            circuit_open_max: Duration::from_secs(600),
            gather: Duration::from_millis(5),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

struct Lane {
    permits: Arc<Semaphore>,
    /// Claimed and not yet settled (waiting for a permit or in flight).
    held: usize,
    consecutive_failures: u32,
    open_until_ms: i64,
    open_for: Duration,
    probing: bool,
}

impl Lane {
    fn new(cfg: &DeliveryConfig) -> Lane {
        Lane {
            permits: Arc::new(Semaphore::new(cfg.inflight_per_integration)),
            held: 0,
            consecutive_failures: 0,
            open_until_ms: 0,
            open_for: cfg.circuit_open,
            probing: false,
        }
    }

    fn state(&self, now_ms: i64) -> CircuitState {
        if self.open_until_ms == 0 {
            CircuitState::Closed
        } else if now_ms < self.open_until_ms {
            CircuitState::Open
        } else {
            CircuitState::HalfOpen
        }
    }
}

/// An attempt's outcome waiting to be written with others in one transaction.
struct Completion {
    delivery_id: i64,
    resolution: DeliveryResolution,
    record: AttemptRecord,
}

/// An integration's settings as the dispatcher uses them, cached briefly so a
/// burst of pushes reads them once.
struct Settings {
    record: IntegrationRecord,
    config: Option<WebhookConfig>,
    template: Option<Template>,
}

/// Settings per integration with the time they were read.
type SettingsCache = HashMap<i64, (Instant, Arc<Settings>)>;

const SETTINGS_TTL: Duration = Duration::from_secs(1);
const COMPLETION_BATCH: usize = 512;

#[derive(Clone)]
pub struct Dispatcher {
    store: Arc<dyn Store>,
    pusher: Pusher,
    metrics: Metrics,
    completions: mpsc::UnboundedSender<Completion>,
    completions_rx: Arc<Mutex<Option<mpsc::UnboundedReceiver<Completion>>>>,
    /// Completions sent and not yet written.
    queued: Arc<std::sync::atomic::AtomicUsize>,
    integrations: Arc<Mutex<SettingsCache>>,
    cfg: DeliveryConfig,
    lanes: Arc<Mutex<HashMap<i64, Lane>>>,
}

pub use crate::now_ms;

/// Signing keys in force: the current secret, plus the previous one during
/// the 24 hours after a rotation.
pub fn signing_keys(r: &IntegrationRecord, now_ms: i64) -> Vec<Vec<u8>> {
    let mut keys = vec![];
    if let Ok(k) = secret_key(&r.secret) {
        keys.push(k);
    }
    if r.previous_secret_until > now_ms {
        if let Ok(k) = secret_key(&r.previous_secret) {
            keys.push(k);
        }
    }
    keys
}

/// The body for an integration: the payload, or its template rendered over it.
pub fn body_for(cfg: &WebhookConfig, payload: &str) -> Vec<u8> {
    render_body(cfg.template().as_ref(), payload)
}

fn render_body(template: Option<&Template>, payload: &str) -> Vec<u8> {
    match (template, serde_json::from_str::<serde_json::Value>(payload)) {
        (Some(t), Ok(v)) => t.render(&v).to_string().into_bytes(),
        _ => payload.as_bytes().to_vec(),
    }
}

/// The history record of one attempt.
pub fn attempt_record(
    r: &IntegrationRecord,
    delivery_id: i64,
    attempt: i64,
    event: &dutyhook_store::StoredEvent,
    res: &PushResult,
    test: bool,
) -> AttemptRecord {
    AttemptRecord {
        invocation_id: new_event_id(),
        integration_id: r.integration_id,
        integration_kind: r.kind.clone(),
        delivery_id,
        event_id: event.event_id.clone(),
        event_type: event.event_type.clone(),
        subject_kind: event.subject_kind.clone(),
        subject_id: event.subject_id.clone(),
        attempt,
        test,
        event_time: event.event_time,
        started_at: res.started_at_ms,
        duration_ms: res.duration_ms,
        success: res.success,
        http_status: res.status as i64,
        error_class: res
            .class
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
        error: res.error.clone(),
        request: res.request.clone(),
        response: res.response.clone(),
    }
}

impl Dispatcher {
    pub fn new(
        store: Arc<dyn Store>,
        pusher: Pusher,
        cfg: DeliveryConfig,
        metrics: Metrics,
    ) -> Self {
        let (completions, rx) = mpsc::unbounded_channel();
        Dispatcher {
            store,
            pusher,
            metrics,
            completions,
            completions_rx: Arc::new(Mutex::new(Some(rx))),
            queued: Default::default(),
            integrations: Default::default(),
            cfg,
            lanes: Default::default(),
        }
    }

    /// Drops cached settings after a change made through this process.
    pub fn forget(&self, integration_id: i64) {
        self.integrations
            .lock()
            .expect("settings lock")
            .remove(&integration_id);
    }

    pub fn pusher(&self) -> &Pusher {
        &self.pusher
    }

    pub fn circuit_states(&self) -> Vec<(i64, CircuitState)> {
        let now = now_ms();
        let lanes = self.lanes.lock().expect("lanes lock");
        lanes.iter().map(|(id, l)| (*id, l.state(now))).collect()
    }

    /// Runs until `shutdown` turns true. `release_all_leases` is for a single
    /// process that owns its database: leases left by a crash are its own.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>, release_all_leases: bool) {
        let writer = self
            .completions_rx
            .lock()
            .expect("writer lock")
            .take()
            .map(|rx| tokio::spawn(self.clone().write_completions(rx)));
        let wake = self.store.events_committed();
        let start_cutoff = if release_all_leases {
            i64::MAX
        } else {
            now_ms()
        };
        if let Err(e) = self.store.release_expired_leases(start_cutoff).await {
            tracing::warn!(error = %e, "could not release leases at start");
        }
        let mut last_release = now_ms();
        loop {
            if *shutdown.borrow() {
                return;
            }
            let now = now_ms();
            if now - last_release > 5_000 {
                last_release = now;
                if let Err(e) = self.store.release_expired_leases(now).await {
                    tracing::warn!(error = %e, "releasing expired leases failed");
                }
            }
            let exclude = self.exclusions(now);
            let claimed = match self
                .store
                .claim_deliveries(
                    now,
                    self.cfg.lease.as_millis() as i64,
                    self.cfg.batch,
                    &exclude,
                )
                .await
            {
                Ok(c) => c,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming deliveries failed; will retry");
                    vec![]
                }
            };
            let got = claimed.len() as i64;
            for d in claimed {
                self.start(d);
            }
            if got < self.cfg.batch {
                let notified = wake.notified();
                tokio::select! {
                    _ = notified => {}
                    _ = tokio::time::sleep(self.cfg.poll) => {}
                    _ = shutdown.changed() => break,
                }
                tokio::time::sleep(self.cfg.gather).await;
            }
        }
        if let Some(w) = writer {
            // Completions already made are written before we go.
            let _ = tokio::time::timeout(Duration::from_secs(2), async {
                while self.pending_completions() > 0 {
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            })
            .await;
            w.abort();
        }
    }

    fn pending_completions(&self) -> usize {
        self.queued.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Writes attempt records and delivery updates in batches (group commit).
    async fn write_completions(self, mut rx: mpsc::UnboundedReceiver<Completion>) {
        let mut batch: Vec<Completion> = Vec::with_capacity(COMPLETION_BATCH);
        while let Some(first) = rx.recv().await {
            batch.push(first);
            tokio::time::sleep(self.cfg.gather).await;
            while batch.len() < COMPLETION_BATCH {
                match rx.try_recv() {
                    Ok(c) => batch.push(c),
                    Err(_) => break,
                }
            }
            let rows: Vec<(i64, DeliveryResolution, AttemptRecord)> = batch
                .iter()
                .map(|c| (c.delivery_id, c.resolution, c.record.clone()))
                .collect();
            let mut tries = 0;
            loop {
                match self.store.complete_deliveries(&rows).await {
                    Ok(()) => break,
                    Err(e) if tries < 5 => {
                        tries += 1;
                        tracing::warn!(error = %e, count = rows.len(), "writing attempt records failed; retrying");
                        tokio::time::sleep(Duration::from_millis(100 * tries)).await;
                    }
                    Err(e) => {
                        tracing::error!(error = %e, count = rows.len(), "attempt records lost; their deliveries will be retried when their leases expire");
                        break;
                    }
                }
            }
            for c in batch.drain(..) {
                // Counted once recorded, so a scrape never sees a push the history lacks.
                let outcome = if c.record.success {
                    "success"
                } else {
                    c.record.error_class.as_str()
                };
                self.metrics.record_push(
                    &c.record.integration_kind,
                    outcome,
                    c.record.duration_ms as f64 / 1000.0,
                );
            }
            self.queued
                .fetch_sub(rows.len(), std::sync::atomic::Ordering::Relaxed);
            // Settled deliveries may unblock the next ones of their incidents.
            self.store.events_committed().notify_waiters();
        }
    }

    async fn settings(&self, integration_id: i64) -> dutyhook_store::Result<Option<Arc<Settings>>> {
        if let Some((at, s)) = self
            .integrations
            .lock()
            .expect("settings lock")
            .get(&integration_id)
        {
            if at.elapsed() < SETTINGS_TTL {
                return Ok(Some(s.clone()));
            }
        }
        let Some(record) = self.store.integration(integration_id).await? else {
            self.integrations
                .lock()
                .expect("settings lock")
                .remove(&integration_id);
            return Ok(None);
        };
        let config: Option<WebhookConfig> = match serde_json::from_value(record.config.clone()) {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::error!(integration_id, error = %e, "unreadable webhook config");
                None
            }
        };
        let template = config.as_ref().and_then(|c| c.template());
        let s = Arc::new(Settings {
            record,
            config,
            template,
        });
        self.integrations
            .lock()
            .expect("settings lock")
            .insert(integration_id, (Instant::now(), s.clone()));
        Ok(Some(s))
    }

    /// Integrations not to claim for now: paused, probing, or holding enough.
    fn exclusions(&self, now: i64) -> Vec<i64> {
        let lanes = self.lanes.lock().expect("lanes lock");
        lanes
            .iter()
            .filter(|(_, l)| match l.state(now) {
                CircuitState::Open => true,
                CircuitState::HalfOpen => l.held > 0,
                CircuitState::Closed => l.held >= self.cfg.inflight_per_integration * 2,
            })
            .map(|(id, _)| *id)
            .collect()
    }

    fn start(&self, d: ClaimedDelivery) {
        let permits = {
            let mut lanes = self.lanes.lock().expect("lanes lock");
            let lane = lanes
                .entry(d.integration_id)
                .or_insert_with(|| Lane::new(&self.cfg));
            lane.held += 1;
            if lane.state(now_ms()) == CircuitState::HalfOpen {
                lane.probing = true;
            }
            lane.permits.clone()
        };
        let me = self.clone();
        tokio::spawn(async move {
            let _permit = permits.acquire_owned().await.expect("semaphore open");
            let integration_id = d.integration_id;
            if let Err(e) = me.attempt(d).await {
                tracing::warn!(integration_id, error = %e, "delivery attempt could not be recorded; its lease will expire and it will be retried");
            }
            let mut lanes = me.lanes.lock().expect("lanes lock");
            if let Some(l) = lanes.get_mut(&integration_id) {
                l.held = l.held.saturating_sub(1);
            }
        });
    }

    /// Records a success or failure on the lane, opening or closing its circuit.
    fn settle_lane(&self, integration_id: i64, success: bool) {
        let now = now_ms();
        let mut lanes = self.lanes.lock().expect("lanes lock");
        let Some(l) = lanes.get_mut(&integration_id) else {
            return;
        };
        l.probing = false;
        if success {
            l.consecutive_failures = 0;
            l.open_until_ms = 0;
            l.open_for = self.cfg.circuit_open;
            return;
        }
        l.consecutive_failures += 1;
        let was_probe = l.state(now) == CircuitState::HalfOpen;
        if was_probe || l.consecutive_failures >= self.cfg.circuit_threshold {
            l.open_until_ms = now + l.open_for.as_millis() as i64;
            tracing::warn!(
                integration_id,
                paused_ms = l.open_for.as_millis() as u64,
                "endpoint failing: circuit open"
            );
            l.open_for = (l.open_for * 2).min(self.cfg.circuit_open_max);
        }
    }

    fn paused_until(&self, integration_id: i64) -> Option<i64> {
        let now = now_ms();
        let lanes = self.lanes.lock().expect("lanes lock");
        lanes
            .get(&integration_id)
            .filter(|l| l.state(now) == CircuitState::Open)
            .map(|l| l.open_until_ms)
    }

    async fn attempt(&self, d: ClaimedDelivery) -> dutyhook_store::Result<()> {
        if let Some(until) = self.paused_until(d.integration_id) {
            // Pausing delays, never drops: back to the queue until the circuit's probe.
            return self.store.release_delivery(d.delivery_id, until).await;
        }
        let Some(settings) = self.settings(d.integration_id).await? else {
            return self
                .store
                .release_delivery(d.delivery_id, i64::MAX / 2)
                .await;
        };
        let integration = &settings.record;
        if !integration.enabled {
            return self
                .store
                .release_delivery(d.delivery_id, now_ms() + 30_000)
                .await;
        }
        let Some(cfg) = settings.config.as_ref() else {
            return self
                .store
                .release_delivery(d.delivery_id, now_ms() + 60_000)
                .await;
        };
        let body = render_body(settings.template.as_ref(), &d.event.payload);
        let keys = signing_keys(integration, now_ms());
        let res = self
            .pusher
            .push(PushRequest {
                url: &cfg.endpoint,
                headers: &cfg.headers,
                body: &body,
                event_id: &d.event.event_id,
                keys: &keys,
                timeout: Duration::from_millis(cfg.timeout_ms as u64),
                tls_verify: cfg.tls_verify,
            })
            .await;
        let attempt_no = d.attempts + 1;
        let outcome = if res.success {
            Outcome::Success
        } else {
            Outcome::Failed {
                class: res.class.expect("a failure has a class"),
                status: res.status,
                retry_after: res.retry_after,
            }
        };
        let policy = RetryPolicy::parse(&cfg.retry_policy).unwrap_or_default();
        let jitter = rand::thread_rng().gen_range(-1.0..=1.0);
        let decision = decide(
            policy,
            attempt_no as u32,
            outcome,
            self.cfg.schedule,
            jitter,
        );
        let resolution = match decision {
            Decision::Done => DeliveryResolution::Done,
            Decision::RetryAfter(after) => {
                DeliveryResolution::RetryAt(now_ms() + after.as_millis() as i64)
            }
            Decision::GiveUp | Decision::GiveUpAndDisable => DeliveryResolution::Failed,
        };
        if res.success {
            tracing::debug!(integration_id = d.integration_id, event_id = %d.event.event_id, status = res.status, ms = res.duration_ms, "pushed");
        } else {
            tracing::warn!(integration_id = d.integration_id, event_id = %d.event.event_id, attempt = attempt_no,
                class = res.class.map(|c| c.as_str()).unwrap_or(""), error = %res.error, "push failed");
        }
        let record = attempt_record(
            integration,
            d.delivery_id,
            attempt_no,
            &d.event,
            &res,
            false,
        );
        let mut record = record;
        if settings.template.is_none() {
            // The body is the stored event payload: keep one copy, not one per attempt.
            record.request["body"] = serde_json::Value::Null;
            record.request["body_is_event_payload"] = serde_json::Value::Bool(true);
        }
        // Disabled before the attempt is recorded: whoever sees the 410 in the
        // history also sees the integration disabled.
        if decision == Decision::GiveUpAndDisable {
            let reason = format!(
                "disabled: the endpoint answered 410 Gone (event {})",
                d.event.event_id
            );
            self.store
                .set_integration_enabled(d.integration_id, false, &reason)
                .await?;
        }
        if decision == Decision::GiveUpAndDisable {
            self.integrations
                .lock()
                .expect("settings lock")
                .remove(&d.integration_id);
        }
        self.queued
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if self
            .completions
            .send(Completion {
                delivery_id: d.delivery_id,
                resolution,
                record: record.clone(),
            })
            .is_err()
        {
            self.queued
                .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
            self.store
                .complete_delivery(d.delivery_id, resolution, &record)
                .await?;
        }
        self.settle_lane(d.integration_id, res.success);
        Ok(())
    }
}
