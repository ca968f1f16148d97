//! Keeping alerts out of an incident: the hosted product's
//! `/incident/disable-merge`.

use axum::extract::State;
use dutyhook_domain::ops;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::incident_ops::on_batch;
use super::incidents::IncidentIds;
use super::TAG_INCIDENTS;
use crate::auth::Caller;
use crate::envelope::{ApiJson, ApiResult, Empty, Envelope};
use crate::error::ErrorEnvelope;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(incident_disable_merge))
}

/// New alerts no longer join these incidents, whatever the channel's
/// grouping: a like alert opens an incident of its own. On the timeline as
/// `i_merge_disabled`; no event.
#[utoipa::path(post, path = "/incident/disable-merge", tag = TAG_INCIDENTS, request_body = IncidentIds,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_disable_merge(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<IncidentIds>,
) -> ApiResult<Empty> {
    on_batch(
        &app,
        caller,
        &req.incident_ids,
        &req.incident_id,
        |incs, by, rec| ops::disable_merge(incs, by, rec),
    )
    .await
}
