//! Changing a run after its press: an async endpoint's callbacks, a person
//! cancelling it (and the one signed push telling the endpoint to stop),
//! and the deadline. Each change is made by `Runtime::mutate_run`, which
//! reads the run in the writing transaction: a finished run stays finished
//! whatever arrives at the same time, on every process.

use dutyhook_delivery::custom_action;
use dutyhook_delivery::invoker::{Endpoint, Tally};
use dutyhook_domain::action::{trigger_payload, ActionConfig};
use dutyhook_domain::field::FieldDef;
use dutyhook_domain::ids::RunId;
use dutyhook_domain::incident::RenderContext;
use dutyhook_domain::person::Person;
use dutyhook_domain::run::{Run, RunStatus, WriteBackKey};
use dutyhook_domain::run_changes::{end_unapproved, update_run, RunUpdate};
use dutyhook_domain::write_back::{read_object, Answer};
use rand::RngCore;
use serde::Deserialize;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::routes::choices::CallbackStatus;
use crate::runtime::Runtime;
use crate::state::AppState;

/// A new callback token: random, shown once in the push, kept hashed.
pub fn callback_token() -> String {
    let mut bytes = [0u8; 24];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!("dhrun_{}", hex::encode(bytes))
}

pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// The extra `run` field of a push to an async action: where and with
/// what to report, and by when.
pub fn run_field(render: &RenderContext, run: &Run, token: Option<&str>) -> Map<String, Value> {
    let mut field = json!({
        "run_id": run.run_id,
        "status": run.status,
        "callback_url": format!("{}/action-run/callback", render.public_url.trim_end_matches('/')),
        "deadline": run.deadline,
    });
    if let Some(t) = token {
        field["callback_token"] = json!(t);
    }
    if let Some(p) = &run.approved_by {
        field["approved_by"] = json!(p);
    }
    let mut extra = Map::new();
    extra.insert("run".into(), field);
    extra
}

/// Applies `update` (and what `answer` writes back) to the run, as `by`.
async fn change(
    rt: &Runtime,
    run: &Run,
    update: RunUpdate,
    answer: Answer,
    by: Option<Person>,
) -> Result<Run, ApiError> {
    let defs = field_defs_for(rt, &answer).await?;
    let id = run.run_id.clone();
    // The run as the committed operation left it: no read after the write.
    let (_, changed) = rt
        .mutate_run(&run.incident_id, &run.run_id, move |incs, rec| {
            update_run(&mut incs[0], &id, &update, &answer, &defs, by.as_ref(), rec)
        })
        .await?;
    Ok(changed)
}

/// The custom field definitions, when `answer` sets custom fields.
pub(crate) async fn field_defs_for(
    rt: &Runtime,
    answer: &Answer,
) -> Result<Vec<FieldDef>, ApiError> {
    if answer
        .wanted
        .iter()
        .any(|(k, _)| *k == WriteBackKey::Fields)
    {
        Ok(rt.store.fields().await?)
    } else {
        Ok(vec![])
    }
}

pub(crate) async fn stored(rt: &Runtime, run_id: &RunId) -> Result<Run, ApiError> {
    rt.store
        .run(run_id)
        .await?
        .ok_or_else(|| ApiError::ResourceNotFound(format!("run {run_id} does not exist")))
}

/// The action's settings, if it still exists.
pub(crate) async fn action_of(
    rt: &Runtime,
    run: &Run,
) -> Result<Option<(dutyhook_store::IntegrationRecord, ActionConfig)>, ApiError> {
    let Some(r) = rt.store.integration(run.action_id).await? else {
        return Ok(None);
    };
    Ok(r.config.action().cloned().map(|c| (r, c)))
}

fn status_of(body: &Map<String, Value>) -> Result<RunStatus, ApiError> {
    match body
        .get("status")
        .and_then(|s| CallbackStatus::deserialize(s).ok())
    {
        Some(CallbackStatus::Running) => Ok(RunStatus::Running),
        Some(CallbackStatus::Succeeded) => Ok(RunStatus::Succeeded),
        Some(CallbackStatus::Failed) => Ok(RunStatus::Failed),
        None => Err(ApiError::invalid(
            "status",
            "is required: one of running, succeeded, failed",
        )),
    }
}

fn progress_of(body: &Map<String, Value>) -> Result<Option<i64>, ApiError> {
    match body.get("progress") {
        None | Some(Value::Null) => Ok(None),
        Some(v) => match v.as_i64() {
            Some(p) if (0..=100).contains(&p) => Ok(Some(p)),
            _ => Err(ApiError::invalid(
                "progress",
                format!("must be a whole number from 0 to 100, got {v}"),
            )),
        },
    }
}

/// Refuses a callback whose keys have the wrong type, naming the key,
/// before anything else is looked at.
fn check_types(body: &Map<String, Value>) -> Result<(), ApiError> {
    for (key, value) in body {
        let wanted = match key.as_str() {
            "message" | "comment" => "text",
            "links" => "a list",
            "labels" | "fields" | "resolve" => "an object",
            _ => continue,
        };
        let fits = match wanted {
            "text" => value.is_string(),
            "a list" => value.is_array(),
            _ => value.is_object(),
        };
        if !fits && !value.is_null() {
            return Err(ApiError::invalid(key, format!("must be {wanted}")));
        }
    }
    Ok(())
}

/// The keys of a callback about the run itself, not the incident.
const OWN_KEYS: [&str; 3] = ["status", "progress", "message"];

/// An async endpoint reports on its run with the run's callback token.
pub async fn callback(
    rt: &Runtime,
    token: &str,
    body: Map<String, Value>,
) -> Result<Run, ApiError> {
    check_types(&body)?;
    let progress = progress_of(&body)?;
    let status = status_of(&body)?;
    let hash = token_hash(token);
    let run = match rt.run_tokens.get(&hash) {
        Some(run) => run,
        None => {
            let run =
                rt.store.run_by_token(&hash).await?.ok_or_else(|| {
                    ApiError::Unauthorized("the callback token is not valid".into())
                })?;
            rt.run_tokens.put(&run, rt.clock.now_ms().div_euclid(1000));
            run
        }
    };
    if rt.clock.now_ms().div_euclid(1000) >= run.deadline {
        return Err(ApiError::Unauthorized(
            "the callback token expired at the run's deadline".into(),
        ));
    }
    // Only a write-back needs the action's settings: a plain progress
    // report reads nothing more.
    let writes_back = body.keys().any(|k| !OWN_KEYS.contains(&k.as_str()));
    let allowed = match writes_back {
        true => action_of(rt, &run).await?.map(|(_, cfg)| cfg.write_back),
        false => None,
    };
    let allowed = allowed.unwrap_or_default();
    let answer = read_object(body, &allowed, &["status", "progress"]);
    let update = RunUpdate {
        status,
        message: answer.message.clone(),
        progress,
    };
    let by = run.requested_by.clone();
    change(rt, &run, update, answer, Some(by)).await
}

/// A person cancels a running run; the endpoint gets one signed push with
/// `run.status: "cancelled"`, retried only as a press is.
pub async fn cancel(app: &AppState, by: &Person, run_id: &RunId) -> Result<Run, ApiError> {
    let run = stored(app, run_id).await?;
    if run.status != RunStatus::Running {
        return Err(ApiError::invalid(
            "run_id",
            format!(
                "run {run_id} is {}: only a running run can be cancelled",
                run.status.as_str()
            ),
        ));
    }
    let update = RunUpdate {
        status: RunStatus::Cancelled,
        message: Some(format!("cancelled by {}", by.person_name)),
        progress: None,
    };
    let run = change(app, &run, update, Answer::default(), Some(by.clone())).await?;
    if let Some((action, cfg)) = action_of(app, &run).await? {
        tell_cancelled(app, &run, &action, &cfg).await?;
    }
    stored(app, run_id).await
}

async fn tell_cancelled(
    app: &AppState,
    run: &Run,
    action: &dutyhook_store::IntegrationRecord,
    cfg: &ActionConfig,
) -> Result<(), ApiError> {
    let Some(incident) = app.store.incident(&run.incident_id).await? else {
        return Ok(());
    };
    let now_ms = app.clock.now_ms();
    let extra = run_field(&app.render, run, None);
    let payload = trigger_payload(
        &incident,
        &run.requested_by,
        vec![],
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
        None,
    )
    .await?;
    let record = &pressed.last.record;
    app.store.record_attempt(record).await?;
    app.invoker.count(&Tally::of(record));
    let mut ids = pressed.earlier.clone();
    ids.push(record.invocation_id.clone());
    let run_id = run.run_id.clone();
    app.mutate_run(&run.incident_id, &run.run_id, move |_, rec| {
        if let Some(r) = rec.run_mut(&run_id) {
            r.invocation_ids.extend(ids.iter().cloned());
        }
        Ok(())
    })
    .await?;
    Ok(())
}

/// Ends every run still running past its deadline as `timed_out`, and
/// every run still awaiting approval as `expired`. Safe on several
/// processes at once: a run already final is left alone.
pub async fn time_out_due(rt: &Runtime) -> Result<usize, ApiError> {
    let now_s = rt.clock.now_ms().div_euclid(1000);
    let mut ended = 0;
    for run in rt.store.overdue_runs(now_s, 100).await? {
        let update = RunUpdate {
            status: RunStatus::TimedOut,
            message: Some("no final status by the deadline".into()),
            progress: None,
        };
        let outcome = match run.status {
            RunStatus::AwaitingApproval => {
                let why = "no approval in time".to_string();
                end_unapproved_run(rt, &run, RunStatus::Expired, why, None).await
            }
            _ => change(rt, &run, update, Answer::default(), None).await,
        };
        match outcome {
            Ok(_) => ended += 1,
            // Finished meanwhile (a callback, or another process).
            Err(ApiError::InvalidParameter(_)) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(ended)
}

/// Ends the run as `rejected` (`by` a person) or `expired` (`by` none).
pub(crate) async fn end_unapproved_run(
    rt: &Runtime,
    run: &Run,
    status: RunStatus,
    message: String,
    by: Option<Person>,
) -> Result<Run, ApiError> {
    let id = run.run_id.clone();
    let (_, ended) = rt
        .mutate_run(&run.incident_id, &run.run_id, move |incs, rec| {
            end_unapproved(&incs[0], &id, status, &message, by.as_ref(), rec)
        })
        .await?;
    Ok(ended)
}
