//! Custom action runs: an incident's, newest first, and one by one.

use axum::extract::State;
use dutyhook_domain::ids::{is_object_id, RunId};
use dutyhook_domain::run::Run;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::actions::IncidentRef;
use super::incidents::{existing, incident_id};
use super::TAG_INCIDENTS;
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(run_list))
        .routes(routes!(run_info))
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
    if !is_object_id(&req.run_id) {
        return Err(ApiError::invalid(
            "run_id",
            format!(
                "{:?} is not a run id (24 lowercase hex characters)",
                req.run_id.as_str()
            ),
        ));
    }
    match app.store.run(&req.run_id).await? {
        Some(run) => ok(run),
        None => Err(ApiError::ResourceNotFound(format!(
            "run {} does not exist",
            req.run_id
        ))),
    }
}
