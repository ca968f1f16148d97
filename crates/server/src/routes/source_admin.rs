//! An alert source after its creation: renamed or moved to another channel,
//! and tried with a test event that goes through ingestion like any other
//! (its recent events are `/alert-event/list {integration_ids}`).

use axum::extract::State;
use dutyhook_domain::alert::{standard_event, Source};
use dutyhook_domain::ids::{ChannelId, IntegrationId};
use dutyhook_domain::integration::IntegrationConfig;
use dutyhook_domain::severity::Status;
use serde::Deserialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::alerts::{Pushed, KIND};
use super::integration::{load_kind, may_manage, wrong_settings};
use super::{positive_id, TAG_ALERTS};
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Empty, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(source_update))
        .routes(routes!(source_test))
}

#[derive(Deserialize, ToSchema)]
pub struct SourceUpdate {
    #[schema(value_type = i64)]
    pub integration_id: IntegrationId,
    pub name: Option<String>,
    #[schema(value_type = Option<i64>)]
    pub channel_id: Option<ChannelId>,
    /// 0: no managing team.
    pub team_id: Option<i64>,
}

async fn load(
    app: &AppState,
    id: IntegrationId,
) -> Result<dutyhook_store::IntegrationRecord, ApiError> {
    load_kind(app, "integration_id", id, &[KIND], "alert source").await
}

#[utoipa::path(post, path = "/integration/alert-source/update", tag = TAG_ALERTS, request_body = SourceUpdate,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn source_update(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<SourceUpdate>,
) -> ApiResult<Empty> {
    let mut r = load(&app, req.integration_id).await?;
    may_manage(&app, &caller, r.team_id).await?;
    let IntegrationConfig::Source(mut c) = r.config.clone() else {
        return Err(wrong_settings(&r));
    };
    if let Some(name) = req.name {
        let name = name.trim().to_string();
        if !(1..=100).contains(&name.chars().count()) {
            return Err(ApiError::invalid("name", "must be 1 to 100 characters"));
        }
        r.name = name;
    }
    if let Some(id) = req.channel_id {
        let id = positive_id("channel_id", id)?;
        if app.store.channel(id).await?.is_none() {
            return Err(ApiError::ResourceNotFound(format!(
                "channel {id} does not exist"
            )));
        }
        c.channel_id = id;
    }
    if let Some(team) = req.team_id {
        may_manage(&app, &caller, team).await?;
        r.team_id = team;
    }
    r.config = IntegrationConfig::Source(c);
    app.store.update_integration(&r).await?;
    // Sources are cached by key with their channel.
    app.sources.clear();
    ok(Empty {})
}

#[derive(Deserialize, ToSchema)]
pub struct SourceTest {
    #[schema(value_type = i64)]
    pub integration_id: IntegrationId,
    /// `Critical`, `Warning` (default), `Info`, or `Ok` to recover the test alert.
    pub event_status: Option<Status>,
}

/// A standard event from the source, alert key `dutyhook-test`: it opens (or
/// updates, or with `Ok` recovers) an alert and groups and notifies as any.
#[utoipa::path(post, path = "/integration/alert-source/test", tag = TAG_ALERTS, request_body = SourceTest,
    responses((status = 200, body = Envelope<Pushed>), (status = "4XX", body = ErrorEnvelope)))]
async fn source_test(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<SourceTest>,
) -> ApiResult<Pushed> {
    caller.require_operator()?;
    let r = load(&app, req.integration_id).await?;
    let c = r
        .config
        .source()
        .cloned()
        .ok_or_else(|| wrong_settings(&r))?;
    let channel = app.store.channel(c.channel_id).await?.ok_or_else(|| {
        ApiError::invalid(
            "integration_id",
            format!("the source's channel {} no longer exists", c.channel_id),
        )
    })?;
    let status = req.event_status.unwrap_or(Status::Warning);
    let body = json!({
        "event_status": dutyhook_domain::alert::status_str(status),
        "alert_key": "dutyhook-test",
        "title_rule": format!("Test event from the alert source {}", r.name),
        "description": format!("Sent by {} with /integration/alert-source/test.", caller.person.person_name),
        "labels": {"test": "true"},
    });
    let ev = standard_event(r.integration_id, &body)?;
    let source = Source {
        integration_id: r.integration_id,
        name: r.name.clone(),
        source_type: c.source_type,
        channel,
    };
    let mut keys = app
        .store
        .ingest_alerts(source, vec![ev], app.recorder())
        .await?;
    ok(Pushed {
        alert_key: keys.pop().unwrap_or_default(),
    })
}
