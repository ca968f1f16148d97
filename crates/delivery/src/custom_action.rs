//! Calling a custom action while the person who pressed it waits, under the
//! action's timeout. One press calls the endpoint at most once: a second
//! attempt is made only when the first never reached it (connection refused,
//! name not resolved) and the timeout leaves room. Never after a timeout: the
//! endpoint may already be restarting the host. Every attempt but the last is
//! recorded at once; the last is handed back, to be recorded together with
//! the run it ends.

use std::time::{Duration, Instant};

use dutyhook_domain::action::TriggerPayload;
use dutyhook_domain::event::{EventType, SubjectKind};
use dutyhook_domain::ids::{DeliveryId, IncidentId};
use dutyhook_store::{IntegrationRecord, Store, StoredEvent};

use crate::invoker::{Call, Endpoint, Invoked, Invoker, Tally};
use crate::push::PushResult;

/// Below this, a second attempt could not get an answer anyway.
const MIN_RETRY_BUDGET: Duration = Duration::from_millis(50);

/// Whether to call again: only when the first attempt never reached the
/// endpoint, and the timeout leaves time for another.
fn retry_once(attempt: i64, res: &PushResult, left: Duration) -> bool {
    attempt == 1 && res.never_sent && left >= MIN_RETRY_BUDGET
}

/// The last attempt of a press, not yet recorded, the invocation ids of
/// those before it (recorded), and how long the press took.
pub struct Pressed {
    pub last: Invoked,
    pub earlier: Vec<String>,
    pub took: Duration,
}

/// Masks `secret` (an async run's callback token) wherever the attempt
/// record shows the request body.
fn mask_in(record: &mut dutyhook_store::AttemptRecord, secret: Option<&str>) {
    let Some(secret) = secret.filter(|s| !s.is_empty()) else {
        return;
    };
    let mut request = record.request.value();
    if let Some(body) = request["body"].as_str() {
        request["body"] = body.replace(secret, dutyhook_domain::headers::MASK).into();
        record.request = request.into();
    }
}

/// Sends `payload` (an `i_custom` push about `incident_id`) to `endpoint`
/// for a press; `secret` is masked in the history.
pub async fn press(
    invoker: &Invoker,
    store: &dyn Store,
    action: &IntegrationRecord,
    endpoint: Endpoint<'_>,
    payload: &TriggerPayload,
    incident_id: &IncidentId,
    secret: Option<&str>,
) -> dutyhook_store::Result<Pressed> {
    let event = StoredEvent {
        seq: 0,
        event_id: payload.event_id.clone(),
        event_type: EventType::i_custom,
        subject_kind: SubjectKind::Incident,
        subject_id: incident_id.to_string(),
        event_time: payload.event_time_ms,
        payload: String::new(),
    };
    let body = payload.body.as_bytes();
    let budget = endpoint.timeout;
    let start = Instant::now();
    let mut attempt = 1;
    let mut earlier = vec![];
    let last = loop {
        let left = budget.saturating_sub(start.elapsed());
        let mut invoked = invoker
            .call(Call {
                integration: action,
                endpoint: Endpoint {
                    // The first attempt has the whole timeout; a retry what is left.
                    timeout: if attempt == 1 {
                        endpoint.timeout
                    } else {
                        endpoint.timeout.min(left)
                    },
                    ..endpoint
                },
                body,
                body_is_event_payload: false,
                event: &event,
                delivery_id: DeliveryId(0),
                attempt,
                test: false,
            })
            .await;
        mask_in(&mut invoked.record, secret);
        if !retry_once(
            attempt,
            &invoked.result,
            budget.saturating_sub(start.elapsed()),
        ) {
            break invoked;
        }
        store.record_attempt(&invoked.record).await?;
        earlier.push(invoked.record.invocation_id.clone());
        invoker.count(&Tally::of(&invoked.record));
        attempt += 1;
    };
    invoker
        .metrics()
        .record_custom_action(last.result.outcome());
    Ok(Pressed {
        last,
        earlier,
        took: start.elapsed(),
    })
}
