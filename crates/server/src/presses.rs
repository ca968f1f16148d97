//! Pressing a custom action: at most once per idempotency key (a double
//! click waits for the first press and gets its answer), the call made by
//! delivery's `custom_action::press`, and the run written onto the incident
//! with its last attempt, in one commit.

use std::time::{Duration, Instant};

use dutyhook_delivery::custom_action;
use dutyhook_delivery::invoker::{Endpoint, Tally};
use dutyhook_domain::action::{
    self, record_run, trigger_payload, validate_idempotency_key, ActionConfig, ActionRun,
};
use dutyhook_domain::event::{EventType, SubjectKind};
use dutyhook_domain::incident::Incident;
use dutyhook_store::{IntegrationRecord, RunSlot, StoredEvent};

use crate::caller::Caller;
use crate::error::ApiError;
use crate::routes::integration::PushOutcome;
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
) -> Result<PushOutcome, ApiError> {
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
            .begin_action_run(
                person_id,
                &key,
                &fingerprint,
                app.clock.now_ms(),
                action::IDEMPOTENCY_WINDOW_MS,
            )
            .await?;
        match slot {
            RunSlot::Fresh => break,
            RunSlot::Done(first) => {
                return serde_json::from_str(&first)
                    .map_err(|e| ApiError::Internal(format!("stored trigger result: {e}")))
            }
            RunSlot::Mismatch => {
                return Err(ApiError::invalid(
                    "idempotency_key",
                    "was used within the last 10 minutes for another incident or action",
                ))
            }
            RunSlot::Running if Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(25)).await
            }
            RunSlot::Running => {
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
        .finish_action_run(person_id, &key, stored.as_deref())
        .await?;
    outcome
}

/// Calls the endpoint with the signed `i_custom` payload and writes the run
/// onto the incident's timeline with the last attempt.
async fn run(
    app: &AppState,
    caller: &Caller,
    action: &IntegrationRecord,
    cfg: &ActionConfig,
    incident: &Incident,
) -> Result<PushOutcome, ApiError> {
    let alerts = app
        .store
        .recent_alerts(&incident.incident_id, 100)
        .await?
        .iter()
        .map(|a| a.to_payload())
        .collect();
    let payload = trigger_payload(
        incident,
        &caller.person,
        alerts,
        app.clock.now_ms(),
        &app.render,
    );
    let event = StoredEvent {
        seq: 0,
        event_id: payload.event_id.clone(),
        event_type: EventType::i_custom,
        subject_kind: SubjectKind::Incident,
        subject_id: incident.incident_id.to_string(),
        event_time: payload.event_time_ms,
        payload: String::new(),
    };
    let endpoint = Endpoint::from(cfg);
    let pressed = custom_action::press(
        &app.invoker,
        app.store.as_ref(),
        action,
        endpoint,
        payload.body.as_bytes(),
        &event,
    )
    .await?;
    let (res, record) = (&pressed.last.result, &pressed.last.record);
    let ran = ActionRun {
        integration_id: action.integration_id,
        name: action.name.clone(),
        success: res.success,
        status_code: res.status as i64,
    };
    let person = caller.person.clone();
    // Sent together, the last attempt and the run share the writer's next commit.
    let (recorded, ran) = tokio::join!(
        app.store.record_attempt(record),
        app.mutate(
            std::slice::from_ref(&incident.incident_id),
            move |incidents, rec| {
                record_run(&incidents[0], &ran, &person, rec);
                Ok(())
            },
        )
    );
    recorded?;
    ran?;
    app.invoker.count(&Tally::of(record));
    Ok(PushOutcome::new(
        res,
        record.invocation_id.clone(),
        payload.event_id,
        pressed.took.as_millis() as i64,
    ))
}
