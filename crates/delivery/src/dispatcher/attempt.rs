//! One claimed delivery: its integration's settings, the push, the retry
//! decision, the circuit, and the outcome handed to the writer.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use dutyhook_domain::ids::{DeliveryId, IntegrationId};
use dutyhook_domain::template::Template;
use dutyhook_domain::webhook::WebhookConfig;
use dutyhook_store::{ClaimedDelivery, Completion, DeliveryResolution, IntegrationRecord};
use rand::Rng;
use tokio::sync::OwnedSemaphorePermit;

use super::Inner;
use crate::invoker::{render_body, Call, Endpoint, Invoked, Tally};
use crate::now_ms;
use crate::outbound::check_endpoint;
use crate::retry::{decide, Decision, Outcome};

/// An integration's settings as pushes use them, cached briefly so a burst
/// of pushes reads them once.
pub(super) struct Settings {
    pub(super) record: IntegrationRecord,
    config: Option<WebhookConfig>,
    /// The webhook's endpoint, parsed once per refresh.
    url: Option<url::Url>,
    pub(super) mail: Option<dutyhook_domain::integration::MailConfig>,
    template: Option<Template>,
}

const SETTINGS_TTL: Duration = Duration::from_secs(1);

impl Inner {
    /// Tells the other processes of a cluster that an endpoint's circuit
    /// opened (until when) or closed again; a no-op for a circuit this
    /// process never opened.
    async fn share_circuit(&self, integration_id: IntegrationId, change: CircuitChange) {
        let result = match change {
            CircuitChange::None => return,
            CircuitChange::Opened(until) => {
                self.circuits_shared
                    .lock()
                    .expect("circuits lock")
                    .insert(integration_id);
                self.store.open_circuit(integration_id, until).await
            }
            CircuitChange::Closed => {
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
            tracing::warn!(integration_id = integration_id.get(), error = %e, "could not share the circuit state");
        }
    }
}

/// What an attempt did to its endpoint's circuit, for the cluster to share
/// (`Inner::deliver` says when).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum CircuitChange {
    None,
    Opened(i64),
    Closed,
}

fn completion_id(c: &Completion) -> DeliveryId {
    match c {
        Completion::Release { delivery_id, .. } => *delivery_id,
        Completion::Attempt { delivery_id, .. } => *delivery_id,
        Completion::Skip { delivery_id } => *delivery_id,
    }
}

impl Inner {
    pub(super) fn due_at(&self, at_ms: i64) {
        self.next_due.fetch_min(at_ms, Ordering::Relaxed);
    }

    /// Pushes one claimed delivery and hands its outcome to the writer.
    /// `permit` is its lane's slot: given back as soon as the attempt has
    /// ended, so the next push starts while this record is being committed.
    pub(super) async fn deliver(self: Arc<Self>, d: ClaimedDelivery, permit: OwnedSemaphorePermit) {
        let integration_id = d.integration_id;
        let (completion, circuit) = if self.stopping.load(Ordering::Relaxed) {
            // Shutting down: not started, so given back for whoever runs next.
            let release = Completion::Release {
                delivery_id: d.delivery_id,
                next_at: now_ms(),
            };
            (release, CircuitChange::None)
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
            // The next of its key may be due now.
            Completion::Skip { .. } => self.due_at(now_ms()),
        }
        let pushed = match &completion {
            Completion::Attempt { record, .. } => Some(Tally::of(record)),
            Completion::Release { .. } | Completion::Skip { .. } => None,
        };
        let delivery_id = completion_id(&completion);
        let still_ours = self.held.lock().expect("held lock").remove(&delivery_id);
        // A success closes the circuit before it is recorded, a failure opens
        // it after: whoever reads the circuit and then the history (health)
        // never sees it open without the failure that opened it, nor open
        // after the success that closed it.
        if circuit == CircuitChange::Closed {
            self.share_circuit(integration_id, circuit).await;
        }
        if still_ours && !self.given_back.load(Ordering::Relaxed) {
            self.record(completion, pushed, integration_id).await;
        }
        if let CircuitChange::Opened(_) = circuit {
            self.share_circuit(integration_id, circuit).await;
        }
    }

    async fn record(&self, completion: Completion, pushed: Option<Tally>, id: IntegrationId) {
        match self.store.complete_deliveries(vec![completion]).await {
            // Counted once recorded, so a scrape never sees a push the history lacks.
            Ok(()) => {
                if let Some(tally) = pushed {
                    self.invoker.count(&tally);
                }
            }
            Err(e) => tracing::warn!(integration_id = id.get(), error = %e,
                "an attempt could not be recorded; its lease will expire and it will be retried"),
        }
    }

    pub(super) async fn settings(
        &self,
        integration_id: IntegrationId,
    ) -> dutyhook_store::Result<Option<Arc<Settings>>> {
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
        let mail = record.config.mail().cloned();
        if config.is_none() && mail.is_none() {
            tracing::error!(
                integration_id = integration_id.get(),
                "a delivery for an integration that is no webhook"
            );
        }
        let template = config.as_ref().and_then(|c| c.template());
        let url = config
            .as_ref()
            .and_then(|c| check_endpoint(&c.endpoint, self.invoker.policy()).ok());
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
            url,
            mail,
            template,
        });
        self.settings
            .lock()
            .expect("settings lock")
            .insert(integration_id, (Instant::now(), s.clone()));
        Ok(Some(s))
    }

    pub(super) fn release(d: &ClaimedDelivery, next_at: i64) -> Completion {
        Completion::Release {
            delivery_id: d.delivery_id,
            next_at,
        }
    }

    /// Makes the attempt; answers its outcome and what it did to the circuit.
    pub(super) async fn attempt(&self, d: &ClaimedDelivery) -> (Completion, CircuitChange) {
        let paused = self
            .lanes
            .lock()
            .expect("lanes lock")
            .paused_until(d.integration_id, now_ms());
        if let Some(until) = paused {
            // Pausing delays, never drops: back to the queue until the circuit's probe.
            return (Self::release(d, until), CircuitChange::None);
        }
        let settings = match self.settings(d.integration_id).await {
            Ok(Some(s)) => s,
            // Deleted: its deliveries went with it.
            Ok(None) => return (Self::release(d, i64::MAX / 2), CircuitChange::None),
            Err(e) => {
                tracing::warn!(integration_id = d.integration_id.get(), error = %e, "reading the integration failed");
                return (Self::release(d, now_ms() + 1_000), CircuitChange::None);
            }
        };
        let integration = &settings.record;
        if !integration.enabled {
            let skip = Completion::Skip {
                delivery_id: d.delivery_id,
            };
            return (skip, CircuitChange::None);
        }
        if let Some(mail) = settings.mail.as_ref() {
            let sent = self.mail_attempt(d, integration, mail).await;
            return (sent, CircuitChange::None);
        }
        let Some(cfg) = settings.config.as_ref() else {
            return (Self::release(d, now_ms() + 60_000), CircuitChange::None);
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
                    parsed: settings.url.as_ref(),
                    ..Endpoint::from(cfg)
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
            tracing::debug!(integration_id = d.integration_id.get(), event_id = %d.event.event_id, status = res.status, ms = res.duration_ms, "pushed");
        } else {
            tracing::warn!(integration_id = d.integration_id.get(), event_id = %d.event.event_id, attempt = attempt_no,
                class = res.class.map(|c| c.as_str()).unwrap_or(""), error = %res.error, "push failed");
        }
        // Disabled before the attempt is recorded: whoever sees the 410 in the
        // history also sees the integration disabled.
        if decision == Decision::GiveUpAndDisable {
            let reason = format!(
                "disabled: the endpoint answered 410 Gone (event {})",
                d.event.event_id
            );
            self.disable(d.integration_id, &reason).await;
        } else if !res.success {
            self.consider_disabling(d.integration_id).await;
        }
        if resolution == DeliveryResolution::Failed {
            self.invoker
                .metrics()
                .record_given_up(integration.kind.as_str());
            self.signal(super::HealthSignal::GaveUp {
                integration_id: d.integration_id,
                error_class: res.class.map(|c| c.as_str()).unwrap_or_default().into(),
                error: res.error.clone(),
            });
        }
        self.note_outcome(d.integration_id, res.success);
        let paused_until = self.lanes.lock().expect("lanes lock").settle(
            d.integration_id,
            res.success,
            now_ms(),
            rand::random::<f64>() * 0.25,
        );
        let circuit = if let Some(until) = paused_until {
            tracing::warn!(
                integration_id = d.integration_id.get(),
                paused_ms = until - now_ms(),
                "endpoint failing: circuit open"
            );
            self.due_at(until);
            CircuitChange::Opened(until)
        } else if res.success {
            CircuitChange::Closed
        } else {
            CircuitChange::None
        };
        let attempt = Completion::Attempt {
            delivery_id: d.delivery_id,
            resolution,
            record: Box::new(record),
            note: None,
        };
        (attempt, circuit)
    }
}
