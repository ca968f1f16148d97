//! Pressing a custom action: at most once per idempotency key (a double
//! click waits for the first press and gets its answer), the call made by
//! delivery's `custom_action::press`, and the run written onto the incident
//! with its last attempt, in one commit.

use std::time::{Duration, Instant};

use dutyhook_delivery::custom_action;
use dutyhook_delivery::invoker::{Endpoint, Tally};
use dutyhook_delivery::push::PushResult;
use dutyhook_domain::action::{
    self, trigger_payload, validate_idempotency_key, ActionConfig, ActionMode,
};
use dutyhook_domain::ids::RunId;
use dutyhook_domain::incident::Incident;
use dutyhook_domain::run::{first_line, Run, RunStatus, WriteBackReport};
use dutyhook_domain::run_changes::{record_run, CallOutcome};
use dutyhook_domain::write_back::{self, read_answer, Answer, Applying};
use dutyhook_store::{IntegrationRecord, PressSlot};
use serde::{Deserialize, Serialize};
use serde_json::Map;
use utoipa::ToSchema;

use crate::caller::Caller;
use crate::error::ApiError;
use crate::routes::integration::PushOutcome;
use crate::run_updates::{callback_token, field_defs_for, run_field, token_hash};
use crate::state::AppState;

/// Presses `action` for `incident`; with a key, at most once in the
/// idempotency window.
pub async fn press(
    app: &AppState,
    caller: &Caller,
    action: &IntegrationRecord,
    cfg: &ActionConfig,
    incident: &Incident,
    idempotency_key: Option<String>,
) -> Result<TriggerResult, ApiError> {
    let Some(key) = idempotency_key else {
        return run(app, caller, action, cfg, incident).await;
    };
    validate_idempotency_key(&key)?;
    let person_id = caller.person.person_id;
    let fingerprint = format!("{}/{}", incident.incident_id, action.integration_id);
    // A double click waits for the first press rather than calling twice.
    let deadline = Instant::now() + Duration::from_millis(2 * cfg.timeout_ms as u64 + 5000);
    loop {
        let slot = app
            .store
            .begin_press(
                person_id,
                &key,
                &fingerprint,
                app.clock.now_ms(),
                action::IDEMPOTENCY_WINDOW_MS,
            )
            .await?;
        match slot {
            PressSlot::Fresh => break,
            PressSlot::Done(first) => {
                return serde_json::from_str(&first)
                    .map_err(|e| ApiError::Internal(format!("stored trigger result: {e}")))
            }
            PressSlot::Mismatch => {
                return Err(ApiError::invalid(
                    "idempotency_key",
                    "was used within the last 10 minutes for another incident or action",
                ))
            }
            PressSlot::Running if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(25)).await
            }
            PressSlot::Running => {
                return Err(ApiError::Conflict(
                    "idempotency_key: the first trigger with this key is still running".into(),
                ))
            }
        }
    }
    let outcome = run(app, caller, action, cfg, incident).await;
    let stored = match &outcome {
        Ok(o) => Some(serde_json::to_string(o).map_err(|e| ApiError::Internal(e.to_string()))?),
        Err(_) => None,
    };
    app.store
        .finish_press(person_id, &key, stored.as_deref())
        .await?;
    outcome
}

/// What a trigger answers: the call, and the run it made.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct TriggerResult {
    #[serde(flatten)]
    pub call: PushOutcome,
    #[schema(value_type = String)]
    pub run_id: RunId,
    pub status: RunStatus,
    /// The answer's `message`, or its first line, or why the call failed.
    pub message: String,
    pub write_back: WriteBackReport,
}

/// The `Content-Type` of an answer (`{headers, body}` as the history keeps
/// it), "" when it has none.
fn content_type(response: &serde_json::Value) -> &str {
    response["headers"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|h| {
            h["key"]
                .as_str()
                .is_some_and(|k| k.eq_ignore_ascii_case("content-type"))
        })
        .and_then(|h| h["value"].as_str())
        .unwrap_or("")
}

/// The run's message: the answer's `message`, else its first line; for a
/// failure, what went wrong.
fn message_of(res: &PushResult, answer: &Answer) -> String {
    match (&answer.message, res.success) {
        (Some(m), _) => m.clone(),
        (None, true) => first_line(&res.response_body),
        (None, false) => match first_line(&res.response_body) {
            line if line.is_empty() || res.status == 0 => res.error.clone(),
            line => format!("{}: {line}", res.error),
        },
    }
}

/// Calls the endpoint with the signed `i_custom` payload, then writes the
/// run onto the incident with what its answer writes back, in one commit
/// with the last attempt.
async fn run(
    app: &AppState,
    caller: &Caller,
    action: &IntegrationRecord,
    cfg: &ActionConfig,
    incident: &Incident,
) -> Result<TriggerResult, ApiError> {
    let alerts = app
        .store
        .recent_alerts(&incident.incident_id, 100)
        .await?
        .iter()
        .map(|a| a.to_payload())
        .collect();
    let now_ms = app.clock.now_ms();
    let mut run = Run::new(
        action.integration_id,
        &action.name,
        &incident.incident_id,
        &caller.person,
        now_ms,
    );
    let (extra, token) = match cfg.mode {
        ActionMode::Sync => (Map::new(), None),
        ActionMode::Async => {
            let token = callback_token();
            run.token_hash = token_hash(&token);
            run.deadline = now_ms.div_euclid(1000) + cfg.async_deadline_s;
            (run_field(&app.render, &run, Some(&token)), Some(token))
        }
    };
    let payload = trigger_payload(incident, &caller.person, alerts, now_ms, &app.render, extra);
    let pressed = custom_action::press(
        &app.invoker,
        app.store.as_ref(),
        action,
        Endpoint::from(cfg),
        &payload,
        &incident.incident_id,
        token.as_deref(),
    )
    .await?;
    let (res, record) = (&pressed.last.result, &pressed.last.record);
    let answer = if res.success {
        read_answer(
            content_type(&record.response),
            &res.response_body,
            &cfg.write_back,
        )
    } else {
        Answer::default()
    };
    run.message = message_of(res, &answer);
    run.invocation_ids = pressed.earlier.clone();
    run.invocation_ids.push(record.invocation_id.clone());
    let status = match (res.success, cfg.mode) {
        (true, ActionMode::Sync) => RunStatus::Succeeded,
        (true, ActionMode::Async) => RunStatus::Running,
        (false, _) => RunStatus::Failed,
    };
    run.set_status(status, app.clock.now_ms().div_euclid(1000));
    let call = CallOutcome {
        status_code: res.status as i64,
        error_class: res
            .class
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
        error: res.error.clone(),
    };
    let defs = field_defs_for(app, &answer).await?;
    let run_id = run.run_id.clone();
    // Sent together, the last attempt and the run share the writer's next commit.
    let (recorded, ran) = tokio::join!(
        app.store.record_attempt(record),
        app.mutate(
            std::slice::from_ref(&incident.incident_id),
            move |incidents, rec| {
                let inc = &mut incidents[0];
                let mut run = run.clone();
                let who = Applying {
                    defs: &defs,
                    action_id: run.action_id,
                    action_name: &run.name,
                    by: &run.requested_by,
                };
                let report = write_back::apply(inc, &answer, &who, rec);
                run.write_back = report;
                let by = run.requested_by.clone();
                record_run(inc, &run, &call, Some(&by), rec);
                Ok(())
            },
        )
    );
    recorded?;
    ran?;
    app.invoker.count(&Tally::of(record));
    let run = app
        .store
        .run(&run_id)
        .await?
        .ok_or_else(|| ApiError::Internal(format!("run {run_id} was not kept")))?;
    Ok(TriggerResult {
        call: PushOutcome::new(
            res,
            record.invocation_id.clone(),
            payload.event_id,
            pressed.took.as_millis() as i64,
        ),
        run_id: run.run_id,
        status: run.status,
        message: run.message,
        write_back: run.write_back,
    })
}
