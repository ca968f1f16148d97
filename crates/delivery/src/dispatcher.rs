//! Pushes claimed deliveries. The store's writer claims due deliveries in
//! the same transaction as the changes that made them due (new events,
//! settled predecessors) and hands them over here; each is pushed under its
//! integration's lane (in-flight cap, circuit breaker) and its outcome goes
//! back to the writer, batched with everything else it commits. Order per
//! (integration, subject) is the store's: only a key's head is ever claimed.
//! A tick loop covers what no write announces: retries and pauses coming
//! due, expired leases, and a polling backstop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

use dutyhook_domain::template::Template;
use dutyhook_domain::webhook::WebhookConfig;
use dutyhook_store::{
    ClaimBudget, ClaimedDelivery, Claimer, Completion, DeliveryResolution, IntegrationRecord, Store,
};
use rand::Rng;
use tokio::sync::{watch, Notify, OwnedSemaphorePermit};

use crate::invoker::{render_body, Call, Endpoint, Invoked, Invoker, Tally};
pub use crate::lanes::CircuitState;
use crate::lanes::{LaneConfig, Lanes};
pub use crate::now_ms;
use crate::retry::{decide, Decision, Outcome, Schedule};

#[derive(Debug, Clone)]
pub struct DeliveryConfig {
    pub inflight_per_integration: usize,
    /// At most this many deliveries claimed and not yet settled.
    pub batch: i64,
    /// How long a claimed delivery stays ours before others may take it.
    pub lease: Duration,
    /// Polling backstop when nothing announces due work.
    pub poll: Duration,
    pub schedule: Schedule,
    pub circuit_threshold: u32,
    pub circuit_open: Duration,
    pub circuit_open_max: Duration,
    /// On shutdown, how long pushes in flight may take to finish.
    pub shutdown_grace: Duration,
}

impl Default for DeliveryConfig {
    fn default() -> Self {
        DeliveryConfig {
            inflight_per_integration: 16,
            batch: 512,
            lease: Duration::from_secs(120),
            poll: Duration::from_millis(500),
            schedule: Schedule::default(),
            circuit_threshold: 5,
            circuit_open: Duration::from_secs(30),
            circuit_open_max: Duration::from_secs(600),
            shutdown_grace: Duration::from_secs(10),
        }
    }
}

/// An integration's settings as pushes use them, cached briefly so a burst
/// of pushes reads them once.
struct Settings {
    record: IntegrationRecord,
    config: Option<WebhookConfig>,
    template: Option<Template>,
}

const SETTINGS_TTL: Duration = Duration::from_secs(1);
/// Deliveries of a disabled integration stay queued; looked at again after this.
const DISABLED_RECHECK_MS: i64 = 30_000;

#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    me: Weak<Inner>,
    /// Where pushes run: the runtime the dispatcher was made on.
    runtime: tokio::runtime::Handle,
    store: Arc<dyn Store>,
    invoker: Invoker,
    cfg: DeliveryConfig,
    lanes: Mutex<Lanes>,
    settings: Mutex<HashMap<i64, (Instant, Arc<Settings>)>>,
    /// The earliest time (ms) at which something we know of comes due.
    next_due: AtomicI64,
    tick: Notify,
    stopping: AtomicBool,
    /// Claimed by this process and not yet settled.
    held: Mutex<std::collections::HashSet<i64>>,
    /// Pushed, with the outcome on its way to the database: the lease is
    /// still there, but the slot is free (so the cluster cap does not count it).
    settling: Mutex<std::collections::HashSet<i64>>,
    /// Integrations whose circuit this process opened in the database.
    circuits_shared: Mutex<std::collections::HashSet<i64>>,
    /// Set when shutdown gave back what was still held: late outcomes of
    /// those pushes are not written (another process may own them by then).
    given_back: AtomicBool,
}

/// The body for a webhook: the payload, or its template rendered over it.
pub fn body_for(cfg: &WebhookConfig, payload: &str) -> Vec<u8> {
    render_body(cfg.template().as_ref(), payload)
}

impl Claimer for Inner {
    fn budget(&self, now_ms: i64) -> ClaimBudget {
        if self.stopping.load(Ordering::Relaxed) {
            return ClaimBudget::default();
        }
        // One process owns a SQLite database; its lanes are the cap.
        let cluster_cap = (!self.store.owned_by_this_process())
            .then_some(self.cfg.inflight_per_integration as i64);
        // Only the cluster cap reads them. Held before settling: a push moving
        // from one to the other in between is then in both, never in neither.
        let own: Vec<i64> = match cluster_cap {
            Some(_) => {
                let mut own: Vec<i64> = self
                    .held
                    .lock()
                    .expect("held lock")
                    .iter()
                    .copied()
                    .collect();
                own.extend(self.settling.lock().expect("settling lock").iter().copied());
                own
            }
            None => vec![],
        };
        let lanes = self.lanes.lock().expect("lanes lock");
        ClaimBudget {
            limit: (self.cfg.batch - lanes.held_total() as i64).max(0),
            exclude: lanes.exclusions(now_ms),
            lease_ms: self.cfg.lease.as_millis() as i64,
            cluster_cap,
            own,
            lane_depth: lanes.default_depth() as i64,
            lane_rooms: lanes.rooms(),
            held: lanes.held_by_integration(),
        }
    }

    fn take(&self, deliveries: Vec<ClaimedDelivery>) {
        let Some(me) = self.me.upgrade() else { return };
        let mut lanes = self.lanes.lock().expect("lanes lock");
        let mut held = self.held.lock().expect("held lock");
        for d in deliveries {
            held.insert(d.delivery_id);
            let permits = lanes.hold(d.integration_id);
            let me = me.clone();
            // Called from the store's writer, which runs on a runtime of its own.
            self.runtime.spawn(async move {
                let permit = permits.acquire_owned().await.expect("semaphore open");
                me.deliver(d, permit).await;
            });
        }
    }
}

impl Dispatcher {
    pub fn new(store: Arc<dyn Store>, invoker: Invoker, cfg: DeliveryConfig) -> Self {
        let lanes = Lanes::new(LaneConfig {
            inflight: cfg.inflight_per_integration,
            failure_threshold: cfg.circuit_threshold,
            open_for: cfg.circuit_open,
            open_for_max: cfg.circuit_open_max,
            lease: cfg.lease,
        });
        let inner = Arc::new_cyclic(|me| Inner {
            me: me.clone(),
            runtime: tokio::runtime::Handle::current(),
            store,
            invoker,
            cfg,
            lanes: Mutex::new(lanes),
            settings: Default::default(),
            next_due: AtomicI64::new(i64::MAX),
            tick: Notify::new(),
            stopping: AtomicBool::new(false),
            held: Default::default(),
            settling: Default::default(),
            circuits_shared: Default::default(),
            given_back: AtomicBool::new(false),
        });
        Dispatcher { inner }
    }

    /// Drops cached settings after a change made through this process.
    pub fn forget(&self, integration_id: i64) {
        self.inner
            .settings
            .lock()
            .expect("settings lock")
            .remove(&integration_id);
    }

    /// Looks for due work now (e.g. after an integration was enabled).
    pub fn poke(&self) {
        self.inner.tick.notify_one();
    }

    pub fn circuit_states(&self) -> Vec<(i64, CircuitState)> {
        self.inner
            .lanes
            .lock()
            .expect("lanes lock")
            .states(now_ms())
    }

    /// Runs until `shutdown` turns true, then lets pushes in flight finish
    /// (within the grace period) and gives the rest back.
    /// `release_all_leases` is for a process that owns its database (SQLite):
    /// leases left by a crash are its own.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>, release_all_leases: bool) {
        let inner = self.inner;
        let sink: Arc<dyn Claimer> = inner.clone();
        inner.store.attach_claimer(Arc::downgrade(&sink));
        let cutoff = if release_all_leases {
            i64::MAX
        } else {
            now_ms()
        };
        if let Err(e) = inner.store.release_expired_leases(cutoff).await {
            tracing::warn!(error = %e, "could not release leases at start");
        }
        let mut last_release = now_ms();
        let remote = inner.store.remote_commits();
        while !*shutdown.borrow() {
            if let Err(e) = inner.store.claim_now().await {
                tracing::warn!(error = %e, "claiming deliveries failed; will retry");
            }
            let now = now_ms();
            if now - last_release > 5_000 {
                last_release = now;
                if let Err(e) = inner.store.release_expired_leases(now).await {
                    tracing::warn!(error = %e, "releasing expired leases failed");
                }
            }
            let due = inner.next_due.swap(i64::MAX, Ordering::Relaxed);
            let poll = inner.cfg.poll.as_millis() as i64;
            let wait = (due.saturating_sub(now_ms())).clamp(0, poll);
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(wait as u64)) => {}
                _ = inner.tick.notified() => {}
                _ = remote.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
        inner.stopping.store(true, Ordering::Relaxed);
        let deadline = Instant::now() + inner.cfg.shutdown_grace;
        while inner.lanes.lock().expect("lanes lock").held_total() > 0 && Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Past the grace period: give back what is still in flight, so other
        // processes retry it now rather than when its lease expires.
        inner.given_back.store(true, Ordering::Relaxed);
        let rest: Vec<Completion> = inner
            .held
            .lock()
            .expect("held lock")
            .drain()
            .map(|delivery_id| Completion::Release {
                delivery_id,
                next_at: now_ms(),
            })
            .collect();
        if !rest.is_empty() {
            let n = rest.len();
            match inner.store.complete_deliveries(rest).await {
                Ok(()) => tracing::info!(count = n, "gave back pushes still in flight at shutdown"),
                Err(e) => {
                    tracing::warn!(error = %e, "could not give back leases at shutdown; they expire on their own")
                }
            }
        }
    }
}

impl Inner {
    /// Tells the other processes of a cluster that an endpoint's circuit
    /// opened (until when) or closed again; a no-op for a circuit this
    /// process never opened.
    async fn share_circuit(&self, integration_id: i64, open_until: Option<i64>) {
        let result = match open_until {
            Some(until) => {
                self.circuits_shared
                    .lock()
                    .expect("circuits lock")
                    .insert(integration_id);
                self.store.open_circuit(integration_id, until).await
            }
            None => {
                let shared = self
                    .circuits_shared
                    .lock()
                    .expect("circuits lock")
                    .remove(&integration_id);
                if !shared {
                    return;
                }
                self.store.close_circuit(integration_id).await
            }
        };
        if let Err(e) = result {
            tracing::warn!(integration_id, error = %e, "could not share the circuit state");
        }
    }
}

fn completion_id(c: &Completion) -> i64 {
    match c {
        Completion::Release { delivery_id, .. } => *delivery_id,
        Completion::Attempt { delivery_id, .. } => *delivery_id,
    }
}

impl Inner {
    fn due_at(&self, at_ms: i64) {
        self.next_due.fetch_min(at_ms, Ordering::Relaxed);
    }

    /// Pushes one claimed delivery and hands its outcome to the writer.
    /// `permit` is its lane's slot: given back as soon as the attempt has
    /// ended, so the next push starts while this record is being committed.
    async fn deliver(self: Arc<Self>, d: ClaimedDelivery, permit: OwnedSemaphorePermit) {
        let integration_id = d.integration_id;
        let completion = if self.stopping.load(Ordering::Relaxed) {
            // Shutting down: not started, so given back for whoever runs next.
            Completion::Release {
                delivery_id: d.delivery_id,
                next_at: now_ms(),
            }
        } else {
            self.attempt(&d).await
        };
        drop(permit);
        self.lanes
            .lock()
            .expect("lanes lock")
            .release(integration_id);
        match &completion {
            Completion::Release { next_at, .. } => self.due_at(*next_at),
            Completion::Attempt {
                resolution: DeliveryResolution::RetryAt(at),
                ..
            } => self.due_at(*at),
            Completion::Attempt { .. } => {}
        }
        let pushed = match &completion {
            Completion::Attempt { record, .. } => Some(Tally::of(record)),
            Completion::Release { .. } => None,
        };
        let delivery_id = completion_id(&completion);
        let still_ours = self.held.lock().expect("held lock").remove(&delivery_id);
        if !still_ours || self.given_back.load(Ordering::Relaxed) {
            return;
        }
        self.settling
            .lock()
            .expect("settling lock")
            .insert(delivery_id);
        let recorded = self.store.complete_deliveries(vec![completion]).await;
        self.settling
            .lock()
            .expect("settling lock")
            .remove(&delivery_id);
        match recorded {
            // Counted once recorded, so a scrape never sees a push the history lacks.
            Ok(()) => {
                if let Some(tally) = pushed {
                    self.invoker.count(&tally);
                }
            }
            Err(e) => tracing::warn!(integration_id, error = %e,
                "an attempt could not be recorded; its lease will expire and it will be retried"),
        }
    }

    async fn settings(&self, integration_id: i64) -> dutyhook_store::Result<Option<Arc<Settings>>> {
        if let Some((at, s)) = self
            .settings
            .lock()
            .expect("settings lock")
            .get(&integration_id)
        {
            if at.elapsed() < SETTINGS_TTL {
                return Ok(Some(s.clone()));
            }
        }
        let Some(record) = self.store.integration(integration_id).await? else {
            self.settings
                .lock()
                .expect("settings lock")
                .remove(&integration_id);
            return Ok(None);
        };
        let config = record.config.webhook().cloned();
        if config.is_none() {
            tracing::error!(
                integration_id,
                "a delivery for an integration that is no webhook"
            );
        }
        let template = config.as_ref().and_then(|c| c.template());
        if let Some(c) = &config {
            // Read once per refresh, not per push.
            self.lanes
                .lock()
                .expect("lanes lock")
                .set_timeout(integration_id, Duration::from_millis(c.timeout_ms as u64));
        }
        let s = Arc::new(Settings {
            record,
            config,
            template,
        });
        self.settings
            .lock()
            .expect("settings lock")
            .insert(integration_id, (Instant::now(), s.clone()));
        Ok(Some(s))
    }

    fn release(d: &ClaimedDelivery, next_at: i64) -> Completion {
        Completion::Release {
            delivery_id: d.delivery_id,
            next_at,
        }
    }

    async fn attempt(&self, d: &ClaimedDelivery) -> Completion {
        let paused = self
            .lanes
            .lock()
            .expect("lanes lock")
            .paused_until(d.integration_id, now_ms());
        if let Some(until) = paused {
            // Pausing delays, never drops: back to the queue until the circuit's probe.
            return Self::release(d, until);
        }
        let settings = match self.settings(d.integration_id).await {
            Ok(Some(s)) => s,
            // Deleted: its deliveries went with it.
            Ok(None) => return Self::release(d, i64::MAX / 2),
            Err(e) => {
                tracing::warn!(integration_id = d.integration_id, error = %e, "reading the integration failed");
                return Self::release(d, now_ms() + 1_000);
            }
        };
        let integration = &settings.record;
        if !integration.enabled {
            return Self::release(d, now_ms() + DISABLED_RECHECK_MS);
        }
        let Some(cfg) = settings.config.as_ref() else {
            return Self::release(d, now_ms() + 60_000);
        };
        let body = render_body(settings.template.as_ref(), &d.event.payload);
        let attempt_no = d.attempts + 1;
        let Invoked {
            result: res,
            record,
        } = self
            .invoker
            .call(Call {
                integration,
                endpoint: Endpoint {
                    url: &cfg.endpoint,
                    headers: &cfg.headers,
                    tls_verify: cfg.tls_verify,
                    timeout: Duration::from_millis(cfg.timeout_ms as u64),
                },
                body: &body,
                body_is_event_payload: settings.template.is_none(),
                event: &d.event,
                delivery_id: d.delivery_id,
                attempt: attempt_no,
                test: false,
            })
            .await;
        let outcome = if res.success {
            Outcome::Success
        } else {
            Outcome::Failed {
                class: res.class.expect("a failure has a class"),
                status: res.status,
                retry_after: res.retry_after,
            }
        };
        let policy = cfg.retry_policy;
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
        // Disabled before the attempt is recorded: whoever sees the 410 in the
        // history also sees the integration disabled.
        if decision == Decision::GiveUpAndDisable {
            let reason = format!(
                "disabled: the endpoint answered 410 Gone (event {})",
                d.event.event_id
            );
            if let Err(e) = self
                .store
                .set_integration_enabled(d.integration_id, false, &reason)
                .await
            {
                tracing::warn!(integration_id = d.integration_id, error = %e, "could not disable the integration after 410");
            }
            self.settings
                .lock()
                .expect("settings lock")
                .remove(&d.integration_id);
        }
        let paused_until = self.lanes.lock().expect("lanes lock").settle(
            d.integration_id,
            res.success,
            now_ms(),
            rand::random::<f64>() * 0.25,
        );
        if let Some(until) = paused_until {
            tracing::warn!(
                integration_id = d.integration_id,
                paused_ms = until - now_ms(),
                "endpoint failing: circuit open"
            );
            self.due_at(until);
            self.share_circuit(d.integration_id, Some(until)).await;
        } else if res.success {
            self.share_circuit(d.integration_id, None).await;
        }
        Completion::Attempt {
            delivery_id: d.delivery_id,
            resolution,
            record: Box::new(record),
        }
    }
}
