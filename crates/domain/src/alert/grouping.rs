//! How events merge into alerts and alerts group into incidents: the
//! grouping key, the open incident of a group, recovery, storms, closing by
//! hand. Pure: the store loads the state an event needs into
//! [`IngestState`], runs [`ingest`] over it and writes what changed.

use std::collections::{BTreeMap, HashMap};

use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use super::model::*;
use crate::channel::Channel;
use crate::channel::{GroupingMethod, WindowStart};
use crate::event::EventType;
use crate::ids::{new_object_id, AlertId, ChannelId, IncidentId, IntegrationId};
use crate::incident::Incident;
use crate::labels::truncate;
use crate::person::Person;
use crate::recorder::Recorder;
use crate::severity::{Progress, Severity, Status};

/// The grouping key of an alert in a channel; `None` when every alert opens
/// its own incident, or (strict) when a dimension is empty.
pub fn group_key(
    channel: &Channel,
    title: &str,
    description: &str,
    labels: &BTreeMap<String, String>,
) -> Option<String> {
    let g = &channel.grouping;
    if g.method != GroupingMethod::ByRule {
        return None;
    }
    let mut parts = vec![];
    for d in &g.dimensions {
        let v = match d.as_str() {
            "title" => title,
            "description" => description,
            other => other
                .strip_prefix("labels.")
                .and_then(|k| labels.get(k))
                .map_or("", String::as_str),
        };
        if g.strict && v.is_empty() {
            return None;
        }
        parts.push(v);
    }
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
        h.update([0]);
    }
    Some(hex::encode(&h.finalize()[..16]))
}

/// What one batch of ingestion works on: loaded by the store before, written
/// by it after.
#[derive(Debug, Default)]
pub struct IngestState {
    /// Open alerts by (source, alert_key).
    pub open: HashMap<(IntegrationId, String), Alert>,
    /// Incidents the batch may change, by id.
    pub incidents: HashMap<IncidentId, Incident>,
    /// The newest open incident per (channel, group key).
    pub groups: HashMap<(ChannelId, String), IncidentId>,
    /// Alerts changed by the batch, by id (the latest state).
    pub changed_alerts: HashMap<AlertId, Alert>,
    pub changed_incidents: Vec<IncidentId>,
    /// (alert_id, raw event) in order.
    pub raw: Vec<(AlertId, Value)>,
}

impl IngestState {
    pub fn incident_changed(&mut self, id: &IncidentId) {
        if !self.changed_incidents.contains(id) {
            self.changed_incidents.push(id.clone());
        }
    }
}

pub(crate) fn follow_alerts(inc: &mut Incident) {
    if let Some(s) = inc.alerts_open.highest() {
        inc.incident_status = s;
    }
}

pub(crate) fn severity_of(s: Status) -> Option<Severity> {
    match s {
        Status::Critical => Some(Severity::Critical),
        Status::Warning => Some(Severity::Warning),
        Status::Info => Some(Severity::Info),
        Status::Ok => None,
    }
}

/// Ingests one event; answers its alert_key. Emits, in order: `a_new` or
/// `a_update` (only on a visible change), then for a new alert `i_new` (when
/// it opens an incident) and `a_merge`, `i_storm` per threshold reached, and
/// `i_rslv` when the incident's last open alert recovers.
pub fn ingest(state: &mut IngestState, source: &Source, ev: &AlertEvent, rec: &mut Recorder) {
    let now = rec.now_s();
    let key = (source.integration_id, ev.alert_key.clone());
    if let Some(mut alert) = state.open.remove(&key) {
        state.raw.push((alert.alert_id.clone(), ev.raw(now)));
        let before = alert.clone();
        alert.event_cnt += 1;
        alert.last_time = now;
        alert.updated_at = now;
        let old_status = alert.alert_status;
        alert.alert_status = ev.status;
        if let Some(sev) = severity_of(ev.status) {
            alert.alert_severity = alert.alert_severity.max(sev);
        }
        if ev.status == Status::Ok {
            alert.end_time = now;
            alert.close_time = now;
            alert.progress = Progress::Closed;
        } else {
            alert.title = ev.title.clone();
            alert.title_rule = ev.title_rule.clone();
            alert.description = ev.description.clone();
            alert.labels = ev.labels.clone();
            if !ev.images.is_empty() {
                alert.images = ev.images.clone();
            }
        }
        let visible = (
            alert.alert_severity,
            alert.alert_status,
            &alert.labels,
            &alert.description,
            &alert.title,
        ) != (
            before.alert_severity,
            before.alert_status,
            &before.labels,
            &before.description,
            &before.title,
        );
        if visible {
            emit_alert(rec, &alert, EventType::a_update, None);
        }
        if let Some(inc_ref) = &alert.incident {
            if let Some(inc) = state.incidents.get_mut(&inc_ref.incident_id) {
                if inc.is_closed() && inc.alerts_open.total() == 0 {
                    // Closed by hand: its alerts no longer count.
                } else {
                    inc.alerts_open.remove(old_status);
                    inc.alerts_open.add(ev.status);
                    inc.last_time = now;
                    inc.updated_at = now;
                    if !inc.severity_set_by_person {
                        if let Some(sev) = severity_of(ev.status) {
                            inc.incident_severity = inc.incident_severity.max(sev);
                        }
                    }
                    follow_alerts(inc);
                    if ev.status == Status::Ok {
                        note_alert(rec, inc, ALERT_RECOVERED, &alert, None);
                    }
                    if ev.status == Status::Ok && inc.alerts_open.total() == 0 {
                        inc.incident_status = Status::Ok;
                        inc.end_time = now;
                        if !inc.is_closed() {
                            inc.progress = Progress::Closed;
                            inc.close_time = now;
                            inc.snoozed_before = 0;
                            let noted = serde_json::json!({"from": "autorslv"});
                            rec.emit_noted(inc, EventType::i_rslv, None, Map::new(), noted);
                        }
                    }
                    rec.touch(&inc.incident_id);
                    let id = inc.incident_id.clone();
                    state.incident_changed(&id);
                }
            }
        }
        if alert.is_open() {
            state.open.insert(key, alert.clone());
        }
        state.changed_alerts.insert(alert.alert_id.clone(), alert);
        return;
    }
    if ev.status == Status::Ok {
        // Nothing open to recover: accepted, changes nothing.
        return;
    }
    let severity = severity_of(ev.status).expect("not Ok");
    let mut alert = Alert {
        alert_id: AlertId::from(new_object_id(now)),
        data_source_id: source.integration_id,
        data_source_name: source.name.clone(),
        data_source_type: source.source_type.as_str().to_string(),
        data_source_ref_id: String::new(),
        channel_id: source.channel.channel_id,
        channel_name: source.channel.channel_name.clone(),
        title: ev.title.clone(),
        title_rule: ev.title_rule.clone(),
        description: ev.description.clone(),
        alert_key: ev.alert_key.clone(),
        alert_severity: severity,
        alert_status: ev.status,
        progress: Progress::Triggered,
        created_at: now,
        updated_at: now,
        start_time: now,
        last_time: now,
        end_time: 0,
        close_time: 0,
        labels: ev.labels.clone(),
        event_cnt: 1,
        incident: None,
        images: ev.images.clone(),
    };
    state.raw.push((alert.alert_id.clone(), ev.raw(now)));
    emit_alert(rec, &alert, EventType::a_new, None);
    let channel = &source.channel;
    let gkey = group_key(channel, &alert.title, &alert.description, &alert.labels);
    let window_s = channel.grouping.window_minutes.map(|m| m * 60);
    let joinable = gkey.as_ref().and_then(|g| {
        let id = state.groups.get(&(channel.channel_id, g.clone()))?;
        let inc = state.incidents.get(id)?;
        let in_window = window_s.is_none_or(|w| now - inc.group_anchor <= w);
        (!inc.is_closed() && !inc.merge_disabled && in_window).then(|| id.clone())
    });
    let inc_id = match joinable {
        Some(id) => {
            let inc = state
                .incidents
                .get_mut(&id)
                .expect("joinable incident loaded");
            inc.alert_cnt += 1;
            inc.alerts_open.add(alert.alert_status);
            inc.last_time = now;
            inc.updated_at = now;
            if !inc.severity_set_by_person {
                inc.incident_severity = inc.incident_severity.max(severity);
            }
            follow_alerts(inc);
            if channel.grouping.window_start == WindowStart::Merge {
                inc.group_anchor = now;
            }
            id
        }
        None => {
            let mut inc = new_incident(&alert, channel, now, rec.now_ms);
            inc.group_key = gkey.clone().unwrap_or_default();
            rec.emit(&inc, EventType::i_new, None, Map::new());
            if let Some(g) = gkey {
                state
                    .groups
                    .insert((channel.channel_id, g), inc.incident_id.clone());
            }
            let id = inc.incident_id.clone();
            state.incidents.insert(id.clone(), inc);
            id
        }
    };
    let inc = state.incidents.get_mut(&inc_id).expect("incident loaded");
    alert.incident = Some(AlertIncident {
        incident_id: inc.incident_id.clone(),
        title: inc.title.clone(),
    });
    emit_alert(rec, &alert, EventType::a_merge, None);
    note_alert(rec, inc, ALERT_JOINED, &alert, None);
    announce_storms(inc, &channel.storm_thresholds, rec);
    rec.touch(&inc_id);
    state.incident_changed(&inc_id);
    state.open.insert(key, alert.clone());
    state.changed_alerts.insert(alert.alert_id.clone(), alert);
}

/// `i_storm` once for every threshold the incident's `alert_cnt` has reached
/// (alerts joining by grouping, or incidents merged into it).
pub fn announce_storms(inc: &mut Incident, thresholds: &[i64], rec: &mut Recorder) {
    for t in thresholds {
        if inc.alert_cnt >= *t && !inc.storms_sent.contains(t) {
            inc.storms_sent.push(*t);
            rec.emit(
                inc,
                EventType::i_storm,
                None,
                json_map(json!({"threshold": t})),
            );
        }
    }
}

pub(crate) fn new_incident(alert: &Alert, channel: &Channel, now: i64, now_ms: i64) -> Incident {
    let mut alerts_open = crate::incident::AlertTally::default();
    alerts_open.add(alert.alert_status);
    Incident {
        incident_id: IncidentId::from(new_object_id(now)),
        title: truncate(&alert.title, crate::ops::TITLE_CHARS.end().to_owned()),
        description: alert.description.clone(),
        impact: String::new(),
        root_cause: String::new(),
        resolution: String::new(),
        incident_severity: alert.alert_severity,
        severity_set_by_person: false,
        incident_status: alert.alert_status,
        progress: Progress::Triggered,
        created_at: now,
        created_ms: now_ms,
        updated_at: now,
        start_time: now,
        last_time: now,
        end_time: 0,
        ack_time: 0,
        close_time: 0,
        snoozed_before: 0,
        labels: alert.labels.clone(),
        fields: Map::new(),
        creator: None,
        closer: None,
        responders: vec![],
        assigned_to: None,
        alert_cnt: 1,
        channel_id: channel.channel_id,
        channel_name: channel.channel_name.clone(),
        group_method: channel.grouping.method.as_str().to_string(),
        dedup_key: alert.alert_key.clone(),
        data_source_id: alert.data_source_id,
        alerts_open,
        group_key: String::new(),
        group_anchor: now,
        storms_sent: vec![],
        links: vec![],
        last_event_ms: 0,
        merge_disabled: false,
    }
}

/// Closes an open alert by hand: `a_close`; its incident stops counting it.
pub fn close_by_hand(
    alert: &mut Alert,
    incident: Option<&mut Incident>,
    by: &Person,
    rec: &mut Recorder,
) {
    let now = rec.now_s();
    let status = alert.alert_status;
    alert.progress = Progress::Closed;
    alert.close_time = now;
    alert.updated_at = now;
    emit_alert(rec, alert, EventType::a_close, Some(by));
    if let Some(inc) = incident {
        inc.alerts_open.remove(status);
        follow_alerts(inc);
        inc.updated_at = now;
        note_alert(rec, inc, ALERT_CLOSED, alert, Some(by));
    }
}
