//! Runs that wait for a second person (`approval`): approving one makes
//! its call, as the requester's press; rejecting one ends it; unanswered,
//! it expires. The writer moves each run out of `awaiting_approval` once,
//! so two approvers at the same moment cannot both make the call.

use dutyhook_domain::action::{ActionConfig, ActionMode};
use dutyhook_domain::ids::RunId;
use dutyhook_domain::person::Role;
use dutyhook_domain::run::{Run, RunStatus};
use dutyhook_domain::run_changes::approve_run;
use dutyhook_store::IntegrationRecord;

use crate::action_calls::{call, press_deadline, TriggerResult};
use crate::caller::Caller;
use crate::error::ApiError;
use crate::run_updates::{self, callback_token, end_unapproved_run, stored, token_hash};
use crate::state::AppState;

async fn awaiting(app: &AppState, run_id: &RunId) -> Result<Run, ApiError> {
    let run = stored(app, run_id).await?;
    if run.status != RunStatus::AwaitingApproval {
        return Err(ApiError::invalid(
            "run_id",
            format!(
                "run {run_id} is {}: only a run awaiting approval can be approved or rejected",
                run.status.as_str()
            ),
        ));
    }
    Ok(run)
}

/// Whether `caller` may approve `run` of an action approved as `cfg` says:
/// never its requester, never a viewer; admins always; else any member,
/// or only members of the approval's team.
async fn may_approve(
    app: &AppState,
    caller: &Caller,
    run: &Run,
    cfg: &ActionConfig,
) -> Result<(), ApiError> {
    caller.require_operator()?;
    if caller.person.person_id == run.requested_by.person_id {
        return Err(ApiError::AccessDenied(
            "a run is approved by another person than the one who requested it".into(),
        ));
    }
    let team_id = cfg.approval.as_ref().map_or(0, |a| a.team_id);
    if caller.role == Role::Admin || team_id == 0 {
        return Ok(());
    }
    let team = app.store.team(team_id).await?;
    if team.is_some_and(|t| t.person_ids.contains(&caller.person.person_id)) {
        Ok(())
    } else {
        Err(ApiError::AccessDenied(format!(
            "only members of team {team_id} and admins may approve runs of {}",
            cfg.name
        )))
    }
}

/// The run's action and its settings; refused when it was deleted.
async fn action_of(
    app: &AppState,
    run: &Run,
) -> Result<(IntegrationRecord, ActionConfig), ApiError> {
    run_updates::action_of(app, run).await?.ok_or_else(|| {
        ApiError::invalid(
            "run_id",
            format!("the action of run {} no longer exists", run.run_id),
        )
    })
}

/// Approves the run and makes its call; answers as the trigger does.
pub async fn approve(
    app: &AppState,
    caller: &Caller,
    run_id: &RunId,
) -> Result<TriggerResult, ApiError> {
    let run = awaiting(app, run_id).await?;
    let (action, cfg) = action_of(app, &run).await?;
    may_approve(app, caller, &run, &cfg).await?;
    let now_s = app.clock.now_ms().div_euclid(1000);
    let token = (cfg.mode == ActionMode::Async).then(callback_token);
    let hash = token.as_deref().map(token_hash).unwrap_or_default();
    let deadline = press_deadline(&cfg, now_s);
    let approver = caller.person.clone();
    let id = run_id.clone();
    let (incident, run) = app
        .mutate_run(&run.incident_id, run_id, move |incs, rec| {
            approve_run(&incs[0], &id, &approver, &hash, deadline, rec)
        })
        .await?;
    call(app, &action, &cfg, &incident, run, token).await
}

/// Rejects the run: nothing is called. Its requester may withdraw it; any
/// other person who may approve it may reject it.
pub async fn reject(
    app: &AppState,
    caller: &Caller,
    run_id: &RunId,
    reason: Option<String>,
) -> Result<Run, ApiError> {
    let run = awaiting(app, run_id).await?;
    caller.require_operator()?;
    if caller.person.person_id != run.requested_by.person_id {
        let (_, cfg) = action_of(app, &run).await?;
        may_approve(app, caller, &run, &cfg).await?;
    }
    let by = &caller.person.person_name;
    let message = match reason.as_deref().map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => format!("rejected by {by}: {r}"),
        None => format!("rejected by {by}"),
    };
    end_unapproved_run(
        app,
        &run,
        RunStatus::Rejected,
        message,
        Some(caller.person.clone()),
    )
    .await
}
