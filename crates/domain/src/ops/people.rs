//! Who responds: assigning and adding responders.

use serde_json::{json, Map, Value};

use super::common::*;
use super::validate::*;
use crate::event::EventType;
use crate::ids::PersonId;
use crate::incident::{Assignment, Incident, Responder};
use crate::person::Person;
use crate::recorder::Recorder;
use crate::DomainError;

pub(crate) fn apply_assignment(inc: &mut Incident, people: &[Person], now: i64) {
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
        ..Default::default()
    });
    inc.updated_at = now;
    settle_progress(inc);
}

/// The feed's detail of an assignment: the assignment as the incident now
/// holds it, and `to`, the people it names.
pub(crate) fn assignment_detail(inc: &Incident) -> Value {
    let mut detail = serde_json::to_value(&inc.assigned_to).unwrap_or(Value::Null);
    if !detail.is_object() {
        detail = json!({});
    }
    detail["to"] = json!(inc.responder_ids());
    detail
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
    let ids: Vec<PersonId> = people.iter().map(|p| p.person_id).collect();
    for inc in incidents.iter_mut() {
        if inc.responder_ids() == ids
            && inc
                .assigned_to
                .as_ref()
                .is_some_and(|a| a.person_ids == ids)
        {
            continue;
        }
        let reassign = inc.assigned_to.is_some() || !inc.responders.is_empty();
        apply_assignment(inc, people, rec.now_s());
        let mut noted = assignment_detail(inc);
        if reassign {
            noted["type"] = json!("reassign");
        }
        rec.emit_noted(inc, EventType::i_assign, Some(by), Map::new(), noted);
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
    let mut added = vec![];
    for p in people {
        if !inc.responders.iter().any(|r| r.person_id == p.person_id) {
            inc.responders.push(responder(p, now));
            added.push(p.person_id);
        }
    }
    if inc.responders.len() > MAX_RESPONDERS {
        return Err(DomainError::invalid(
            "person_ids",
            format!("an incident has at most {MAX_RESPONDERS} responders"),
        ));
    }
    if !added.is_empty() {
        inc.updated_at = now;
        let noted = json!({ "to": added });
        rec.emit_noted(inc, EventType::i_a_rspd, Some(by), Map::new(), noted);
    }
    Ok(())
}
