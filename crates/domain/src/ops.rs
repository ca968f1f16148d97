//! Every operation on incidents, as pure functions over the incident state.
//! Each records exactly the events of `events.md` through the [`Recorder`]
//! and changes nothing (and emits nothing) when the stored value would not
//! change. Errors leave the caller to roll everything back.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::event::EventType;
use crate::field::{check_value, FieldDef};
use crate::ids::new_object_id;
use crate::incident::{Assignment, Incident, Responder};
use crate::person::Person;
use crate::recorder::Recorder;
use crate::severity::{Progress, Severity, Status};
use crate::DomainError;

pub const TITLE_CHARS: std::ops::RangeInclusive<usize> = 3..=200;
pub const DESCRIPTION_CHARS: usize = 6144;
pub const LONG_TEXT_CHARS: usize = 6144;
pub const COMMENT_CHARS: std::ops::RangeInclusive<usize> = 1..=10_000;
pub const REASON_CHARS: std::ops::RangeInclusive<usize> = 1..=1024;
pub const SNOOZE_MINUTES: std::ops::RangeInclusive<i64> = 1..=1440;
pub const MAX_MERGE_SOURCES: usize = 100;
pub const MAX_RESPONDERS: usize = 100;

pub fn validate_title(title: &str) -> Result<String, DomainError> {
    let t = title.trim();
    let n = t.chars().count();
    if !TITLE_CHARS.contains(&n) {
        return Err(DomainError::invalid(
            "title",
            format!("must be 3 to 200 characters, got {n}"),
        ));
    }
    if t.chars().any(|c| c.is_control()) {
        return Err(DomainError::invalid(
            "title",
            "must not contain control characters",
        ));
    }
    Ok(t.to_string())
}

pub fn validate_text(field: &str, text: &str, max: usize) -> Result<String, DomainError> {
    let n = text.chars().count();
    if n > max {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max} characters, got {n}"),
        ));
    }
    Ok(text.to_string())
}

fn validate_len_range(
    field: &str,
    text: &str,
    range: std::ops::RangeInclusive<usize>,
) -> Result<(), DomainError> {
    let n = text.trim().chars().count();
    if !range.contains(&n) {
        return Err(DomainError::invalid(
            field,
            format!(
                "must be {} to {} characters, got {n}",
                range.start(),
                range.end()
            ),
        ));
    }
    Ok(())
}

pub fn parse_severity(field: &str, s: &str) -> Result<Severity, DomainError> {
    Severity::parse(s).ok_or_else(|| {
        DomainError::invalid(
            field,
            format!("{s:?} is not one of Critical, Warning, Info"),
        )
    })
}

/// Checks custom field values against their definitions and fills defaults.
pub fn validate_fields(
    defs: &[FieldDef],
    given: &Map<String, Value>,
) -> Result<Map<String, Value>, DomainError> {
    let mut out = Map::new();
    for (name, value) in given {
        let def = defs.iter().find(|d| &d.field_name == name).ok_or_else(|| {
            DomainError::invalid("fields", format!("no custom field named {name:?}"))
        })?;
        check_value(def, value).map_err(|e| match e {
            DomainError::InvalidParameter { message, .. } => {
                DomainError::invalid(format!("fields.{name}"), message)
            }
            other => other,
        })?;
        if !value.is_null() {
            out.insert(name.clone(), value.clone());
        }
    }
    for def in defs {
        if let (false, Some(v)) = (out.contains_key(&def.field_name), &def.default_value) {
            if !given.contains_key(&def.field_name) {
                out.insert(def.field_name.clone(), v.clone());
            }
        }
    }
    Ok(out)
}

fn closed_error(inc: &Incident, what: &str) -> DomainError {
    DomainError::invalid(
        "incident_ids",
        format!("incident {} is Closed: cannot {what} it", inc.incident_id),
    )
}

fn ensure_open(incidents: &[Incident], what: &str) -> Result<(), DomainError> {
    match incidents.iter().find(|i| i.is_closed()) {
        Some(inc) => Err(closed_error(inc, what)),
        None => Ok(()),
    }
}

fn responder(p: &Person, assigned_at: i64) -> Responder {
    Responder {
        person_id: p.person_id,
        person_name: p.person_name.clone(),
        email: p.email.clone(),
        assigned_at,
        acknowledged_at: 0,
    }
}

/// Progress of an open incident follows its acknowledgements.
fn settle_progress(inc: &mut Incident) {
    if !inc.is_closed() {
        inc.progress = if inc.any_acknowledged() {
            Progress::Processing
        } else {
            Progress::Triggered
        };
    }
}

#[derive(Debug, Clone)]
pub struct NewIncident {
    pub title: String,
    pub severity: Severity,
    pub channel_id: i64,
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
        incident_id: new_object_id(now),
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
        data_source_id: 0,
        alerts_open: Default::default(),
        group_key: String::new(),
        group_anchor: 0,
        storms_sent: vec![],
    };
    rec.emit(&inc, EventType::i_new, Some(creator), Map::new());
    if !input.assignees.is_empty() {
        apply_assignment(&mut inc, &input.assignees, now);
        rec.emit(&inc, EventType::i_assign, Some(creator), Map::new());
    }
    inc
}

fn apply_assignment(inc: &mut Incident, people: &[Person], now: i64) {
    let previous = std::mem::take(&mut inc.responders);
    inc.responders = people
        .iter()
        .map(|p| {
            let acknowledged_at = previous
                .iter()
                .find(|r| r.person_id == p.person_id)
                .map_or(0, |r| r.acknowledged_at);
            Responder {
                acknowledged_at,
                ..responder(p, now)
            }
        })
        .collect();
    inc.assigned_to = Some(Assignment {
        kind: "assign".into(),
        person_ids: people.iter().map(|p| p.person_id).collect(),
        assigned_at: now,
    });
    inc.updated_at = now;
    settle_progress(inc);
}

pub fn validate_people_list(field: &str, people: &[Person]) -> Result<(), DomainError> {
    if people.is_empty() {
        return Err(DomainError::invalid(field, "must list at least one person"));
    }
    if people.len() > MAX_RESPONDERS {
        return Err(DomainError::invalid(
            field,
            format!("at most {MAX_RESPONDERS} people"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = people.iter().find(|p| !seen.insert(p.person_id)) {
        return Err(DomainError::invalid(
            field,
            format!("person {} is listed twice", dup.person_id),
        ));
    }
    Ok(())
}

/// Replaces the responders. Acknowledgements of people who stay are kept.
pub fn assign(
    incidents: &mut [Incident],
    people: &[Person],
    by: &Person,
    rec: &mut Recorder,
) -> Result<(), DomainError> {
    validate_people_list("assigned_to.person_ids", people)?;
    ensure_open(incidents, "assign")?;
    let ids: Vec<i64> = people.iter().map(|p| p.person_id).collect();
    for inc in incidents.iter_mut() {
        if inc.responder_ids() == ids
            && inc
                .assigned_to
                .as_ref()
                .is_some_and(|a| a.person_ids == ids)
        {
            continue;
        }
        apply_assignment(inc, people, rec.now_s());
        rec.emit(inc, EventType::i_assign, Some(by), Map::new());
    }
    Ok(())
}

pub fn add_responders(
    inc: &mut Incident,
    people: &[Person],
    by: &Person,
    rec: &mut Recorder,
) -> Result<(), DomainError> {
    validate_people_list("person_ids", people)?;
    if inc.is_closed() {
        return Err(closed_error(inc, "add responders to"));
    }
    let now = rec.now_s();
    let mut added = false;
    for p in people {
        if !inc.responders.iter().any(|r| r.person_id == p.person_id) {
            inc.responders.push(responder(p, now));
            added = true;
        }
    }
    if inc.responders.len() > MAX_RESPONDERS {
        return Err(DomainError::invalid(
            "person_ids",
            format!("an incident has at most {MAX_RESPONDERS} responders"),
        ));
    }
    if added {
        inc.updated_at = now;
        rec.emit(inc, EventType::i_a_rspd, Some(by), Map::new());
    }
    Ok(())
}

pub fn ack(incidents: &mut [Incident], by: &Person, rec: &mut Recorder) -> Result<(), DomainError> {
    ensure_open(incidents, "acknowledge")?;
    let now = rec.now_s();
    for inc in incidents.iter_mut() {
        match inc
            .responders
            .iter_mut()
            .find(|r| r.person_id == by.person_id)
        {
            Some(r) if r.acknowledged_at > 0 => continue,
            Some(r) => r.acknowledged_at = now,
            None => inc.responders.push(Responder {
                acknowledged_at: now,
                ..responder(by, now)
            }),
        }
        if inc.ack_time == 0 {
            inc.ack_time = now;
        }
        inc.updated_at = now;
        settle_progress(inc);
        rec.emit(inc, EventType::i_ack, Some(by), Map::new());
    }
    Ok(())
}

pub fn unack(
    incidents: &mut [Incident],
    by: &Person,
    rec: &mut Recorder,
) -> Result<(), DomainError> {
    ensure_open(incidents, "withdraw an acknowledgement of")?;
    let now = rec.now_s();
    for inc in incidents.iter_mut() {
        match inc
            .responders
            .iter_mut()
            .find(|r| r.person_id == by.person_id)
        {
            Some(r) if r.acknowledged_at > 0 => r.acknowledged_at = 0,
            _ => continue,
        }
        inc.updated_at = now;
        settle_progress(inc);
        rec.emit(inc, EventType::i_unack, Some(by), Map::new());
    }
    Ok(())
}

pub fn snooze(
    incidents: &mut [Incident],
    minutes: i64,
    by: &Person,
    rec: &mut Recorder,
) -> Result<(), DomainError> {
    if !SNOOZE_MINUTES.contains(&minutes) {
        return Err(DomainError::invalid(
            "minutes",
            format!("must be from 1 to 1440, got {minutes}"),
        ));
    }
    ensure_open(incidents, "snooze")?;
    let now = rec.now_s();
    let until = now + minutes * 60;
    for inc in incidents.iter_mut() {
        if inc.snoozed_before == until {
            continue;
        }
        inc.snoozed_before = until;
        inc.updated_at = now;
        rec.emit(
            inc,
            EventType::i_snooze,
            Some(by),
            json!({"minutes": minutes})
                .as_object()
                .cloned()
                .unwrap_or_default(),
        );
    }
    Ok(())
}

/// Cancels a snooze by hand (`by` set) or on expiry (`by` none). Incidents not
/// snoozed are left alone.
pub fn wake(
    incidents: &mut [Incident],
    by: Option<&Person>,
    rec: &mut Recorder,
) -> Result<(), DomainError> {
    if by.is_some() {
        ensure_open(incidents, "wake")?;
    }
    let now = rec.now_s();
    for inc in incidents.iter_mut() {
        if inc.snoozed_before == 0 || inc.is_closed() || (by.is_none() && inc.snoozed_before > now)
        {
            continue;
        }
        inc.snoozed_before = 0;
        inc.updated_at = now;
        rec.emit(inc, EventType::i_wake, by, Map::new());
    }
    Ok(())
}

pub(crate) fn close(inc: &mut Incident, closer: Option<&Person>, now: i64, rec: &mut Recorder) {
    // Its open alerts close with it (written by the store); the status stays.
    if inc.alerts_open.total() > 0 {
        rec.closed_alerts_of.push(inc.incident_id.clone());
    }
    inc.alerts_open = Default::default();
    inc.progress = Progress::Closed;
    inc.close_time = now;
    inc.closer = closer.cloned();
    inc.snoozed_before = 0;
    inc.updated_at = now;
}

pub struct Resolution {
    pub root_cause: Option<String>,
    pub resolution: Option<String>,
}

/// Closes incidents by hand: `i_rslv`, then `i_r_rc`/`i_r_rsltn` for the
/// texts given with it that changed.
pub fn resolve(
    incidents: &mut [Incident],
    texts: &Resolution,
    by: &Person,
    rec: &mut Recorder,
) -> Result<(), DomainError> {
    if let Some(inc) = incidents.iter().find(|i| i.is_closed()) {
        return Err(DomainError::invalid(
            "incident_ids",
            format!("incident {} is already Closed", inc.incident_id),
        ));
    }
    let rc = texts
        .root_cause
        .as_deref()
        .map(|t| validate_text("root_cause", t, LONG_TEXT_CHARS))
        .transpose()?;
    let rs = texts
        .resolution
        .as_deref()
        .map(|t| validate_text("resolution", t, LONG_TEXT_CHARS))
        .transpose()?;
    let now = rec.now_s();
    for inc in incidents.iter_mut() {
        close(inc, Some(by), now, rec);
        rec.emit(inc, EventType::i_rslv, Some(by), Map::new());
        if let Some(rc) = &rc {
            if *rc != inc.root_cause {
                inc.root_cause = rc.clone();
                rec.emit(inc, EventType::i_r_rc, Some(by), Map::new());
            }
        }
        if let Some(rs) = &rs {
            if *rs != inc.resolution {
                inc.resolution = rs.clone();
                rec.emit(inc, EventType::i_r_rsltn, Some(by), Map::new());
            }
        }
    }
    Ok(())
}

pub fn reopen(
    incidents: &mut [Incident],
    reason: &str,
    by: &Person,
    rec: &mut Recorder,
) -> Result<(), DomainError> {
    validate_len_range("reason", reason, REASON_CHARS)?;
    if let Some(inc) = incidents.iter().find(|i| !i.is_closed()) {
        return Err(DomainError::invalid(
            "incident_ids",
            format!(
                "incident {} is not Closed: only Closed incidents can be reopened",
                inc.incident_id
            ),
        ));
    }
    let now = rec.now_s();
    for inc in incidents.iter_mut() {
        inc.progress = Progress::Triggered;
        inc.close_time = 0;
        inc.closer = None;
        for r in &mut inc.responders {
            r.acknowledged_at = 0;
        }
        inc.updated_at = now;
        let detail = json!({"reason": reason.trim()});
        rec.emit(
            inc,
            EventType::i_reopen,
            Some(by),
            detail.as_object().cloned().unwrap_or_default(),
        );
    }
    Ok(())
}

/// Merges `sources` into `target`: each open source closes (`i_rslv`), its
/// alert count moves to the target, and the target gets one `i_merge`.
pub fn merge(
    target: &mut Incident,
    sources: &mut [Incident],
    by: &Person,
    rec: &mut Recorder,
) -> Result<(), DomainError> {
    if sources.is_empty() || sources.len() > MAX_MERGE_SOURCES {
        return Err(DomainError::invalid(
            "source_incident_ids",
            format!("must list 1 to {MAX_MERGE_SOURCES} incidents"),
        ));
    }
    if sources.iter().any(|s| s.incident_id == target.incident_id) {
        return Err(DomainError::invalid(
            "source_incident_ids",
            "must not contain the target incident",
        ));
    }
    if target.is_closed() {
        return Err(DomainError::invalid(
            "target_incident_id",
            format!(
                "incident {} is Closed: reopen it before merging into it",
                target.incident_id
            ),
        ));
    }
    let now = rec.now_s();
    let mut moved = 0;
    for src in sources.iter_mut() {
        moved += src.alert_cnt;
        if std::mem::take(&mut src.alert_cnt) > 0 {
            rec.alert_moves
                .push((src.incident_id.clone(), target.incident_id.clone()));
        }
        let open = std::mem::take(&mut src.alerts_open);
        target.alerts_open.absorb(open);
        if !src.is_closed() {
            close(src, Some(by), now, rec);
            rec.emit(
                src,
                EventType::i_rslv,
                Some(by),
                json_map(json!({"merged_into": target.incident_id})),
            );
        } else {
            src.updated_at = now;
            rec.touch(&src.incident_id);
        }
    }
    target.alert_cnt += moved;
    if let Some(s) = target.alerts_open.highest() {
        target.incident_status = s;
    }
    let latest_source = sources.iter().map(|s| s.last_time).max().unwrap_or(0);
    if moved > 0 && target.last_time < latest_source {
        target.last_time = latest_source;
    }
    target.updated_at = now;
    let ids: Vec<String> = sources.iter().map(|s| s.incident_id.clone()).collect();
    rec.emit(
        target,
        EventType::i_merge,
        Some(by),
        json_map(json!({"merged_incident_ids": ids})),
    );
    Ok(())
}

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
                *slot(inc) = v;
                inc.updated_at = now;
                rec.emit(inc, event, Some(by), Map::new());
            }
        }
    }
    if let Some(sev) = sev {
        if inc.incident_severity != sev {
            inc.incident_severity = sev;
            inc.severity_set_by_person = true;
            if inc.alert_cnt == 0 {
                inc.incident_status = Status::from(sev);
            }
            inc.updated_at = now;
            rec.emit(inc, EventType::i_r_severity, Some(by), Map::new());
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
    rec.emit(
        inc,
        EventType::i_r_field,
        Some(by),
        json_map(json!({"field_name": def.field_name})),
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

fn json_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
