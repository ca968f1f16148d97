//! The history record of one attempt at an event, however it was made: a
//! push by the invoker or a mail by the dispatcher. One place knows which
//! fact of an attempt goes where in the record.

use dutyhook_domain::ids::{new_event_id, DeliveryId};
use dutyhook_store::{AttemptRecord, IntegrationRecord, JsonText, StoredEvent};

use crate::retry::FailureClass;

/// Which attempt it was.
pub(crate) struct Attempt<'a> {
    pub integration: &'a IntegrationRecord,
    pub event: &'a StoredEvent,
    /// The queued delivery it settles; 0 outside the queue.
    pub delivery_id: DeliveryId,
    /// 1 for the first attempt.
    pub attempt: i64,
    pub test: bool,
}

/// How one attempt went, as the history records it.
pub struct Outcome {
    pub success: bool,
    /// The HTTP status, or the SMTP reply code (0: no answer).
    pub code: u16,
    pub class: Option<FailureClass>,
    pub error: String,
    pub started_at_ms: i64,
    pub duration_ms: i64,
    /// `{url, headers, body}`, secrets masked.
    pub request: JsonText,
    /// `{headers, body, truncated}`.
    pub response: JsonText,
}

pub(crate) fn attempt_record(a: Attempt<'_>, o: Outcome) -> AttemptRecord {
    let event = a.event;
    AttemptRecord {
        invocation_id: new_event_id(),
        integration_id: a.integration.integration_id,
        integration_kind: a.integration.kind,
        delivery_id: a.delivery_id,
        event_id: event.event_id.clone(),
        event_type: event.event_type,
        subject_kind: event.subject_kind,
        subject_id: event.subject_id.clone(),
        attempt: a.attempt,
        test: a.test,
        event_time: event.event_time,
        started_at: o.started_at_ms,
        duration_ms: o.duration_ms,
        success: o.success,
        http_status: o.code as i64,
        error_class: o.class.map(|c| c.as_str().to_string()).unwrap_or_default(),
        error: o.error,
        request: o.request,
        response: o.response,
    }
}
