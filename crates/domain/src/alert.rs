//! Alerts (`alerts.md`): what an ingested event is, how events merge into
//! alerts, how alerts group into incidents, recovery and storms. Pure: the
//! store loads the state an event needs into [`IngestState`], runs
//! [`ingest`] over it and writes what changed.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::channel::Channel;
use crate::event::{EventType, SubjectKind};
use crate::ids::new_object_id;
use crate::incident::Incident;
use crate::labels::{check_key, truncate, MAX_LABELS, MAX_VALUE_CHARS};
use crate::person::Person;
use crate::recorder::Recorder;
use crate::severity::{Progress, Severity, Status};
use crate::DomainError;

pub const TITLE_RULE_CHARS: usize = 512;
pub const ALERT_KEY_CHARS: usize = 255;
pub const DESCRIPTION_CHARS: usize = 2048;
pub const IMAGE_SRC_CHARS: usize = 256;

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

pub fn status_str(s: Status) -> &'static str {
    match s {
        Status::Critical => "Critical",
        Status::Warning => "Warning",
        Status::Info => "Info",
        Status::Ok => "Ok",
    }
}

fn parse_status(s: &str) -> Option<Status> {
    match s {
        "Critical" => Some(Status::Critical),
        "Warning" => Some(Status::Warning),
        "Info" => Some(Status::Info),
        "Ok" => Some(Status::Ok),
        _ => None,
    }
}

/// `$name` and `${name}` replaced by the label `name`; left as written when absent.
pub fn render_title(rule: &str, labels: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(rule.len());
    let mut rest = rule;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, used) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => (&inner[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .char_indices()
                .find(|(n, c)| {
                    !(c.is_ascii_alphanumeric() || *c == '_') || (*n == 0 && c.is_ascii_digit())
                })
                .map_or(after.len(), |(n, _)| n);
            (&after[..end], end)
        };
        match labels.get(name) {
            Some(v) if !name.is_empty() => {
                out.push_str(v);
                rest = &after[used..];
            }
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A stable key for events without one: repeats of the same alert merge.
pub fn derived_key(source_id: i64, title_rule: &str, labels: &BTreeMap<String, String>) -> String {
    let mut h = Sha256::new();
    h.update(source_id.to_string());
    h.update([0]);
    h.update(title_rule);
    for (k, v) in labels {
        h.update([0]);
        h.update(k);
        h.update([1]);
        h.update(v);
    }
    hex::encode(&h.finalize()[..16])
}

fn text_field<'a>(
    body: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, DomainError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(DomainError::invalid(field, "must be a string")),
    }
}

fn checked_labels(
    labels: impl IntoIterator<Item = (String, String)>,
) -> Result<BTreeMap<String, String>, DomainError> {
    let mut out = BTreeMap::new();
    for (k, v) in labels {
        check_key("labels", &k)?;
        out.insert(k, truncate(&v, MAX_VALUE_CHARS));
    }
    if out.len() > MAX_LABELS {
        return Err(DomainError::invalid(
            "labels",
            format!("at most {MAX_LABELS} labels, got {}", out.len()),
        ));
    }
    Ok(out)
}

fn images(v: Option<&Value>) -> Result<Vec<Image>, DomainError> {
    let list = match v {
        None | Some(Value::Null) => return Ok(vec![]),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(DomainError::invalid("images", "must be a list")),
    };
    let mut out: Vec<Image> = vec![];
    for item in list {
        let img: Image = serde_json::from_value(item.clone()).map_err(|e| {
            DomainError::invalid("images", format!("each image is {{alt?, src, href?}}: {e}"))
        })?;
        let http = img.src.starts_with("http://") || img.src.starts_with("https://");
        if !http || img.src.chars().count() > IMAGE_SRC_CHARS {
            continue;
        }
        match out.iter_mut().find(|i| i.alt == img.alt) {
            Some(same_alt) => *same_alt = img,
            None => out.push(img),
        }
    }
    Ok(out)
}

/// A standard event (`alerts.md`, "Standard events").
pub fn standard_event(source_id: i64, body: &Value) -> Result<AlertEvent, DomainError> {
    let Value::Object(body) = body else {
        return Err(DomainError::invalid("body", "must be a JSON object"));
    };
    let title_rule = text_field(body, "title_rule")?
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| DomainError::invalid("title_rule", "is required"))?;
    let title_rule = truncate(title_rule, TITLE_RULE_CHARS);
    let status_text = text_field(body, "event_status")?
        .ok_or_else(|| DomainError::invalid("event_status", "is required"))?;
    let status = parse_status(status_text).ok_or_else(|| {
        DomainError::invalid(
            "event_status",
            format!("{status_text:?} is not one of Critical, Warning, Info, Ok"),
        )
    })?;
    let labels = match body.get("labels") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(m)) => checked_labels(
            m.iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(DomainError::invalid(
                        "labels",
                        format!("the value of {k:?} must be a string"),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?,
        )?,
        Some(_) => {
            return Err(DomainError::invalid(
                "labels",
                "must be an object of strings",
            ))
        }
    };
    let alert_key = match text_field(body, "alert_key")?.filter(|k| !k.is_empty()) {
        Some(k) if k.chars().count() > ALERT_KEY_CHARS => {
            return Err(DomainError::invalid(
                "alert_key",
                format!("must be at most {ALERT_KEY_CHARS} characters"),
            ))
        }
        Some(k) => k.to_string(),
        None if status == Status::Ok => {
            return Err(DomainError::invalid(
                "alert_key",
                "is required with event_status Ok: it names the alert to recover",
            ))
        }
        None => derived_key(source_id, &title_rule, &labels),
    };
    let description = truncate(
        text_field(body, "description")?.unwrap_or(""),
        DESCRIPTION_CHARS,
    );
    Ok(AlertEvent {
        title: truncate(&render_title(&title_rule, &labels), TITLE_RULE_CHARS),
        title_rule,
        description,
        status,
        alert_key,
        labels,
        images: images(body.get("images"))?,
    })
}

/// Alertmanager's webhook body (version 4): one event per entry of `alerts`.
pub fn alertmanager_events(source_id: i64, body: &Value) -> Result<Vec<AlertEvent>, DomainError> {
    let alerts = body
        .get("alerts")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            DomainError::invalid("alerts", "is required: Alertmanager's list of alerts")
        })?;
    let strings = |v: Option<&Value>| -> BTreeMap<String, String> {
        v.and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = vec![];
    for (n, a) in alerts.iter().enumerate() {
        let labels = strings(a.get("labels"));
        let annotations = strings(a.get("annotations"));
        let status = match a.get("status").and_then(Value::as_str) {
            Some("resolved") => Status::Ok,
            Some("firing") => match labels.get("severity").map(String::as_str) {
                Some("critical") => Status::Critical,
                Some("warning") => Status::Warning,
                Some("info") | Some("none") => Status::Info,
                _ => Status::Warning,
            },
            other => {
                return Err(DomainError::invalid(
                    format!("alerts.{n}.status"),
                    format!("{other:?} is not firing or resolved"),
                ))
            }
        };
        // Annotations join the labels; a label wins on a clash. Names that
        // are not label names, and any beyond the limit, are left out.
        let mut merged: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in labels.iter().chain(annotations.iter()) {
            if merged.len() < MAX_LABELS
                && !merged.contains_key(k)
                && check_key("labels", k).is_ok()
            {
                merged.insert(k.clone(), truncate(v, MAX_VALUE_CHARS));
            }
        }
        let title_rule = annotations
            .get("summary")
            .or_else(|| labels.get("alertname"))
            .cloned()
            .unwrap_or_else(|| "Alertmanager alert".into());
        let title_rule = truncate(&title_rule, TITLE_RULE_CHARS);
        let alert_key = match a.get("fingerprint").and_then(Value::as_str) {
            Some(f) if !f.is_empty() => truncate(f, ALERT_KEY_CHARS),
            _ => derived_key(source_id, "", &labels),
        };
        out.push(AlertEvent {
            title: title_rule.clone(),
            title_rule,
            description: truncate(
                annotations.get("description").map_or("", String::as_str),
                DESCRIPTION_CHARS,
            ),
            status,
            alert_key,
            labels: merged,
            images: vec![],
        });
    }
    Ok(out)
}

/// The alert source an event came through.
#[derive(Debug, Clone)]
pub struct Source {
    pub integration_id: i64,
    pub name: String,
    pub source_type: String,
    pub channel: Channel,
}

/// The incident an alert is grouped into, as its payload shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AlertIncident {
    pub incident_id: String,
    pub title: String,
}

/// An alert; serialises as the Alert object of `events.md` (plus `images`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Alert {
    pub alert_id: String,
    pub data_source_id: i64,
    pub data_source_name: String,
    pub data_source_type: String,
    pub channel_id: i64,
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
        alert.to_payload(),
        Map::new(),
    );
}

/// The grouping key of an alert in a channel; `None` when every alert opens
/// its own incident, or (strict) when a dimension is empty.
pub fn group_key(
    channel: &Channel,
    title: &str,
    description: &str,
    labels: &BTreeMap<String, String>,
) -> Option<String> {
    let g = &channel.grouping;
    if g.method != "p" {
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
    pub open: HashMap<(i64, String), Alert>,
    /// Incidents the batch may change, by id.
    pub incidents: HashMap<String, Incident>,
    /// The newest open incident per (channel, group key).
    pub groups: HashMap<(i64, String), String>,
    /// Alerts changed by the batch, by id (the latest state).
    pub changed_alerts: HashMap<String, Alert>,
    pub changed_incidents: Vec<String>,
    /// (alert_id, raw event) in order.
    pub raw: Vec<(String, Value)>,
}

impl IngestState {
    pub fn incident_changed(&mut self, id: &str) {
        if !self.changed_incidents.iter().any(|c| c == id) {
            self.changed_incidents.push(id.to_string());
        }
    }
}

fn follow_alerts(inc: &mut Incident) {
    if let Some(s) = inc.alerts_open.highest() {
        inc.incident_status = s;
    }
}

fn severity_of(s: Status) -> Option<Severity> {
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
                    if ev.status == Status::Ok && inc.alerts_open.total() == 0 {
                        inc.incident_status = Status::Ok;
                        inc.end_time = now;
                        if !inc.is_closed() {
                            inc.progress = Progress::Closed;
                            inc.close_time = now;
                            inc.snoozed_before = 0;
                            rec.emit(inc, EventType::i_rslv, None, Map::new());
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
        alert_id: new_object_id(now),
        data_source_id: source.integration_id,
        data_source_name: source.name.clone(),
        data_source_type: source.source_type.clone(),
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
        (!inc.is_closed() && in_window).then(|| id.clone())
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
            if channel.grouping.window_start == "merge" {
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

fn json_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}

fn new_incident(alert: &Alert, channel: &Channel, now: i64, now_ms: i64) -> Incident {
    let mut alerts_open = crate::incident::AlertTally::default();
    alerts_open.add(alert.alert_status);
    Incident {
        incident_id: new_object_id(now),
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
        group_method: channel.grouping.method.clone(),
        dedup_key: alert.alert_key.clone(),
        data_source_id: alert.data_source_id,
        alerts_open,
        group_key: String::new(),
        group_anchor: now,
        storms_sent: vec![],
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
        rec.touch(&inc.incident_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn titles_render_labels_and_leave_the_rest() {
        let l = labels(&[("host", "db-1"), ("h", "x")]);
        assert_eq!(render_title("$host down", &l), "db-1 down");
        assert_eq!(render_title("${host}down", &l), "db-1down");
        assert_eq!(
            render_title("$hostname $missing ${open", &l),
            "$hostname $missing ${open"
        );
        assert_eq!(render_title("cost $5 and $", &l), "cost $5 and $");
        assert_eq!(render_title("é$h€", &l), "éx€");
    }

    #[test]
    fn derived_keys_depend_on_source_rule_and_labels() {
        let l = labels(&[("a", "1")]);
        let k = derived_key(1, "t", &l);
        assert_eq!(k, derived_key(1, "t", &l));
        assert_ne!(k, derived_key(2, "t", &l));
        assert_ne!(k, derived_key(1, "u", &l));
        assert_ne!(k, derived_key(1, "t", &labels(&[("a", "2")])));
        assert_eq!(k.len(), 32);
    }

    #[test]
    fn alertmanager_severity_mapping() {
        let body = |sev: &str, status: &str| json!({"alerts": [{"status": status, "labels": {"alertname": "A", "severity": sev}, "annotations": {}}]});
        for (sev, want) in [
            ("critical", Status::Critical),
            ("warning", Status::Warning),
            ("info", Status::Info),
            ("none", Status::Info),
            ("page", Status::Warning),
        ] {
            assert_eq!(
                alertmanager_events(1, &body(sev, "firing")).unwrap()[0].status,
                want,
                "{sev}"
            );
        }
        assert_eq!(
            alertmanager_events(1, &body("critical", "resolved")).unwrap()[0].status,
            Status::Ok
        );
        assert!(alertmanager_events(1, &body("critical", "pending")).is_err());
    }
}
