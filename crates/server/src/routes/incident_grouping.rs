//! Merging incidents, and keeping alerts out of one (the hosted product's
//! `/incident/disable-merge`).

use axum::extract::State;
use dutyhook_domain::alert::announce_storms;
use dutyhook_domain::ids::IncidentId;
use dutyhook_domain::ops;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::incident_ops::on_batch;
use super::incidents::{incident_id, incident_ids, IncidentIds};
use super::{unsupported, TAG_INCIDENTS};
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Empty, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(incident_merge))
        .routes(routes!(incident_disable_merge))
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

#[derive(Deserialize, ToSchema)]
pub struct IncidentMerge {
    /// 1 to 100 incidents to merge into the target.
    #[schema(value_type = Vec<String>)]
    pub source_incident_ids: Vec<IncidentId>,
    #[schema(value_type = String)]
    pub target_incident_id: IncidentId,
    /// A comment on the target, in the same transaction (`i_comm`).
    pub comment: Option<String>,
    /// A new title for the target, in the same transaction (`i_r_title`).
    pub title: Option<String>,
    /// Not supported (refused when not 0): dutyhook has no incident owner.
    pub owner_id: Option<i64>,
    /// Not supported (refused when true): remove them with `/incident/remove`.
    pub remove_source_incidents: Option<bool>,
}

#[utoipa::path(post, path = "/incident/merge", tag = TAG_INCIDENTS, request_body = IncidentMerge,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_merge(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<IncidentMerge>,
) -> ApiResult<Empty> {
    caller.require_operator()?;
    unsupported(
        "owner_id",
        req.owner_id.is_some_and(|o| o != 0),
        "incidents have no owner",
    )?;
    let remove = req.remove_source_incidents == Some(true);
    unsupported(
        "remove_source_incidents",
        remove,
        "remove them with /incident/remove",
    )?;
    let sources = incident_ids("source_incident_ids", &req.source_incident_ids)?;
    let target = incident_id("target_incident_id", &req.target_incident_id)?;
    if sources.contains(&target) {
        return Err(ApiError::invalid(
            "source_incident_ids",
            "must not contain the target incident",
        ));
    }
    // Alerts moved in may reach a storm threshold of the target's channel.
    let channel_id = super::incidents::existing(&app, &target).await?.channel_id;
    let thresholds = match app.store.channel(channel_id).await? {
        Some(c) => c.storm_thresholds,
        None => vec![],
    };
    let mut ids = vec![target];
    ids.extend(sources);
    let by = caller.person;
    let comment = req.comment.filter(|c| !c.trim().is_empty());
    let retitle = ops::Reset {
        title: req.title.filter(|t| !t.trim().is_empty()),
        ..Default::default()
    };
    app.mutate(&ids, move |incs, rec| {
        let (target, sources) = incs.split_first_mut().expect("the target is loaded first");
        ops::merge(target, sources, &by, rec)?;
        announce_storms(target, &thresholds, rec);
        if retitle.title.is_some() {
            ops::reset(target, &retitle, &by, rec)?;
        }
        if let Some(text) = &comment {
            ops::comment(std::slice::from_mut(target), text, &by, rec)?;
        }
        Ok(())
    })
    .await?;
    ok(Empty {})
}
