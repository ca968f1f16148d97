use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::ids::{num_of, ChannelId, IncidentId, IntegrationId, PersonId};
use crate::person::Person;
use crate::severity::{Progress, Severity, Status};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Responder {
    #[schema(value_type = i64)]
    pub person_id: PersonId,
    pub person_name: String,
    pub email: String,
    pub assigned_at: i64,
    pub acknowledged_at: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
pub struct Assignment {
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(value_type = Vec<i64>)]
    pub person_ids: Vec<PersonId>,
    pub assigned_at: i64,
    /// The hosted product's escalation fields, always empty: dutyhook
    /// assigns people directly.
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub escalate_rule_id: String,
    #[serde(default)]
    pub escalate_rule_name: String,
    #[serde(default)]
    pub layer_idx: i64,
}

/// The stored state of an incident. Its payload form (`events.md`,
/// "Incident") is produced by [`Incident::to_payload`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Incident {
    pub incident_id: IncidentId,
    pub title: String,
    pub description: String,
    pub impact: String,
    pub root_cause: String,
    pub resolution: String,
    pub incident_severity: Severity,
    /// Once a person sets the severity it no longer follows the alerts.
    #[serde(default)]
    pub severity_set_by_person: bool,
    pub incident_status: Status,
    pub progress: Progress,
    pub created_at: i64,
    /// Creation time in milliseconds: orders incidents created in the same second.
    #[serde(default)]
    pub created_ms: i64,
    pub updated_at: i64,
    pub start_time: i64,
    pub last_time: i64,
    pub end_time: i64,
    pub ack_time: i64,
    pub close_time: i64,
    pub snoozed_before: i64,
    pub labels: BTreeMap<String, String>,
    pub fields: Map<String, Value>,
    pub creator: Option<Person>,
    pub closer: Option<Person>,
    pub responders: Vec<Responder>,
    pub assigned_to: Option<Assignment>,
    pub alert_cnt: i64,
    pub channel_id: ChannelId,
    /// Filled from the channel when loaded; not authoritative in storage.
    #[serde(default)]
    pub channel_name: String,
    pub group_method: String,
    pub dedup_key: String,
    pub data_source_id: IntegrationId,
    /// Open alerts by their current status: `incident_status` and auto-recovery follow it.
    #[serde(default)]
    pub alerts_open: AlertTally,
    /// The grouping key alerts join by ("" when the channel does not group).
    #[serde(default)]
    pub group_key: String,
    /// Start of the grouping window (s): creation, or the latest merge.
    #[serde(default)]
    pub group_anchor: i64,
    /// Storm thresholds already announced.
    #[serde(default)]
    pub storms_sent: Vec<i64>,
    /// Added by custom action answers.
    #[serde(default)]
    pub links: Vec<Link>,
    /// The `event_time` (ms) of its newest event: the next one is later.
    #[serde(default)]
    pub last_event_ms: i64,
    /// New alerts no longer join it (`/incident/disable-merge`).
    #[serde(default)]
    pub merge_disabled: bool,
}

/// A link a custom action's answer put on the incident.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Link {
    pub title: String,
    pub url: String,
    /// The action whose answer added it.
    #[schema(value_type = i64)]
    pub action_id: IntegrationId,
}

/// Counts of open alerts per status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AlertTally {
    pub critical: i64,
    pub warning: i64,
    pub info: i64,
}

impl AlertTally {
    fn slot(&mut self, s: Status) -> Option<&mut i64> {
        match s {
            Status::Critical => Some(&mut self.critical),
            Status::Warning => Some(&mut self.warning),
            Status::Info => Some(&mut self.info),
            Status::Ok => None,
        }
    }

    pub fn add(&mut self, s: Status) {
        if let Some(n) = self.slot(s) {
            *n += 1;
        }
    }

    pub fn remove(&mut self, s: Status) {
        if let Some(n) = self.slot(s) {
            *n = (*n - 1).max(0);
        }
    }

    pub fn absorb(&mut self, other: AlertTally) {
        self.critical += other.critical;
        self.warning += other.warning;
        self.info += other.info;
    }

    pub fn total(&self) -> i64 {
        self.critical + self.warning + self.info
    }

    /// The highest status among open alerts; `None` when none is open.
    pub fn highest(&self) -> Option<Status> {
        if self.critical > 0 {
            Some(Status::Critical)
        } else if self.warning > 0 {
            Some(Status::Warning)
        } else if self.info > 0 {
            Some(Status::Info)
        } else {
            None
        }
    }
}

/// What a payload needs beyond the incident itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RenderContext {
    /// Base of `detail_url`, without a trailing slash.
    pub public_url: String,
    pub account_id: i64,
    pub account_name: String,
}

impl RenderContext {
    pub fn detail_url(&self, incident_id: &str) -> String {
        format!(
            "{}/incidents/{incident_id}",
            self.public_url.trim_end_matches('/')
        )
    }
}

/// The documented Incident object: every field of `events.md` with its type.
/// Used for the OpenAPI document; payloads are built by `to_payload`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct IncidentView {
    #[schema(value_type = String)]
    pub incident_id: IncidentId,
    pub num: String,
    pub title: String,
    pub description: String,
    pub impact: String,
    pub root_cause: String,
    pub resolution: String,
    pub incident_severity: Severity,
    pub incident_status: Status,
    pub progress: Progress,
    pub created_at: i64,
    pub updated_at: i64,
    pub start_time: i64,
    pub last_time: i64,
    pub end_time: i64,
    pub ack_time: i64,
    pub close_time: i64,
    pub snoozed_before: i64,
    pub labels: BTreeMap<String, String>,
    #[schema(value_type = std::collections::HashMap<String, serde_json::Value>)]
    pub fields: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creator: Option<Person>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub closer: Option<Person>,
    /// The creator's person id; 0 for automatic incidents.
    #[schema(value_type = i64)]
    pub creator_id: PersonId,
    /// The closer's person id; 0 unless closed by hand.
    #[schema(value_type = i64)]
    pub closer_id: PersonId,
    pub responders: Vec<Responder>,
    #[schema(value_type = Vec<i64>)]
    pub responder_ids: Vec<PersonId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assigned_to: Option<Assignment>,
    pub alert_cnt: i64,
    #[schema(value_type = i64)]
    pub channel_id: ChannelId,
    pub channel_name: String,
    pub detail_url: String,
    pub group_method: String,
    pub dedup_key: String,
    /// For automatic incidents, a hash of the grouping values; "" otherwise.
    pub equals_md5: String,
    #[schema(value_type = i64)]
    pub data_source_id: IntegrationId,
    pub account_id: i64,
    pub account_name: String,
    /// Links added by custom action answers.
    pub links: Vec<Link>,
}

impl Incident {
    pub fn num(&self) -> String {
        num_of(&self.incident_id)
    }

    pub fn is_closed(&self) -> bool {
        self.progress == Progress::Closed
    }

    pub fn responder_mut(&mut self, person_id: PersonId) -> Option<&mut Responder> {
        self.responders
            .iter_mut()
            .find(|r| r.person_id == person_id)
    }

    pub fn responder_ids(&self) -> Vec<PersonId> {
        self.responders.iter().map(|r| r.person_id).collect()
    }

    pub fn any_acknowledged(&self) -> bool {
        self.responders.iter().any(|r| r.acknowledged_at > 0)
    }

    pub fn view(&self, ctx: &RenderContext) -> IncidentView {
        IncidentView {
            incident_id: self.incident_id.clone(),
            num: self.num(),
            title: self.title.clone(),
            description: self.description.clone(),
            impact: self.impact.clone(),
            root_cause: self.root_cause.clone(),
            resolution: self.resolution.clone(),
            incident_severity: self.incident_severity,
            incident_status: self.incident_status,
            progress: self.progress,
            created_at: self.created_at,
            updated_at: self.updated_at,
            start_time: self.start_time,
            last_time: self.last_time,
            end_time: self.end_time,
            ack_time: self.ack_time,
            close_time: self.close_time,
            snoozed_before: self.snoozed_before,
            labels: self.labels.clone(),
            fields: self.fields.clone(),
            creator: self.creator.clone(),
            closer: self.closer.clone(),
            creator_id: self.creator.as_ref().map_or(PersonId(0), |p| p.person_id),
            closer_id: self.closer.as_ref().map_or(PersonId(0), |p| p.person_id),
            responders: self.responders.clone(),
            responder_ids: self.responder_ids(),
            assigned_to: self.assigned_to.clone(),
            alert_cnt: self.alert_cnt,
            channel_id: self.channel_id,
            channel_name: self.channel_name.clone(),
            detail_url: ctx.detail_url(&self.incident_id),
            group_method: self.group_method.clone(),
            dedup_key: self.dedup_key.clone(),
            equals_md5: self.group_key.clone(),
            data_source_id: self.data_source_id,
            account_id: ctx.account_id,
            account_name: ctx.account_name.clone(),
            links: self.links.clone(),
        }
    }

    pub fn to_payload(&self, ctx: &RenderContext) -> Value {
        serde_json::to_value(self.view(ctx)).expect("an incident always serialises")
    }

    /// Text searched by `/incident/list`'s `query`: labels as `key=value`.
    pub fn labels_text(&self) -> String {
        self.labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("\n")
    }
}
