use dutyhook_domain::event::{EventType, SubjectKind};
use dutyhook_domain::ids::{
    AlertId, ChannelId, DeliveryId, EventId, IncidentId, IntegrationId, PersonId,
};
use dutyhook_domain::integration::{IntegrationConfig, IntegrationKind};
use dutyhook_domain::person::{Person, Role};
use dutyhook_domain::severity::Progress;

/// `p` from 1, `limit` from 1 to 100 (validated by the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub p: i64,
    pub limit: i64,
}

impl Page {
    pub fn offset(&self) -> i64 {
        (self.p - 1) * self.limit
    }
    pub fn all() -> Self {
        Page {
            p: 1,
            limit: i64::MAX / 2,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Listing<T> {
    pub items: Vec<T>,
    pub total: i64,
}

impl<T> Listing<T> {
    pub fn has_next_page(&self, page: Page) -> bool {
        page.offset() + (self.items.len() as i64) < self.total
    }
}

#[derive(Debug, Clone)]
pub struct NewPerson {
    pub name: String,
    pub email: String,
    pub role: Role,
    pub password_hash: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRecord {
    pub person: Person,
    pub role: Role,
    pub created_at: i64,
    pub password_hash: String,
    /// false: deactivated — no sign-in, no keys; history kept.
    pub active: bool,
    /// The person asked for no e-mail.
    pub mail_off: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamRecord {
    pub team_id: i64,
    pub team_name: String,
    pub person_ids: Vec<PersonId>,
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppKeyRecord {
    pub app_key_id: i64,
    pub person_id: PersonId,
    pub name: String,
    /// The first characters of the key, enough to recognise it.
    pub key_hint: String,
    pub created_at: i64,
}

#[derive(Debug, Clone, Default)]
pub struct IncidentFilter {
    pub start_time: i64,
    pub end_time: i64,
    pub progress: Vec<Progress>,
    pub severities: Vec<String>,
    pub channel_ids: Vec<ChannelId>,
    pub query: Option<String>,
    pub title: Option<String>,
    pub creator_ids: Vec<PersonId>,
    pub closer_ids: Vec<PersonId>,
    pub incident_ids: Vec<IncidentId>,
    pub nums: Vec<String>,
    /// Channels of these teams.
    pub team_ids: Vec<i64>,
    /// Snoozed now (true) or not (false).
    pub snoozed: Option<bool>,
    /// Oldest first.
    pub asc: bool,
    /// Incidents grouped the same way (`equals_md5`).
    pub group_key: Option<String>,
    /// The same title, case aside.
    pub same_title: Option<String>,
    /// Incidents other than this one that started before it.
    pub before: Option<IncidentId>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEvent {
    pub seq: i64,
    pub event_id: EventId,
    pub event_type: EventType,
    pub subject_kind: SubjectKind,
    pub subject_id: String,
    pub event_time: i64,
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct IntegrationRecord {
    pub integration_id: IntegrationId,
    pub kind: IntegrationKind,
    pub name: String,
    pub team_id: i64,
    pub enabled: bool,
    pub disabled_reason: String,
    /// Kind-specific settings, secrets included.
    pub config: IntegrationConfig,
    pub secret: String,
    pub previous_secret: String,
    /// Until when (ms) pushes also carry the previous secret's signature.
    pub previous_secret_until: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

/// A delivery leased to this process, with the event it carries (shared by
/// the deliveries of one event).
#[derive(Debug, Clone, PartialEq)]
pub struct ClaimedDelivery {
    pub delivery_id: DeliveryId,
    pub integration_id: IntegrationId,
    /// Attempts made before this one.
    pub attempts: i64,
    pub event: std::sync::Arc<StoredEvent>,
}

/// How a claimed delivery ends for now.
#[derive(Debug, Clone, PartialEq)]
pub enum Completion {
    /// An attempt was made: record it and settle the delivery.
    Attempt {
        delivery_id: DeliveryId,
        resolution: DeliveryResolution,
        record: Box<AttemptRecord>,
        /// A timeline record written with the attempt (a mail sent).
        note: Option<Box<dutyhook_domain::timeline::TimelineEntry>>,
    },
    /// Given back without an attempt (paused endpoint, shutdown), due again
    /// at `next_at`.
    Release {
        delivery_id: DeliveryId,
        next_at: i64,
    },
    /// Its integration is disabled: recorded as `skipped`, never pushed, kept
    /// for a replay; the next delivery of its key comes up.
    Skip { delivery_id: DeliveryId },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryResolution {
    Done,
    Failed,
    RetryAt(i64),
}

/// One attempt of the invocation history (`delivery.md`).
#[derive(Debug, Clone, PartialEq)]
pub struct AttemptRecord {
    pub invocation_id: String,
    pub integration_id: IntegrationId,
    pub integration_kind: IntegrationKind,
    pub delivery_id: DeliveryId,
    pub event_id: EventId,
    pub event_type: EventType,
    pub subject_kind: SubjectKind,
    pub subject_id: String,
    pub attempt: i64,
    pub test: bool,
    /// ms
    pub event_time: i64,
    /// ms
    pub started_at: i64,
    pub duration_ms: i64,
    pub success: bool,
    pub http_status: i64,
    pub error_class: String,
    pub error: String,
    /// `{url, headers, body}` with secret header values masked.
    pub request: crate::JsonText,
    /// `{headers, body, truncated}`.
    pub response: crate::JsonText,
}

#[derive(Debug, Clone, Default)]
pub struct AttemptFilter {
    /// One integration's attempts; every integration's when `None`.
    pub integration_id: Option<IntegrationId>,
    /// ms, inclusive
    pub from: i64,
    /// ms, exclusive
    pub to: i64,
    pub subject_id: Option<String>,
    /// Attempts of these event types; of any when empty.
    pub event_types: Vec<EventType>,
    pub event_id: Option<EventId>,
    pub success: Option<bool>,
    /// Ordered by the event's time instead of the attempt's, and oldest
    /// first when `asc`.
    pub by_event_time: bool,
    pub asc: bool,
}

/// Failures counted since the last success at most (a dead endpoint's
/// week of history is not counted row by row on every read).
pub const FAILURE_STREAK_CAP: i64 = 1000;

/// How an integration's pushes have been going (tests left out).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeliveryHealth {
    /// ms; 0 when none is recorded.
    pub last_success_at: i64,
    pub last_failure_at: i64,
    /// Failed attempts since the last success, at most [`FAILURE_STREAK_CAP`].
    pub failure_streak: i64,
    pub last_error_class: String,
    pub last_error: String,
    /// ms; 0 when the circuit is closed.
    pub circuit_open_until: i64,
    /// When the current run of failures began (ms): its first failed attempt
    /// after the latest success; 0 when the latest attempt succeeded.
    pub failing_since: i64,
    /// Deliveries recorded as skipped while it was disabled, kept for a replay.
    pub skipped: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DeliveryStats {
    pub pending: i64,
    /// Creation time (ms) of the oldest unfinished delivery; 0 when none.
    pub oldest_pending_at: i64,
    /// The same per webhook (0 when none waits).
    pub oldest_pending_by_integration: Vec<(IntegrationId, i64)>,
    /// Integrations disabled now.
    pub disabled_integrations: i64,
}

/// An event type as stored; an unknown one means the table was written by
/// something else.
pub(crate) fn stored_event_type(s: &str) -> crate::Result<EventType> {
    EventType::parse(s)
        .ok_or_else(|| crate::StoreError::Corrupt(format!("unknown event type {s:?}")))
}

pub(crate) fn stored_subject_kind(s: &str) -> crate::Result<SubjectKind> {
    SubjectKind::parse(s)
        .ok_or_else(|| crate::StoreError::Corrupt(format!("unknown subject kind {s:?}")))
}

#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub start_time: i64,
    pub end_time: i64,
    /// The time range applies to `updated_at` instead of `start_time`.
    pub by_updated_at: bool,
    pub channel_ids: Vec<ChannelId>,
    pub progress: Option<dutyhook_domain::severity::Progress>,
    pub incident_id: Option<IncidentId>,
    pub severities: Vec<String>,
    pub source_ids: Vec<IntegrationId>,
    pub alert_ids: Vec<AlertId>,
    pub alert_keys: Vec<String>,
    /// Text anywhere in the alert: title, description, labels, key.
    pub query: Option<String>,
    /// Ordered by `updated_at` instead of `start_time`.
    pub order_by_updated: bool,
    /// Oldest first.
    pub asc: bool,
}

#[derive(Debug, Clone, Default)]
pub struct AlertEventFilter {
    pub start_time: i64,
    pub end_time: i64,
    pub source_ids: Vec<IntegrationId>,
    pub channel_ids: Vec<ChannelId>,
    /// Oldest first.
    pub asc: bool,
}
