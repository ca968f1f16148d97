//! What several operations share: refusing closed incidents, finding a
//! responder, settling progress from acknowledgements.

use serde_json::{Map, Value};

use crate::incident::{Incident, Responder};
use crate::person::Person;
use crate::severity::Progress;
use crate::DomainError;

pub(crate) fn closed_error(inc: &Incident, what: &str) -> DomainError {
    DomainError::invalid(
        "incident_ids",
        format!("incident {} is Closed: cannot {what} it", inc.incident_id),
    )
}

pub(crate) fn ensure_open(incidents: &[Incident], what: &str) -> Result<(), DomainError> {
    match incidents.iter().find(|i| i.is_closed()) {
        Some(inc) => Err(closed_error(inc, what)),
        None => Ok(()),
    }
}

pub(crate) fn responder(p: &Person, assigned_at: i64) -> Responder {
    Responder {
        person_id: p.person_id,
        person_name: p.person_name.clone(),
        email: p.email.clone(),
        assigned_at,
        acknowledged_at: 0,
    }
}

/// Progress of an open incident follows its acknowledgements.
pub(crate) fn settle_progress(inc: &mut Incident) {
    if !inc.is_closed() {
        inc.progress = if inc.any_acknowledged() {
            Progress::Processing
        } else {
            Progress::Triggered
        };
    }
}

pub(crate) fn json_map(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => Map::new(),
    }
}
