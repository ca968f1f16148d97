//! Sample events for test pushes: a real incident as it is now, or a sample
//! one; alert events get a sample alert.

use dutyhook_domain::alert::{emit_alert, Alert};
use dutyhook_domain::event::{EventType, NewEvent, SubjectKind};
use dutyhook_domain::ids::{new_event_id, new_object_id, ChannelId};
use dutyhook_domain::incident::Incident;
use dutyhook_domain::ops::{self, NewIncident};
use dutyhook_domain::person::Person;
use dutyhook_domain::severity::Severity;
use dutyhook_domain::webhook::WebhookKind;
use dutyhook_store::StoredEvent;
use serde_json::{json, Map};

use super::integration::stored;
use crate::error::ApiError;
use crate::state::AppState;

/// The event type a test push or a preview for a webhook of `kind` uses:
/// the one given, which must be of that kind, or its first.
pub fn event_type_for(kind: WebhookKind, given: Option<EventType>) -> Result<EventType, ApiError> {
    let incident = kind == WebhookKind::Incident;
    let event_type = given.unwrap_or(if incident {
        EventType::i_new
    } else {
        EventType::a_new
    });
    if event_type.is_incident() != incident {
        return Err(ApiError::invalid(
            "event_type",
            format!(
                "{} is not an event type of {} webhooks",
                event_type.as_str(),
                kind.as_str()
            ),
        ));
    }
    Ok(event_type)
}

pub fn sample_event(
    app: &AppState,
    event_type: EventType,
    incident: Option<&Incident>,
    person: &Person,
) -> StoredEvent {
    let mut rec = app.recorder();
    if !event_type.is_incident() {
        return stored(sample_alert_event(rec.now_ms, event_type, person));
    }
    let inc = match incident {
        Some(i) => i.clone(),
        None => {
            let input = NewIncident {
                title: "Sample incident from a dutyhook test push".into(),
                severity: Severity::Warning,
                channel_id: ChannelId(0),
                channel_name: String::new(),
                description: "Sent by /integration/webhook/test; nothing happened.".into(),
                impact: String::new(),
                assignees: vec![],
                fields: Map::new(),
            };
            let mut scratch = app.recorder();
            ops::create(input, person, &mut scratch)
        }
    };
    let person = (event_type != EventType::i_storm).then_some(person);
    rec.emit(&inc, event_type, person, Map::new());
    stored(rec.events.pop().expect("one event was emitted"))
}

/// An event of `event_type` about a real alert as it is now.
pub fn alert_event(
    app: &AppState,
    event_type: EventType,
    alert: &Alert,
    person: &Person,
) -> StoredEvent {
    let mut rec = app.recorder();
    let person = (event_type == EventType::a_close).then_some(person);
    emit_alert(&mut rec, alert, event_type, person);
    stored(rec.events.pop().expect("one event was emitted"))
}

fn sample_alert_event(now_ms: i64, event_type: EventType, person: &Person) -> NewEvent {
    let now = now_ms / 1000;
    let alert_id = new_object_id(now);
    let event_id = new_event_id();
    let mut doc = json!({
        "event_id": event_id,
        "event_time": now_ms,
        "event_type": event_type.as_str(),
        "alert": {
            "alert_id": alert_id, "data_source_id": 0, "data_source_name": "sample", "data_source_type": "standard",
            "channel_id": 0, "channel_name": "", "title": "Sample alert from a dutyhook test push", "title_rule": "",
            "description": "", "alert_key": "sample", "alert_severity": "Warning", "alert_status": "Warning",
            "progress": "Triggered", "created_at": now, "updated_at": now, "start_time": now, "last_time": now,
            "end_time": 0, "close_time": 0, "labels": {}, "event_cnt": 1
        }
    });
    if event_type == EventType::a_close {
        doc["person"] = serde_json::to_value(person).unwrap_or_default();
    }
    NewEvent {
        event_id: event_id.into(),
        event_type,
        event_time_ms: now_ms,
        subject_kind: SubjectKind::Alert,
        subject_id: alert_id,
        channel_id: ChannelId(0),
        payload: doc.to_string(),
    }
}
