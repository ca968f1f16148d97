//! Recording a custom action run on its incident.

use serde_json::{json, Map};

use crate::event::EventType;
use crate::incident::Incident;
use crate::recorder::Recorder;
use crate::run::{Run, RunStatus};

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
pub fn record_run(incident: &Incident, run: &Run, call: &CallOutcome, rec: &mut Recorder) {
    let by = &run.requested_by;
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
    rec.emit_event(incident, EventType::i_custom, Some(by), extra);
    let mut detail = json!({
        "action_id": run.action_id,
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
    rec.note(incident, EventType::i_custom.as_str(), Some(by), detail);
    rec.keep_run(run.clone());
}
