//! Pressing a custom action: at most once per idempotency key (a double
//! click waits for the first press and gets its answer), inside the
//! action's guardrails (cooldown, hourly cap, approval), then the call.

use std::time::{Duration, Instant};

use dutyhook_domain::action::{self, validate_idempotency_key, ActionConfig, ActionMode};
use dutyhook_domain::incident::Incident;
use dutyhook_domain::run::{Run, RunStatus};
use dutyhook_domain::run_changes::{record_run, CallOutcome};
use dutyhook_store::{IntegrationRecord, PressSlot};
use serde_json::{Map, Value};

use crate::action_calls::{call, press_deadline, TriggerResult};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::run_updates::{callback_token, token_hash};
use crate::state::AppState;

/// What a trigger is asked to do: which action, on which incident, with
/// which inputs (checked and completed).
pub struct Press<'a> {
    pub action: &'a IntegrationRecord,
    pub cfg: &'a ActionConfig,
    pub incident: &'a Incident,
    pub inputs: Map<String, Value>,
}

/// Presses the action; with a key, at most once in the idempotency window.
pub async fn press(
    app: &AppState,
    caller: &Caller,
    press: Press<'_>,
    idempotency_key: Option<String>,
) -> Result<TriggerResult, ApiError> {
    let Some(key) = idempotency_key else {
        return start(app, caller, press).await;
    };
    validate_idempotency_key(&key)?;
    let person_id = caller.person.person_id;
    let fingerprint = format!(
        "{}/{}",
        press.incident.incident_id, press.action.integration_id
    );
    // A double click waits for the first press rather than calling twice.
    let deadline = Instant::now() + Duration::from_millis(2 * press.cfg.timeout_ms as u64 + 5000);
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
    let outcome = start(app, caller, press).await;
    let stored = match &outcome {
        Ok(o) => Some(serde_json::to_string(o).map_err(|e| ApiError::Internal(e.to_string()))?),
        Err(_) => None,
    };
    app.store
        .finish_press(person_id, &key, stored.as_deref())
        .await?;
    outcome
}

/// Writes `run` if the action's cooldown and hourly cap allow it now.
async fn reserve(
    app: &AppState,
    cfg: &ActionConfig,
    run: &Run,
    now_ms: i64,
) -> Result<(), ApiError> {
    let Some(next_ms) = app.store.reserve_run(run, cfg.rate_rule(), now_ms).await? else {
        return Ok(());
    };
    let wait_s = (next_ms - now_ms + 999).div_euclid(1000);
    let why = match cfg.cooldown_s {
        0 => format!("{} runs per hour", cfg.max_runs_per_hour),
        c if cfg.max_runs_per_hour == 0 => format!("a cooldown of {c} s per incident"),
        c => format!(
            "a cooldown of {c} s per incident and {} runs per hour",
            cfg.max_runs_per_hour
        ),
    };
    Err(ApiError::TooFrequent(format!(
        "{} allows {why}: the next run is possible in {wait_s} s, at {}",
        cfg.name,
        next_ms.div_euclid(1000)
    )))
}

/// Makes the run: it waits for approval, or its call is made now.
async fn start(app: &AppState, caller: &Caller, p: Press<'_>) -> Result<TriggerResult, ApiError> {
    let now_ms = app.clock.now_ms();
    let now_s = now_ms.div_euclid(1000);
    let mut run = Run::new(
        p.action.integration_id,
        &p.action.name,
        &p.incident.incident_id,
        &caller.person,
        now_ms,
    );
    run.inputs = p.inputs;
    if let Some(approval) = &p.cfg.approval {
        run.status = RunStatus::AwaitingApproval;
        run.deadline = now_s + approval.expires_s;
        run.message = "awaiting approval".into();
        reserve(app, p.cfg, &run, now_ms).await?;
        let kept = run.clone();
        app.mutate(std::slice::from_ref(&run.incident_id), move |incs, rec| {
            let by = kept.requested_by.clone();
            record_run(&incs[0], &kept, &CallOutcome::default(), Some(&by), rec);
            Ok(())
        })
        .await?;
        return Ok(TriggerResult::waiting(run));
    }
    let token = (p.cfg.mode == ActionMode::Async).then(callback_token);
    if let Some(t) = &token {
        run.token_hash = token_hash(t);
    }
    run.deadline = press_deadline(p.cfg, now_s);
    if !p.cfg.rate_rule().is_none() {
        reserve(app, p.cfg, &run, now_ms).await?;
    }
    call(app, p.action, p.cfg, p.incident, run, token).await
}
