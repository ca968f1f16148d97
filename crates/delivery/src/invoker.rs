//! One call to an endpoint, made the same way for every push — a queued
//! delivery, a test push, a custom action: signed with the integration's
//! keys, its addresses checked against the outbound policy, pushed under a
//! deadline, classified, and written up as one attempt of the history.

use std::time::Duration;

use dutyhook_domain::action::ActionConfig;
use dutyhook_domain::endpoint_auth::EndpointAuth;
use dutyhook_domain::headers::Header;
use dutyhook_domain::ids::DeliveryId;
use dutyhook_domain::template::Template;
use dutyhook_domain::template_text::with_readable;
use dutyhook_domain::webhook::WebhookConfig;
use dutyhook_store::{AttemptRecord, IntegrationRecord, Store, StoredEvent};

use crate::attempt_record::{attempt_record, Attempt, Outcome};
use crate::metrics::Metrics;
use crate::now_ms;
use crate::push::{PushRequest, PushResult, Pusher};
use crate::signature::secret_key;

/// Where a call goes and how.
#[derive(Debug, Clone, Copy)]
pub struct Endpoint<'a> {
    pub url: &'a str,
    /// `url` as [`check_endpoint`](crate::outbound::check_endpoint) parsed
    /// it, when the caller keeps it: spares a parse per push.
    pub parsed: Option<&'a url::Url>,
    pub headers: &'a [Header],
    pub auth: &'a EndpointAuth,
    pub tls_verify: bool,
    pub timeout: Duration,
}

impl<'a> From<&'a WebhookConfig> for Endpoint<'a> {
    fn from(cfg: &'a WebhookConfig) -> Self {
        Endpoint {
            url: &cfg.endpoint,
            parsed: None,
            headers: &cfg.headers,
            auth: &cfg.auth,
            tls_verify: cfg.tls_verify,
            timeout: Duration::from_millis(cfg.timeout_ms as u64),
        }
    }
}

impl<'a> From<&'a ActionConfig> for Endpoint<'a> {
    fn from(cfg: &'a ActionConfig) -> Self {
        Endpoint {
            url: &cfg.endpoint,
            parsed: None,
            headers: &cfg.headers,
            auth: &cfg.auth,
            tls_verify: cfg.tls_verify,
            timeout: Duration::from_millis(cfg.timeout_ms as u64),
        }
    }
}

/// One call: what is sent, for which integration and event.
pub struct Call<'a> {
    pub integration: &'a IntegrationRecord,
    pub endpoint: Endpoint<'a>,
    pub body: &'a [u8],
    /// The body is the event's payload unchanged (no template).
    pub body_is_event_payload: bool,
    pub event: &'a StoredEvent,
    /// The queued delivery it settles; 0 outside the queue.
    pub delivery_id: DeliveryId,
    /// 1 for the first attempt.
    pub attempt: i64,
    /// A test push, not an event's delivery.
    pub test: bool,
}

/// A call made: how it went, and its attempt record (which holds the request
/// and the response; `result`'s are moved there).
pub struct Invoked {
    pub result: PushResult,
    pub record: AttemptRecord,
}

#[derive(Clone)]
pub struct Invoker {
    pusher: Pusher,
    metrics: Metrics,
}

impl Invoker {
    pub fn new(pusher: Pusher, metrics: Metrics) -> Self {
        Invoker { pusher, metrics }
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    pub fn policy(&self) -> &crate::outbound::Policy {
        self.pusher.policy()
    }

    /// Makes the call; the attempt is for the caller to record, then count.
    pub async fn call(&self, call: Call<'_>) -> Invoked {
        let keys = signing_keys(call.integration, now_ms());
        let mut result = self
            .pusher
            .push(PushRequest {
                url: call.endpoint.url,
                parsed: call.endpoint.parsed,
                headers: call.endpoint.headers,
                auth: call.endpoint.auth,
                body: call.body,
                event_id: &call.event.event_id,
                keys: &keys,
                timeout: call.endpoint.timeout,
                tls_verify: call.endpoint.tls_verify,
                body_is_event_payload: call.body_is_event_payload,
            })
            .await;
        let record = history_record(&call, &mut result);
        Invoked { result, record }
    }

    /// Counts a recorded attempt: after it is in the history, so that a
    /// scrape never shows a push the history lacks.
    pub fn count(&self, tally: &Tally) {
        self.metrics
            .record_push(&tally.kind, &tally.outcome, tally.seconds);
    }

    /// Makes a call outside the queue and records its attempt at once.
    pub async fn call_and_record(
        &self,
        store: &dyn Store,
        call: Call<'_>,
    ) -> dutyhook_store::Result<Invoked> {
        let invoked = self.call(call).await;
        store.record_attempt(&invoked.record).await?;
        self.count(&Tally::of(&invoked.record));
        Ok(invoked)
    }
}

/// What the metrics count of an attempt: its integration's kind, `success`
/// or its failure class, and how long it took.
pub struct Tally {
    kind: String,
    outcome: String,
    seconds: f64,
}

impl Tally {
    pub fn of(record: &AttemptRecord) -> Tally {
        Tally {
            kind: record.integration_kind.as_str().to_string(),
            outcome: if record.success {
                "success".into()
            } else {
                record.error_class.clone()
            },
            seconds: record.duration_ms as f64 / 1000.0,
        }
    }
}

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

/// The body to send: the payload, or the template rendered over it (and
/// over the readable text of `template_text`, when the template reads it).
pub fn render_body(template: Option<&Template>, payload: &str) -> Vec<u8> {
    if let Some(t) = template {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(payload) {
            let doc = if t.reads_text() { with_readable(v) } else { v };
            return t.render(&doc).to_string().into_bytes();
        }
    }
    payload.as_bytes().to_vec()
}

/// The history record of one attempt; the request and the response move
/// into it (they are most of its size).
fn history_record(call: &Call<'_>, res: &mut PushResult) -> AttemptRecord {
    let attempt = Attempt {
        integration: call.integration,
        event: call.event,
        delivery_id: call.delivery_id,
        attempt: call.attempt,
        test: call.test,
    };
    let outcome = Outcome {
        success: res.success,
        code: res.status,
        class: res.class,
        error: res.error.clone(),
        started_at_ms: res.started_at_ms,
        duration_ms: res.duration_ms,
        request: std::mem::take(&mut res.request),
        response: std::mem::take(&mut res.response),
    };
    attempt_record(attempt, outcome)
}
