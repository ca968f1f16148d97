//! Changing what an incident says: comments, fields, custom fields,
//! labels.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::common::*;
use super::validate::*;
use crate::event::EventType;
use crate::field::{check_value, FieldDef};
use crate::incident::Incident;
use crate::person::Person;
use crate::recorder::Recorder;
use crate::severity::Status;
use crate::DomainError;

pub fn comment(
    incidents: &mut [Incident],
    text: &str,
    by: &Person,
    rec: &mut Recorder,
) -> Result<(), DomainError> {
    let n = text.chars().count();
    if !COMMENT_CHARS.contains(&n) || text.trim().is_empty() {
        return Err(DomainError::invalid(
            "comment",
            format!("must be 1 to 10000 characters, got {n}"),
        ));
    }
    let now = rec.now_s();
    for inc in incidents.iter_mut() {
        inc.updated_at = now;
        rec.emit(
            inc,
            EventType::i_comm,
            Some(by),
            json_map(json!({"comment": text})),
        );
    }
    Ok(())
}

/// Where one of the incident's free-text fields lives.
type TextSlot = fn(&mut Incident) -> &mut String;

#[derive(Debug, Default, Clone)]
pub struct Reset {
    pub title: Option<String>,
    pub description: Option<String>,
    pub impact: Option<String>,
    pub root_cause: Option<String>,
    pub resolution: Option<String>,
    pub incident_severity: Option<String>,
}

/// Changes the given fields, one `i_r_*` event per field that changed, in the
/// order of `events.md`. Everything is checked before anything changes.
pub fn reset(
    inc: &mut Incident,
    r: &Reset,
    by: &Person,
    rec: &mut Recorder,
) -> Result<(), DomainError> {
    let title = r.title.as_deref().map(validate_title).transpose()?;
    let desc = r
        .description
        .as_deref()
        .map(|t| validate_text("description", t, DESCRIPTION_CHARS))
        .transpose()?;
    let impact = r
        .impact
        .as_deref()
        .map(|t| validate_text("impact", t, LONG_TEXT_CHARS))
        .transpose()?;
    let rc = r
        .root_cause
        .as_deref()
        .map(|t| validate_text("root_cause", t, LONG_TEXT_CHARS))
        .transpose()?;
    let rs = r
        .resolution
        .as_deref()
        .map(|t| validate_text("resolution", t, LONG_TEXT_CHARS))
        .transpose()?;
    let sev = r
        .incident_severity
        .as_deref()
        .map(|s| parse_severity("incident_severity", s))
        .transpose()?;
    if title.is_none()
        && desc.is_none()
        && impact.is_none()
        && rc.is_none()
        && rs.is_none()
        && sev.is_none()
    {
        return Err(DomainError::invalid(
            "incident_id",
            "give at least one of title, description, impact, root_cause, resolution, incident_severity",
        ));
    }
    let now = rec.now_s();
    let texts: [(Option<String>, TextSlot, EventType); 5] = [
        (title, |i| &mut i.title, EventType::i_r_title),
        (desc, |i| &mut i.description, EventType::i_r_desc),
        (impact, |i| &mut i.impact, EventType::i_r_impact),
        (rc, |i| &mut i.root_cause, EventType::i_r_rc),
        (rs, |i| &mut i.resolution, EventType::i_r_rsltn),
    ];
    for (value, slot, event) in texts {
        if let Some(v) = value {
            if *slot(inc) != v {
                let from = std::mem::replace(slot(inc), v.clone());
                inc.updated_at = now;
                let noted = json!({"from": from, "to": v});
                rec.emit_noted(inc, event, Some(by), Map::new(), noted);
            }
        }
    }
    if let Some(sev) = sev {
        if inc.incident_severity != sev {
            let from = std::mem::replace(&mut inc.incident_severity, sev);
            inc.severity_set_by_person = true;
            if inc.alert_cnt == 0 {
                inc.incident_status = Status::from(sev);
            }
            inc.updated_at = now;
            let noted = json!({"from": from, "to": sev});
            rec.emit_noted(inc, EventType::i_r_severity, Some(by), Map::new(), noted);
        }
    }
    Ok(())
}

pub fn reset_field(
    inc: &mut Incident,
    def: &FieldDef,
    value: &Value,
    by: &Person,
    rec: &mut Recorder,
) -> Result<(), DomainError> {
    check_value(def, value)?;
    let current = inc
        .fields
        .get(&def.field_name)
        .cloned()
        .unwrap_or(Value::Null);
    if current == *value {
        return Ok(());
    }
    if value.is_null() {
        inc.fields.remove(&def.field_name);
    } else {
        inc.fields.insert(def.field_name.clone(), value.clone());
    }
    inc.updated_at = rec.now_s();
    rec.emit_noted(
        inc,
        EventType::i_r_field,
        Some(by),
        json_map(json!({"field_name": def.field_name})),
        json!({"from": current, "to": value}),
    );
    Ok(())
}

/// Enrichment: sets and removes labels, writes a timeline record, emits no event.
pub fn update_labels(
    inc: &mut Incident,
    set: &BTreeMap<String, String>,
    remove_keys: &[String],
    by: &Person,
    rec: &mut Recorder,
) -> Result<(), DomainError> {
    let next = crate::labels::apply_update(&inc.labels, set, remove_keys)?;
    if next == inc.labels {
        return Ok(());
    }
    inc.labels = next;
    inc.updated_at = rec.now_s();
    let detail = json!({"labels": set, "remove_keys": remove_keys});
    rec.note(inc, "i_labels", Some(by), detail);
    Ok(())
}
