//! Custom action runs: an incident's, newest first, one by one; cancelling
//! one; and the callback an async action's endpoint reports through.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::HeaderMap;
use dutyhook_domain::ids::{is_object_id, RunId};
use dutyhook_domain::incident::Link;
use dutyhook_domain::run::{Run, RunStatus, WriteBackReport};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::action_presses::IncidentRef;
use super::choices::CallbackStatus;
use super::incidents::{existing, incident_id};
use super::TAG_INCIDENTS;
use crate::action_calls::TriggerResult;
use crate::approvals;
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::run_updates;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(run_list))
        .routes(routes!(run_info))
        .routes(routes!(run_awaiting))
        .routes(routes!(run_cancel))
        .routes(routes!(run_approve))
        .routes(routes!(run_reject))
        .routes(routes!(run_callback))
}

fn checked(run_id: &RunId) -> Result<(), ApiError> {
    if is_object_id(run_id) {
        Ok(())
    } else {
        Err(ApiError::invalid(
            "run_id",
            format!(
                "{:?} is not a run id (24 lowercase hex characters)",
                run_id.as_str()
            ),
        ))
    }
}

#[derive(Serialize, ToSchema)]
pub struct RunItems {
    pub items: Vec<Run>,
}

#[utoipa::path(post, path = "/incident/action/run/list", tag = TAG_INCIDENTS, request_body = IncidentRef,
    responses((status = 200, body = Envelope<RunItems>), (status = "4XX", body = ErrorEnvelope)))]
async fn run_list(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<IncidentRef>,
) -> ApiResult<RunItems> {
    let id = incident_id("incident_id", &req.incident_id)?;
    existing(&app, &id).await?;
    ok(RunItems {
        items: app.store.incident_runs(&id).await?,
    })
}

#[derive(Deserialize, ToSchema)]
pub struct NoFilter {}

/// Runs awaiting approval on any incident, oldest first (at most 100).
#[utoipa::path(post, path = "/incident/action/run/awaiting", tag = TAG_INCIDENTS, request_body = NoFilter,
    responses((status = 200, body = Envelope<RunItems>), (status = "4XX", body = ErrorEnvelope)))]
async fn run_awaiting(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(_req): ApiJson<NoFilter>,
) -> ApiResult<RunItems> {
    ok(RunItems {
        items: app.store.awaiting_runs(100).await?,
    })
}

#[derive(Deserialize, ToSchema)]
pub struct RunRef {
    #[schema(pattern = "^[0-9a-f]{24}$")]
    #[schema(value_type = String)]
    pub run_id: RunId,
}

#[utoipa::path(post, path = "/incident/action/run/info", tag = TAG_INCIDENTS, request_body = RunRef,
    responses((status = 200, body = Envelope<Run>), (status = "4XX", body = ErrorEnvelope)))]
async fn run_info(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<RunRef>,
) -> ApiResult<Run> {
    checked(&req.run_id)?;
    match app.store.run(&req.run_id).await? {
        Some(run) => ok(run),
        None => Err(ApiError::ResourceNotFound(format!(
            "run {} does not exist",
            req.run_id
        ))),
    }
}

#[utoipa::path(post, path = "/incident/action/run/cancel", tag = TAG_INCIDENTS, request_body = RunRef,
    responses((status = 200, body = Envelope<Run>), (status = "4XX", body = ErrorEnvelope)))]
async fn run_cancel(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<RunRef>,
) -> ApiResult<Run> {
    caller.require_operator()?;
    checked(&req.run_id)?;
    ok(run_updates::cancel(&app, &caller.person, &req.run_id).await?)
}

/// Approves a run awaiting approval and makes its call; answers as the
/// trigger does.
#[utoipa::path(post, path = "/incident/action/run/approve", tag = TAG_INCIDENTS, request_body = RunRef,
    responses((status = 200, body = Envelope<TriggerResult>), (status = "4XX", body = ErrorEnvelope)))]
async fn run_approve(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<RunRef>,
) -> ApiResult<TriggerResult> {
    checked(&req.run_id)?;
    ok(approvals::approve(&app, &caller, &req.run_id).await?)
}

#[derive(Deserialize, ToSchema)]
pub struct RunReject {
    #[schema(pattern = "^[0-9a-f]{24}$")]
    #[schema(value_type = String)]
    pub run_id: RunId,
    /// Shown on the run and the timeline; at most 500 characters.
    #[schema(max_length = 500)]
    pub reason: Option<String>,
}

#[utoipa::path(post, path = "/incident/action/run/reject", tag = TAG_INCIDENTS, request_body = RunReject,
    responses((status = 200, body = Envelope<Run>), (status = "4XX", body = ErrorEnvelope)))]
async fn run_reject(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<RunReject>,
) -> ApiResult<Run> {
    checked(&req.run_id)?;
    if req.reason.as_ref().is_some_and(|r| r.chars().count() > 500) {
        return Err(ApiError::invalid(
            "reason",
            "must be at most 500 characters",
        ));
    }
    ok(approvals::reject(&app, &caller, &req.run_id, req.reason).await?)
}

/// What an async action's endpoint reports: a status, and optionally a
/// message, progress and the write-back keys its action allows.
/// Read as a JSON object by the handler (the write-back reader takes the
/// same keys from a sync answer); this type documents it.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct RunCallback {
    /// `running`, `succeeded` or `failed`; the last two are final.
    pub status: CallbackStatus,
    /// At most 1000 characters.
    pub message: Option<String>,
    #[schema(minimum = 0, maximum = 100)]
    pub progress: Option<i64>,
    /// Labels to set; `null` removes one.
    pub labels: Option<HashMap<String, Option<String>>>,
    /// Custom field values by field name; `null` clears one.
    #[schema(value_type = Option<HashMap<String, serde_json::Value>>)]
    pub fields: Option<Map<String, Value>>,
    pub comment: Option<String>,
    pub links: Option<Vec<Link>>,
    pub resolve: Option<ResolveAnswer>,
}

/// Closes the incident, with these texts when given.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct ResolveAnswer {
    pub resolution: Option<String>,
    pub root_cause: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct CallbackAnswer {
    #[schema(value_type = String)]
    pub run_id: RunId,
    pub status: RunStatus,
    pub progress: i64,
    pub write_back: WriteBackReport,
}

/// Authenticated by the run's callback token alone (`Authorization: Bearer`).
#[utoipa::path(post, path = "/action-run/callback", tag = TAG_INCIDENTS, request_body = RunCallback,
    security(("bearer" = [])),
    responses((status = 200, body = Envelope<CallbackAnswer>), (status = "4XX", body = ErrorEnvelope)))]
async fn run_callback(
    State(app): State<AppState>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<Map<String, Value>>,
) -> ApiResult<CallbackAnswer> {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::Unauthorized(
                "send the run's callback_token as Authorization: Bearer <token>".into(),
            )
        })?;
    let run = run_updates::callback(&app, token, body).await?;
    ok(CallbackAnswer {
        run_id: run.run_id,
        status: run.status,
        progress: run.progress,
        write_back: run.write_back,
    })
}
