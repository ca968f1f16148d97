//! The call of a run: the signed `i_custom` push to the action's endpoint
//! (with the run's inputs, and for async actions where to report), then
//! the run written onto the incident with what its answer writes back, in
//! one commit with the last attempt. A press and an approval both end here.

use dutyhook_delivery::custom_action;
use dutyhook_delivery::invoker::{Endpoint, Tally};
use dutyhook_delivery::push::PushResult;
use dutyhook_domain::action::{trigger_payload, ActionConfig, ActionMode};
use dutyhook_domain::ids::RunId;
use dutyhook_domain::incident::Incident;
use dutyhook_domain::run::{first_line, Run, RunStatus, WriteBackReport};
use dutyhook_domain::run_changes::{record_run, CallOutcome};
use dutyhook_domain::write_back::{self, read_answer, Answer, Applying};
use dutyhook_store::IntegrationRecord;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::routes::integration::PushOutcome;
use crate::run_updates::{field_defs_for, run_field};
use crate::state::AppState;

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

/// A sync run's deadline while its call is made: a press cut short by a
/// crash ends as `timed_out` then, not `running` for ever.
pub fn press_deadline(cfg: &ActionConfig, now_s: i64) -> i64 {
    match cfg.mode {
        ActionMode::Sync => now_s + 2 * cfg.timeout_ms.div_euclid(1000) + 60,
        ActionMode::Async => now_s + cfg.async_deadline_s,
    }
}

impl TriggerResult {
    /// A run that waits for approval: nothing was called.
    pub fn waiting(run: Run) -> TriggerResult {
        TriggerResult {
            call: PushOutcome::default(),
            run_id: run.run_id,
            status: run.status,
            message: run.message,
            write_back: run.write_back,
        }
    }
}

/// The `Content-Type` of an answer (`{headers, body}` as the history keeps
/// it), "" when it has none.
fn content_type(response: &Value) -> &str {
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

/// The push's extra top-level fields: `inputs` for an action with inputs,
/// `run` for an async one (`token` in clear, shown only here) or an
/// approved one.
fn extra_fields(
    app: &AppState,
    cfg: &ActionConfig,
    run: &Run,
    token: Option<&str>,
) -> Map<String, Value> {
    let mut extra = match cfg.mode {
        ActionMode::Async => run_field(&app.render, run, token),
        // A sync push names its run only when someone approved it.
        ActionMode::Sync if run.approved_by.is_some() => {
            let mut m = Map::new();
            m.insert(
                "run".into(),
                serde_json::json!({"run_id": run.run_id, "status": run.status, "approved_by": run.approved_by}),
            );
            m
        }
        ActionMode::Sync => Map::new(),
    };
    if !cfg.inputs.is_empty() {
        extra.insert("inputs".into(), Value::Object(run.inputs.clone()));
    }
    extra
}

/// Calls the endpoint for `run` (pressed by its requester), then writes
/// how it ended.
pub async fn call(
    app: &AppState,
    action: &IntegrationRecord,
    cfg: &ActionConfig,
    incident: &Incident,
    mut run: Run,
    token: Option<String>,
) -> Result<TriggerResult, ApiError> {
    let alerts = app
        .store
        .recent_alerts(&incident.incident_id, 100)
        .await?
        .iter()
        .map(|a| a.to_payload())
        .collect();
    let now_ms = app.clock.now_ms();
    let extra = extra_fields(app, cfg, &run, token.as_deref());
    let payload = trigger_payload(
        incident,
        &run.requested_by,
        alerts,
        now_ms,
        &app.render,
        extra,
    );
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
            content_type(&record.response.value()),
            &res.response_body,
            &cfg.write_back,
        )
    } else {
        Answer::default()
    };
    run.message = message_of(res, &answer);
    run.invocation_ids.extend(pressed.earlier.iter().cloned());
    run.invocation_ids.push(record.invocation_id.clone());
    let status = match (res.success, cfg.mode) {
        (true, ActionMode::Sync) => RunStatus::Succeeded,
        (true, ActionMode::Async) => RunStatus::Running,
        (false, _) => RunStatus::Failed,
    };
    if cfg.mode == ActionMode::Sync || status == RunStatus::Failed {
        // A sync run's deadline only guarded a press cut short by a crash.
        run.deadline = 0;
    }
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
    let written = run;
    // Sent together, the last attempt and the run share the writer's next commit.
    let (recorded, ran) = tokio::join!(
        app.store.record_attempt(record),
        app.mutate_answering(
            std::slice::from_ref(&incident.incident_id),
            move |incidents, rec| {
                let inc = &mut incidents[0];
                let mut run = written.clone();
                let who = Applying {
                    defs: &defs,
                    action_id: run.action_id,
                    action_name: &run.name,
                    by: &run.requested_by,
                };
                run.write_back = write_back::apply(inc, &answer, &who, rec);
                let by = run.requested_by.clone();
                record_run(inc, &run, &call, Some(&by), rec);
                Ok(run)
            },
        )
    );
    recorded?;
    // The run as the committed operation wrote it: no read after the write.
    let (_, run) = ran?;
    if status == RunStatus::Running {
        // Its callbacks need not read what never changes.
        app.run_tokens.put(&run, now_ms.div_euclid(1000));
    }
    app.invoker.count(&Tally::of(record));
    tell_delivery_alerts(app, action, res, res.success);
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

/// A failed press raises the action's delivery alert (a Warning), a
/// successful one recovers it, when delivery alerts are on; in the
/// background, so the person pressing does not wait for it.
fn tell_delivery_alerts(app: &AppState, action: &IntegrationRecord, res: &PushResult, ok: bool) {
    let Some(channel) = app.delivery_alerts_channel else {
        return;
    };
    let (runtime, id) = (app.runtime.clone(), action.integration_id);
    let class = res
        .class
        .map(|c| c.as_str())
        .unwrap_or_default()
        .to_string();
    let why = format!("a press failed ({class}: {})", res.error);
    tokio::spawn(async move {
        let done = if ok {
            crate::self_alerts::recover(&runtime, channel, id, "a press succeeded again").await
        } else {
            crate::self_alerts::raise(
                &runtime,
                channel,
                id,
                dutyhook_domain::severity::Status::Warning,
                &class,
                &why,
            )
            .await
        };
        if let Err(e) = done {
            tracing::warn!(error = %e, "a custom action's delivery alert could not be raised or recovered");
        }
    });
}
