//! Creating an incident by hand.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::people::*;
use crate::event::EventType;
use crate::ids::new_object_id;
use crate::ids::{ChannelId, IncidentId, IntegrationId};
use crate::incident::Incident;
use crate::person::Person;
use crate::recorder::Recorder;
use crate::severity::{Progress, Severity, Status};

#[derive(Debug, Clone)]
pub struct NewIncident {
    pub title: String,
    pub severity: Severity,
    pub channel_id: ChannelId,
    pub channel_name: String,
    pub description: String,
    pub impact: String,
    pub assignees: Vec<Person>,
    pub fields: Map<String, Value>,
}

/// Creates an incident by hand: `i_new`, then `i_assign` when assigned.
pub fn create(input: NewIncident, creator: &Person, rec: &mut Recorder) -> Incident {
    let now = rec.now_s();
    let mut inc = Incident {
        incident_id: IncidentId::from(new_object_id(now)),
        title: input.title,
        description: input.description,
        impact: input.impact,
        root_cause: String::new(),
        resolution: String::new(),
        incident_severity: input.severity,
        severity_set_by_person: false,
        incident_status: Status::from(input.severity),
        progress: Progress::Triggered,
        created_at: now,
        created_ms: rec.now_ms,
        updated_at: now,
        start_time: now,
        last_time: 0,
        end_time: 0,
        ack_time: 0,
        close_time: 0,
        snoozed_before: 0,
        labels: BTreeMap::new(),
        fields: input.fields,
        creator: Some(creator.clone()),
        closer: None,
        responders: vec![],
        assigned_to: None,
        alert_cnt: 0,
        channel_id: input.channel_id,
        channel_name: input.channel_name,
        group_method: "n".into(),
        dedup_key: String::new(),
        data_source_id: IntegrationId(0),
        alerts_open: Default::default(),
        group_key: String::new(),
        group_anchor: 0,
        storms_sent: vec![],
        links: vec![],
        last_event_ms: 0,
        merge_disabled: false,
    };
    let noted = json!({"severity": inc.incident_severity, "title": inc.title});
    rec.emit_noted(&inc, EventType::i_new, Some(creator), Map::new(), noted);
    if !input.assignees.is_empty() {
        apply_assignment(&mut inc, &input.assignees, now);
        let noted = super::people::assignment_detail(&inc);
        rec.emit_noted(&inc, EventType::i_assign, Some(creator), Map::new(), noted);
    }
    inc
}
