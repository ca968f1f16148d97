//! Replay (`delivery.md`, "Delivery health"): push again what failed or was
//! skipped in a window, oldest first, at a set rate, with the same
//! `event_id`s; progress and cancel. The pacing runs in the background
//! (`crate::replay_pacer`).

use axum::extract::State;
use dutyhook_domain::ids::{new_object_id, IntegrationId, ReplayId};
use dutyhook_domain::integration::IntegrationKind;
use dutyhook_store::{NewReplay, ReplayInfo};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::integration::{load_kind, may_manage, TAG_WEBHOOKS};
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Empty, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

pub const DEFAULT_RATE_PER_S: i64 = 50;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(replay_create))
        .routes(routes!(replay_info))
        .routes(routes!(replay_cancel))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum UnsentStatus {
    /// Retries used up, or a final 4xx.
    Failed,
    /// Not pushed because the integration was disabled.
    Skipped,
}

#[derive(Deserialize, ToSchema)]
pub struct ReplayCreate {
    #[schema(value_type = i64)]
    pub integration_id: IntegrationId,
    /// Unix seconds, compared with each event's time.
    pub start_time: i64,
    /// Unix seconds, included.
    pub end_time: i64,
    /// Which deliveries: `failed`, `skipped`, or both (the default).
    pub status: Option<Vec<UnsentStatus>>,
    /// At most this many queued per second, 1 to 1000 (default 50).
    #[schema(minimum = 1, maximum = 1000)]
    pub rate_per_s: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct ReplayCreated {
    #[schema(value_type = String)]
    pub replay_id: ReplayId,
    /// Events to push again (one per event, however many deliveries it had).
    pub count: i64,
}

#[derive(Deserialize, ToSchema)]
pub struct ReplayIdBody {
    #[schema(value_type = String)]
    pub replay_id: ReplayId,
}

#[derive(Serialize, ToSchema)]
pub struct ReplayView {
    #[schema(value_type = String)]
    pub replay_id: ReplayId,
    #[schema(value_type = i64)]
    pub integration_id: IntegrationId,
    /// `running` (queuing at its rate), `finished` (all queued), `cancelled`.
    pub state: String,
    pub rate_per_s: i64,
    pub total: i64,
    /// Queued again so far; of those, pushed, failed, skipped and pending.
    pub queued: i64,
    pub pushed: i64,
    pub failed: i64,
    pub skipped: i64,
    pub pending: i64,
    /// Unix ms; `ended_at` 0 while running.
    pub created_at: i64,
    pub ended_at: i64,
}

impl From<ReplayInfo> for ReplayView {
    fn from(r: ReplayInfo) -> Self {
        ReplayView {
            replay_id: r.replay_id,
            integration_id: r.integration_id,
            state: r.state.as_str().into(),
            rate_per_s: r.rate_per_s,
            total: r.total,
            queued: r.queued,
            pushed: r.pushed,
            failed: r.failed,
            skipped: r.skipped,
            pending: r.pending,
            created_at: r.created_at,
            ended_at: r.ended_at,
        }
    }
}

/// Queues again, oldest first and at most `rate_per_s`, every failed or
/// skipped delivery of the window: same `event_id`s, each incident's order
/// kept, each event once. Survives restarts without queuing anything twice.
#[utoipa::path(post, path = "/integration/history/replay", tag = TAG_WEBHOOKS, request_body = ReplayCreate,
    responses((status = 200, body = Envelope<ReplayCreated>), (status = "4XX", body = ErrorEnvelope)))]
async fn replay_create(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ReplayCreate>,
) -> ApiResult<ReplayCreated> {
    let r = load_kind(
        &app,
        "integration_id",
        req.integration_id,
        &IntegrationKind::WEBHOOKS,
        "webhook",
    )
    .await?;
    may_manage(&app, &caller, r.team_id).await?;
    if !r.enabled {
        return Err(ApiError::invalid(
            "integration_id",
            format!(
                "webhook {} is disabled: enable it first, or the replay would only be skipped",
                r.integration_id
            ),
        ));
    }
    for (field, v) in [("start_time", req.start_time), ("end_time", req.end_time)] {
        if !(0..=i64::MAX / 1000).contains(&v) {
            return Err(ApiError::invalid(field, "must be Unix seconds"));
        }
    }
    if req.start_time > req.end_time {
        return Err(ApiError::invalid(
            "end_time",
            "must not be before start_time",
        ));
    }
    let rate = req.rate_per_s.unwrap_or(DEFAULT_RATE_PER_S);
    if !(1..=1000).contains(&rate) {
        return Err(ApiError::invalid(
            "rate_per_s",
            format!("must be from 1 to 1000, got {rate}"),
        ));
    }
    let status = req
        .status
        .unwrap_or_else(|| vec![UnsentStatus::Failed, UnsentStatus::Skipped]);
    if status.is_empty() {
        return Err(ApiError::invalid(
            "status",
            "name failed, skipped or both (or leave it out for both)",
        ));
    }
    let now_ms = app.clock.now_ms();
    let replay_id = ReplayId::from(new_object_id(now_ms / 1000));
    let count = app
        .store
        .create_replay(&NewReplay {
            replay_id: replay_id.clone(),
            integration_id: r.integration_id,
            created_by: caller.person.person_id,
            now_ms,
            from_ms: req.start_time * 1000,
            to_ms: req.end_time * 1000 + 999,
            failed: status.contains(&UnsentStatus::Failed),
            skipped: status.contains(&UnsentStatus::Skipped),
            rate_per_s: rate,
        })
        .await?;
    tracing::info!(replay_id = %replay_id, integration_id = r.integration_id.get(), count, rate, "replay started");
    app.replays.notify_one();
    ok(ReplayCreated { replay_id, count })
}

async fn load(app: &AppState, id: &ReplayId) -> Result<ReplayInfo, ApiError> {
    app.store
        .replay(id)
        .await?
        .ok_or_else(|| ApiError::ResourceNotFound(format!("replay {id} does not exist")))
}

/// A replay's progress.
#[utoipa::path(post, path = "/integration/history/replay/info", tag = TAG_WEBHOOKS, request_body = ReplayIdBody,
    responses((status = 200, body = Envelope<ReplayView>), (status = "4XX", body = ErrorEnvelope)))]
async fn replay_info(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<ReplayIdBody>,
) -> ApiResult<ReplayView> {
    ok(load(&app, &req.replay_id).await?.into())
}

/// Stops queuing; what was queued already still goes out.
#[utoipa::path(post, path = "/integration/history/replay/cancel", tag = TAG_WEBHOOKS, request_body = ReplayIdBody,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn replay_cancel(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ReplayIdBody>,
) -> ApiResult<Empty> {
    let info = load(&app, &req.replay_id).await?;
    if let Some(r) = app.store.integration(info.integration_id).await? {
        may_manage(&app, &caller, r.team_id).await?;
    }
    if !app
        .store
        .cancel_replay(&req.replay_id, app.clock.now_ms())
        .await?
    {
        return Err(ApiError::invalid(
            "replay_id",
            format!(
                "replay {} is {}: nothing left to cancel",
                info.replay_id,
                info.state.as_str()
            ),
        ));
    }
    ok(Empty {})
}
