//! What an alert is: the events that arrive, the alert they merge into, the
//! source and incident it belongs to, and the events it emits.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use crate::channel::Channel;
use crate::event::{EventType, SubjectKind};
use crate::ids::{AlertId, ChannelId, IncidentId, IntegrationId};
use crate::incident::Incident;
use crate::integration::SourceType;
use crate::person::Person;
use crate::recorder::Recorder;
use crate::severity::{Progress, Severity, Status};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Image {
    #[serde(default)]
    pub alt: String,
    pub src: String,
    #[serde(default)]
    pub href: String,
}

/// One ingested event, checked and normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertEvent {
    pub title_rule: String,
    pub title: String,
    pub description: String,
    pub status: Status,
    pub alert_key: String,
    pub labels: BTreeMap<String, String>,
    pub images: Vec<Image>,
}

impl AlertEvent {
    /// The form kept with the alert for inspection.
    pub fn raw(&self, at_s: i64) -> Value {
        json!({
            "event_time": at_s, "event_status": status_str(self.status), "alert_key": self.alert_key,
            "title_rule": self.title_rule, "title": self.title, "description": self.description,
            "labels": self.labels, "images": self.images,
        })
    }
}

/// The alert source an event came through.
#[derive(Debug, Clone)]
pub struct Source {
    pub integration_id: IntegrationId,
    pub name: String,
    pub source_type: SourceType,
    pub channel: Channel,
}

/// The incident an alert is grouped into, as its payload shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AlertIncident {
    #[schema(value_type = String)]
    pub incident_id: IncidentId,
    pub title: String,
}

/// An alert; serialises as the Alert object of `events.md` (plus `images`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Alert {
    #[schema(value_type = String)]
    pub alert_id: AlertId,
    #[schema(value_type = i64)]
    pub data_source_id: IntegrationId,
    pub data_source_name: String,
    pub data_source_type: String,
    /// Always "": kept for receivers written for the hosted product.
    #[serde(default)]
    pub data_source_ref_id: String,
    #[schema(value_type = i64)]
    pub channel_id: ChannelId,
    pub channel_name: String,
    pub title: String,
    pub title_rule: String,
    pub description: String,
    pub alert_key: String,
    pub alert_severity: Severity,
    pub alert_status: Status,
    pub progress: Progress,
    pub created_at: i64,
    pub updated_at: i64,
    pub start_time: i64,
    pub last_time: i64,
    pub end_time: i64,
    pub close_time: i64,
    pub labels: BTreeMap<String, String>,
    pub event_cnt: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident: Option<AlertIncident>,
    #[serde(default)]
    pub images: Vec<Image>,
}

impl Alert {
    pub fn is_open(&self) -> bool {
        self.progress != Progress::Closed
    }

    /// The payload's `alert` (without `images`, which payloads do not carry).
    pub fn to_payload(&self) -> Value {
        let mut v = serde_json::to_value(self).expect("an alert serialises");
        if let Value::Object(m) = &mut v {
            m.remove("images");
        }
        v
    }
}

pub(crate) fn json_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

/// Records an alert event (`{event_id, event_time, event_type, person?, alert}`).
pub fn emit_alert(
    rec: &mut Recorder,
    alert: &Alert,
    event_type: EventType,
    person: Option<&Person>,
) {
    rec.push_event(
        event_type,
        person,
        SubjectKind::Alert,
        &alert.alert_id,
        alert.channel_id,
        &alert.to_payload(),
        Map::new(),
    );
}

/// The timeline records an incident keeps of its alerts (no event of their
/// own: the alert's events say it to alert webhooks).
pub const ALERT_JOINED: &str = "a_merge";
pub const ALERT_RECOVERED: &str = "a_recover";
pub const ALERT_CLOSED: &str = "a_close";
pub const ALERT_RECORDS: [&str; 3] = [ALERT_JOINED, ALERT_RECOVERED, ALERT_CLOSED];

/// Notes on `incident`'s timeline what happened to one of its alerts.
pub fn note_alert(
    rec: &mut Recorder,
    incident: &Incident,
    kind: &str,
    alert: &Alert,
    person: Option<&Person>,
) {
    let detail = serde_json::json!({
        "alert_id": alert.alert_id, "title": alert.title,
        "severity": alert.alert_severity, "status": status_str(alert.alert_status),
    });
    rec.note(incident, kind, person, detail);
}

/// A status as payloads spell it.
pub fn status_str(s: Status) -> &'static str {
    match s {
        Status::Critical => "Critical",
        Status::Warning => "Warning",
        Status::Info => "Info",
        Status::Ok => "Ok",
    }
}
