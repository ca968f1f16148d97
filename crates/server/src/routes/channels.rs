use axum::extract::State;
use dutyhook_domain::channel::{
    validate_channel_name, validate_description, validate_grouping, validate_storm_thresholds,
    Channel, Grouping,
};
use dutyhook_domain::ids::ChannelId;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::channel_group::{from_product, ProductGroup};
use super::choices::{blank_is_none, ChannelOrder};
use super::unsupported;
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
    /// Mails beyond the responders' assignment mails: the channel's team on
    /// new incidents and storms, and re-notify rounds while nobody
    /// acknowledges. Needs an SMTP server (`smtp.url`).
    pub notify: Option<dutyhook_domain::notify::ChannelNotify>,

    /// Not supported (refused when set): incidents close when their alerts recover.
    pub auto_resolve_mode: Option<String>,
    /// Not supported (refused when above 0).
    pub auto_resolve_timeout: Option<i64>,
    /// Not supported (refused when true).
    pub disable_auto_close: Option<bool>,
    /// Accepted: dutyhook has no outlier detection to disable.
    pub disable_outlier_detection: Option<bool>,
    /// Not supported (refused unless `{is_disabled: true}`).
    #[schema(value_type = Option<Object>)]
    pub flapping: Option<serde_json::Map<String, Value>>,
    /// Not supported (refused when true).
    pub is_external_report_enabled: Option<bool>,
    /// Not supported (refused when true): every channel is visible to all.
    pub is_private: Option<bool>,
    /// Not supported (refused when not empty): `team_id` manages a channel.
    pub managing_team_ids: Option<Vec<i64>>,
    /// Not supported (refused when not empty).
    pub plugin_ids: Option<Vec<i64>>,
    /// Not supported (refused when set): dutyhook has no escalation rules.
    #[schema(value_type = Option<Object>)]
    pub escalate_rule: Option<Value>,
}

/// Settings of the hosted product for features dutyhook does not have:
/// accepted at their "off" value, refused naming them otherwise.
fn refuse_missing_features(w: &ChannelWrite) -> Result<(), ApiError> {
    let listed = |v: &Option<Vec<i64>>| v.as_ref().is_some_and(|v| !v.is_empty());
    let yes = |v: Option<bool>| v == Some(true);
    let mode = w
        .auto_resolve_mode
        .as_deref()
        .is_some_and(|m| !m.is_empty());
    unsupported(
        "auto_resolve_mode",
        mode,
        "incidents close when their alerts recover",
    )?;
    let timeout = w.auto_resolve_timeout.is_some_and(|t| t > 0);
    unsupported(
        "auto_resolve_timeout",
        timeout,
        "incidents close when their alerts recover",
    )?;
    unsupported(
        "disable_auto_close",
        yes(w.disable_auto_close),
        "incidents close when their alerts recover",
    )?;
    let flapping = w
        .flapping
        .as_ref()
        .is_some_and(|f| f.get("is_disabled") != Some(&Value::Bool(true)));
    unsupported(
        "flapping",
        flapping,
        "there is no flapping detection; send {\"is_disabled\": true} or nothing",
    )?;
    unsupported(
        "is_external_report_enabled",
        yes(w.is_external_report_enabled),
        "there are no external reporters",
    )?;
    unsupported(
        "is_private",
        yes(w.is_private),
        "every channel is visible to everyone",
    )?;
    unsupported(
        "managing_team_ids",
        listed(&w.managing_team_ids),
        "team_id names the team that manages a channel",
    )?;
    unsupported("plugin_ids", listed(&w.plugin_ids), "there are no plugins")?;
    let rule = w.escalate_rule.as_ref().is_some_and(|r| !r.is_null());
    unsupported("escalate_rule", rule, "there are no escalation rules")
}

#[derive(Serialize, ToSchema)]
#[schema(as = ChannelId)]
pub struct ChannelIdBody {
    #[schema(value_type = i64)]
    pub channel_id: ChannelId,
}

async fn apply(app: &AppState, mut c: Channel, req: ChannelWrite) -> Result<Channel, ApiError> {
    let req_has_grouping = req.grouping.is_some();
    refuse_missing_features(&req)?;
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
    if let Some(n) = req.notify {
        c.notify = n.validate()?;
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
        notify: Default::default(),
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

#[derive(Deserialize, ToSchema)]
pub struct ChannelList {
    #[schema(minimum = 1)]
    pub p: Option<i64>,
    /// 1 to 100 (default 100, as the hosted product's).
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    #[schema(value_type = Option<Vec<i64>>)]
    pub channel_ids: Option<Vec<ChannelId>>,
    /// Exactly this name (before `query`).
    pub channel_name: Option<String>,
    /// Text in the name or description, case aside.
    pub query: Option<String>,
    pub team_ids: Option<Vec<i64>>,
    /// `created_at` (default) or `channel_name`.
    #[serde(default, deserialize_with = "blank_is_none")]
    pub orderby: Option<ChannelOrder>,
    /// false: newest (or Z to A) first; oldest (A to Z) first by default.
    pub asc: Option<bool>,
    /// Accepted: the full channel is always answered.
    pub is_brief: Option<bool>,
    /// Not supported (refused when true): use team_ids.
    pub is_my_team: Option<bool>,
    /// Not supported (refused when true).
    pub is_my_managed: Option<bool>,
    /// Not supported (refused when true): channels are not starred.
    pub is_my_starred: Option<bool>,
}

/// Every channel, read 100 at a time (an installation has tens, not
/// thousands: filtering and ordering happen here).
async fn all_channels(app: &AppState) -> Result<Vec<Channel>, ApiError> {
    let mut all = vec![];
    for p in 1.. {
        let listing = app
            .store
            .list_channels(dutyhook_store::Page { p, limit: 100 })
            .await?;
        let done = listing.items.len() < 100;
        all.extend(listing.items);
        if done {
            break;
        }
    }
    Ok(all)
}

#[utoipa::path(post, path = "/channel/list", tag = TAG_PEOPLE, request_body = ChannelList,
    responses((status = 200, body = Envelope<ListData<Channel>>), (status = "4XX", body = ErrorEnvelope)))]
async fn channel_list(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<ChannelList>,
) -> ApiResult<ListData<Channel>> {
    let page = Paging {
        p: req.p,
        limit: Some(req.limit.unwrap_or(100)),
    }
    .page()?;
    let yes = |v: Option<bool>| v == Some(true);
    unsupported("is_my_team", yes(req.is_my_team), "use team_ids")?;
    unsupported("is_my_managed", yes(req.is_my_managed), "use team_ids")?;
    unsupported(
        "is_my_starred",
        yes(req.is_my_starred),
        "channels are not starred",
    )?;
    let by_name = req.orderby == Some(ChannelOrder::ChannelName);
    let ids = req.channel_ids.unwrap_or_default();
    let teams = req.team_ids.unwrap_or_default();
    let query = req.query.as_deref().unwrap_or("").trim().to_lowercase();
    let mut channels: Vec<Channel> = all_channels(&app)
        .await?
        .into_iter()
        .filter(|c| ids.is_empty() || ids.contains(&c.channel_id))
        .filter(|c| teams.is_empty() || teams.contains(&c.team_id))
        .filter(|c| match req.channel_name.as_deref() {
            Some(name) if !name.is_empty() => c.channel_name == name,
            _ => {
                query.is_empty()
                    || c.channel_name.to_lowercase().contains(&query)
                    || c.description.to_lowercase().contains(&query)
            }
        })
        .collect();
    if by_name {
        channels.sort_by(|a, b| {
            a.channel_name
                .to_lowercase()
                .cmp(&b.channel_name.to_lowercase())
        });
    } else {
        channels.sort_by_key(|c| (c.created_at, c.channel_id.0));
    }
    // Oldest (or A to Z) first unless asked otherwise, as this list always was.
    if req.asc == Some(false) {
        channels.reverse();
    }
    let total = channels.len() as i64;
    let items: Vec<Channel> = channels
        .into_iter()
        .skip(page.offset() as usize)
        .take(page.limit as usize)
        .collect();
    let has_next_page = page.offset() + (items.len() as i64) < total;
    ok(ListData {
        items,
        total,
        has_next_page,
    })
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
