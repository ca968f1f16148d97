use axum::extract::State;
use dutyhook_domain::channel::{
    validate_channel_name, validate_description, validate_grouping, validate_storm_thresholds,
    Channel, Grouping,
};
use dutyhook_domain::ids::ChannelId;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::channel_group::{from_product, ProductGroup};
use super::{positive_id, ListData, Paging, TAG_PEOPLE};
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(channel_create))
        .routes(routes!(channel_update))
        .routes(routes!(channel_list))
        .routes(routes!(channel_info))
}

#[derive(Deserialize, ToSchema)]
pub struct ChannelWrite {
    /// Required to update; absent to create.
    #[schema(value_type = Option<i64>)]
    pub channel_id: Option<ChannelId>,
    pub channel_name: Option<String>,
    pub team_id: Option<i64>,
    pub description: Option<String>,
    pub grouping: Option<Grouping>,
    pub storm_thresholds: Option<Vec<i64>>,
    /// The hosted product's form of `grouping` (and of `storm_thresholds`);
    /// give one or the other.
    pub group: Option<ProductGroup>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = ChannelId)]
pub struct ChannelIdBody {
    #[schema(value_type = i64)]
    pub channel_id: ChannelId,
}

async fn apply(app: &AppState, mut c: Channel, req: ChannelWrite) -> Result<Channel, ApiError> {
    let req_has_grouping = req.grouping.is_some();
    if let Some(name) = &req.channel_name {
        c.channel_name = validate_channel_name(name)?;
    }
    if let Some(team_id) = req.team_id {
        if team_id != 0 {
            positive_id("team_id", team_id)?;
            if app.store.team(team_id).await?.is_none() {
                return Err(ApiError::ResourceNotFound(format!(
                    "team {team_id} does not exist"
                )));
            }
        }
        c.team_id = team_id;
    }
    if let Some(d) = req.description {
        validate_description("description", &d, 500)?;
        c.description = d;
    }
    if let Some(g) = req.grouping {
        validate_grouping(&g)?;
        c.grouping = g;
    }
    if let Some(t) = req.storm_thresholds {
        c.storm_thresholds = validate_storm_thresholds(&t)?;
    }
    if let Some(group) = &req.group {
        if req_has_grouping {
            return Err(ApiError::invalid(
                "group",
                "give grouping or group, not both",
            ));
        }
        let (grouping, storms) = from_product(group)?;
        c.grouping = grouping;
        if let Some(t) = storms {
            c.storm_thresholds = t;
        }
    }
    Ok(c)
}

#[utoipa::path(post, path = "/channel/create", tag = TAG_PEOPLE, request_body = ChannelWrite,
    responses((status = 200, body = Envelope<ChannelIdBody>), (status = "4XX", body = ErrorEnvelope)))]
async fn channel_create(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ChannelWrite>,
) -> ApiResult<ChannelIdBody> {
    caller.require_admin()?;
    if req.channel_name.is_none() {
        return Err(ApiError::invalid("channel_name", "is required"));
    }
    let blank = Channel {
        channel_id: ChannelId(0),
        channel_name: String::new(),
        team_id: 0,
        description: String::new(),
        grouping: Grouping::default(),
        storm_thresholds: vec![],
        created_at: 0,
    };
    let c = apply(&app, blank, req).await?;
    ok(ChannelIdBody {
        channel_id: app.store.create_channel(&c).await?,
    })
}

#[utoipa::path(post, path = "/channel/update", tag = TAG_PEOPLE, request_body = ChannelWrite,
    responses((status = 200, body = Envelope<ChannelIdBody>), (status = "4XX", body = ErrorEnvelope)))]
async fn channel_update(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ChannelWrite>,
) -> ApiResult<ChannelIdBody> {
    caller.require_admin()?;
    let id = positive_id(
        "channel_id",
        req.channel_id
            .ok_or_else(|| ApiError::invalid("channel_id", "is required"))?,
    )?;
    let current = app
        .store
        .channel(id)
        .await?
        .ok_or_else(|| ApiError::ResourceNotFound(format!("channel {id} does not exist")))?;
    let c = apply(&app, current, req).await?;
    app.store.update_channel(&c).await?;
    app.sources.clear();
    ok(ChannelIdBody { channel_id: id })
}

#[utoipa::path(post, path = "/channel/list", tag = TAG_PEOPLE, request_body = Paging,
    responses((status = 200, body = Envelope<ListData<Channel>>), (status = "4XX", body = ErrorEnvelope)))]
async fn channel_list(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<Paging>,
) -> ApiResult<ListData<Channel>> {
    let page = req.page()?;
    let listing = app.store.list_channels(page).await?;
    ok(ListData::from(listing, page, |c| c))
}

#[derive(Deserialize, ToSchema)]
pub struct ChannelInfo {
    #[schema(value_type = i64)]
    pub channel_id: ChannelId,
}

#[utoipa::path(post, path = "/channel/info", tag = TAG_PEOPLE, request_body = ChannelInfo,
    responses((status = 200, body = Envelope<Channel>), (status = "4XX", body = ErrorEnvelope)))]
async fn channel_info(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<ChannelInfo>,
) -> ApiResult<Channel> {
    let id = positive_id("channel_id", req.channel_id)?;
    match app.store.channel(id).await? {
        Some(c) => ok(c),
        None => Err(ApiError::ResourceNotFound(format!(
            "channel {id} does not exist"
        ))),
    }
}
