//! An incident's progress: acknowledge, snooze, wake, resolve, reopen,
//! merge.

use serde_json::{json, Map};

use super::common::*;
use super::validate::*;
use crate::event::EventType;
use crate::ids::IncidentId;
use crate::incident::{Incident, Responder};
use crate::person::Person;
use crate::recorder::Recorder;
use crate::severity::Progress;
use crate::DomainError;

pub fn ack(incidents: &mut [Incident], by: &Person, rec: &mut Recorder) -> Result<(), DomainError> {
    ensure_open(incidents, "acknowledge")?;
    let now = rec.now_s();
    for inc in incidents.iter_mut() {
        match inc.responder_mut(by.person_id) {
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
        match inc.responder_mut(by.person_id) {
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
        let until = std::mem::take(&mut inc.snoozed_before);
        inc.updated_at = now;
        let noted = json!({ "snoozedBefore": until });
        rec.emit_noted(inc, EventType::i_wake, by, Map::new(), noted);
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
        let noted = json!({ "from": "console" });
        rec.emit_noted(inc, EventType::i_rslv, Some(by), Map::new(), noted);
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
    reason: Option<&str>,
    by: &Person,
    rec: &mut Recorder,
) -> Result<(), DomainError> {
    // The hosted product takes a reopen without a reason; a blank one is none.
    let reason = reason.map(str::trim).filter(|r| !r.is_empty());
    if let Some(r) = reason {
        validate_len_range("reason", r, REASON_CHARS)?;
    }
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
        let detail = match reason {
            Some(r) => json!({ "reason": r }),
            None => json!({}),
        };
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
            rec.emit_noted(
                src,
                EventType::i_rslv,
                Some(by),
                json_map(json!({"merged_into": target.incident_id})),
                json!({"from": "console"}),
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
    let ids: Vec<IncidentId> = sources.iter().map(|s| s.incident_id.clone()).collect();
    let brief = |i: &Incident| json!({"incident_id": i.incident_id, "title": i.title, "progress": i.progress});
    let noted = json!({
        "source_incidents": sources.iter().map(brief).collect::<Vec<_>>(),
        "target_incident": brief(target),
        "owner_id": by.person_id,
    });
    rec.emit_noted(
        target,
        EventType::i_merge,
        Some(by),
        json_map(json!({"merged_incident_ids": ids})),
        noted,
    );
    Ok(())
}

/// Stops new alerts from joining the incidents (the hosted product's
/// "disable merge"): a like alert opens an incident of its own. Written on
/// the timeline as `i_merge_disabled`; emits no event.
pub fn disable_merge(
    incidents: &mut [Incident],
    by: &Person,
    rec: &mut Recorder,
) -> Result<(), DomainError> {
    let now = rec.now_s();
    for inc in incidents.iter_mut().filter(|i| !i.merge_disabled) {
        inc.merge_disabled = true;
        inc.updated_at = now;
        rec.note(inc, MERGE_DISABLED, Some(by), json!({}));
    }
    Ok(())
}

/// The timeline kind of [`disable_merge`].
pub const MERGE_DISABLED: &str = "i_merge_disabled";
