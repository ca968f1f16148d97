//! Pushes claimed deliveries. The store's writer claims due deliveries in
//! the same transaction as the changes that made them due (new events,
//! settled predecessors) and hands them over here; each is pushed under its
//! integration's lane (in-flight cap, circuit breaker) and its outcome goes
//! back to the writer, batched with everything else it commits. Order per
//! (integration, subject) is the store's: only a key's head is ever claimed.
//! A tick loop covers what no write announces: retries and pauses coming
//! due, expired leases, and a polling backstop.

mod attempt;
mod claims;
mod disabling;
mod health_signal;
mod mail_attempt;
mod signals;

pub use health_signal::{HealthSignal, SignalSender};

use crate::invoker::{render_body, Invoker};
pub use crate::lanes::CircuitState;
use crate::lanes::{LaneConfig, Lanes};
pub use crate::now_ms;
use crate::retry::Schedule;
use dutyhook_domain::ids::{DeliveryId, IntegrationId};
use dutyhook_domain::webhook::WebhookConfig;
use dutyhook_store::{Claimer, Completion, Store};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::{watch, Notify};

use self::attempt::Settings;

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
    /// An integration whose every push has failed for this long is disabled;
    /// `None`: never.
    pub disable_after: Option<Duration>,
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
            disable_after: Some(Duration::from_secs(72 * 3600)),
        }
    }
}

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
    settings: Mutex<HashMap<IntegrationId, (Instant, Arc<Settings>)>>,
    /// The earliest time (ms) at which something we know of comes due.
    next_due: AtomicI64,
    tick: Notify,
    stopping: AtomicBool,
    /// Claimed by this process and not yet settled.
    held: Mutex<std::collections::HashSet<DeliveryId>>,
    /// When each failing integration was last looked at for auto-disable.
    disable_checks: Mutex<HashMap<IntegrationId, Instant>>,
    /// Who hears about given-up deliveries, disables and recoveries.
    signals: std::sync::OnceLock<SignalSender>,
    /// The SMTP server, when the installation has one.
    mailer: std::sync::OnceLock<Arc<crate::mail::Mailer>>,
    /// Whether each integration's latest push here succeeded.
    last_ok: Mutex<HashMap<IntegrationId, bool>>,
    /// Integrations whose circuit this process opened in the database.
    circuits_shared: Mutex<std::collections::HashSet<IntegrationId>>,
    /// Set when shutdown gave back what was still held: late outcomes of
    /// those pushes are not written (another process may own them by then).
    given_back: AtomicBool,
}

/// The body for a webhook: the payload, or its template rendered over it.
pub fn body_for(cfg: &WebhookConfig, payload: &str) -> Vec<u8> {
    render_body(cfg.template().as_ref(), payload)
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
            circuits_shared: Default::default(),
            disable_checks: Default::default(),
            signals: Default::default(),
            mailer: Default::default(),
            last_ok: Default::default(),
            given_back: AtomicBool::new(false),
        });
        Dispatcher { inner }
    }

    /// Drops cached settings after a change made through this process.
    pub fn forget(&self, integration_id: IntegrationId) {
        self.inner
            .settings
            .lock()
            .expect("settings lock")
            .remove(&integration_id);
    }

    /// Sends this dispatcher's health signals to `tx` from now on (once:
    /// one listener per process).
    pub fn signal_to(&self, tx: SignalSender) {
        if self.inner.signals.set(tx).is_err() {
            tracing::warn!("the dispatcher's health signals already have a listener");
        }
    }

    /// Sends the e-mail integration's deliveries through `mailer`.
    pub fn mail_with(&self, mailer: Arc<crate::mail::Mailer>) {
        if self.inner.mailer.set(mailer).is_err() {
            tracing::warn!("the dispatcher already has an SMTP server");
        }
    }

    /// Looks for due work now (e.g. after an integration was enabled).
    pub fn poke(&self) {
        self.inner.tick.notify_one();
    }

    pub fn circuit_states(&self) -> Vec<(IntegrationId, CircuitState)> {
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
