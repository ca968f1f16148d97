//! Recording a custom action run on its incident, and the changes of an
//! async run after its press.

use serde_json::{json, Map};

use crate::event::EventType;
use crate::ids::RunId;
use crate::incident::Incident;
use crate::person::Person;
use crate::recorder::Recorder;
use crate::run::{Run, RunStatus, MESSAGE_CHARS};
use crate::write_back::{self, Answer, Applying};
use crate::DomainError;

/// How a call ended, as the run's timeline record tells it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallOutcome {
    pub status_code: i64,
    pub error_class: String,
    pub error: String,
}

/// Writes a run's change of status onto the incident: its timeline record
/// (who, which action, how it ended, the message) and the `i_custom` event
/// for incident webhooks; and keeps the run with the same commit.
/// `by` is who the timeline names: the requester for what the endpoint
/// did, the person who cancelled, or none (dutyhook) for a deadline.
pub fn record_run(
    incident: &Incident,
    run: &Run,
    call: &CallOutcome,
    by: Option<&Person>,
    rec: &mut Recorder,
) {
    let mut extra = Map::new();
    extra.insert(
        "action".into(),
        json!({
            "integration_id": run.action_id,
            "name": run.name,
            "success": run.status == RunStatus::Succeeded,
            "run_id": run.run_id,
            "status": run.status,
        }),
    );
    rec.emit_event(incident, EventType::i_custom, by, extra);
    let mut detail = json!({
        "action_id": run.action_id,
        "integration_id": run.action_id,
        "integration_name": run.name,
        "name": run.name,
        "run_id": run.run_id,
        "status": run.status,
        "message": run.message,
    });
    if call.status_code != 0 {
        detail["status_code"] = json!(call.status_code);
    }
    if !call.error_class.is_empty() {
        detail["error_class"] = json!(call.error_class);
        detail["error"] = json!(call.error);
    }
    if !run.write_back.is_empty() {
        detail["write_back"] = json!(run.write_back);
    }
    rec.note(incident, EventType::i_custom.as_str(), by, detail);
    rec.keep_run(run.clone());
}

/// A change an async run reports, or one made to it.
#[derive(Debug, Clone, PartialEq)]
pub struct RunUpdate {
    pub status: RunStatus,
    pub message: Option<String>,
    pub progress: Option<i64>,
}

/// Moves a run that is not final yet: its status, message and progress,
/// and what the answer writes back. The run must be in the recorder's
/// `runs` (the store reads it in the same transaction). A change of status
/// or message, or a write-back, goes on the timeline with `i_custom`.
pub fn update_run(
    inc: &mut Incident,
    run_id: &RunId,
    update: &RunUpdate,
    answer: &Answer,
    defs: &[crate::field::FieldDef],
    by: Option<&Person>,
    rec: &mut Recorder,
) -> Result<Run, DomainError> {
    let mut run = rec
        .run_mut(run_id)
        .ok_or_else(|| DomainError::not_found("run", run_id))?
        .clone();
    if run.status.is_final() {
        return Err(DomainError::invalid(
            "status",
            format!("run already finished: it is {}", run.status.as_str()),
        ));
    }
    if let Some(p) = update.progress {
        if !(0..=100).contains(&p) {
            return Err(DomainError::invalid(
                "progress",
                format!("must be from 0 to 100, got {p}"),
            ));
        }
    }
    let who = Applying {
        defs,
        action_id: run.action_id,
        action_name: &run.name,
        by: &run.requested_by,
    };
    let report = write_back::apply(inc, answer, &who, rec);
    let message = update
        .message
        .as_deref()
        .map(|m| crate::labels::truncate(m, MESSAGE_CHARS));
    let told = update.status != run.status
        || message.as_ref().is_some_and(|m| *m != run.message)
        || !report.is_empty();
    if let Some(m) = message {
        run.message = m;
    }
    if let Some(p) = update.progress {
        run.progress = p;
    }
    if !report.is_empty() {
        run.write_back = report;
    }
    run.set_status(update.status, rec.now_s());
    if told {
        record_run(inc, &run, &CallOutcome::default(), by, rec);
    } else {
        rec.keep_run(run.clone());
    }
    Ok(run)
}

fn awaiting(rec: &mut Recorder, run_id: &RunId, what: &str) -> Result<Run, DomainError> {
    let run = rec
        .run_mut(run_id)
        .ok_or_else(|| DomainError::not_found("run", run_id))?
        .clone();
    if run.status != RunStatus::AwaitingApproval {
        return Err(DomainError::invalid(
            "run_id",
            format!(
                "run {run_id} is {}: only a run awaiting approval can be {what}",
                run.status.as_str()
            ),
        ));
    }
    Ok(run)
}

/// A second person approves a run awaiting approval: it is `running` from
/// now, with its approver and (async) callback token hash and deadline;
/// the call follows.
pub fn approve_run(
    inc: &Incident,
    run_id: &RunId,
    approver: &Person,
    token_hash: &str,
    deadline: i64,
    rec: &mut Recorder,
) -> Result<Run, DomainError> {
    let mut run = awaiting(rec, run_id, "approved")?;
    run.approved_by = Some(approver.clone());
    run.token_hash = token_hash.to_string();
    run.deadline = deadline;
    run.message = format!("approved by {}", approver.person_name);
    run.set_status(RunStatus::Running, rec.now_s());
    record_run(inc, &run, &CallOutcome::default(), Some(approver), rec);
    Ok(run)
}

/// Ends a run awaiting approval as `rejected` (by a person) or `expired`
/// (by dutyhook, `by` none); nothing is called.
pub fn end_unapproved(
    inc: &Incident,
    run_id: &RunId,
    status: RunStatus,
    message: &str,
    by: Option<&Person>,
    rec: &mut Recorder,
) -> Result<Run, DomainError> {
    let mut run = awaiting(rec, run_id, status.as_str())?;
    run.message = crate::labels::truncate(message, MESSAGE_CHARS);
    run.set_status(status, rec.now_s());
    record_run(inc, &run, &CallOutcome::default(), by, rec);
    Ok(run)
}
