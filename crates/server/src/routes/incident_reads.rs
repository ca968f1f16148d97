//! Reading incidents: one, a list with filters, a batch by id, and the
//! past incidents like one. Each carries the payload's Incident plus what
//! the hosted product's clients read beside it (`owner_id`,
//! `active_alert_cnt`, `alert_event_cnt`).

use axum::extract::State;
use dutyhook_domain::ids::{ChannelId, IncidentId, PersonId};
use dutyhook_domain::incident::{Incident, IncidentView};
use dutyhook_domain::severity::{Progress, Severity};
use dutyhook_store::IncidentFilter;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::choices::comma_list;
use super::incidents::{batch_ids, existing, incident_id, IncidentIds, MAX_BATCH};
use super::{unsupported, ListData, Paging, TAG_INCIDENTS};
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(incident_info))
        .routes(routes!(incident_list))
        .routes(routes!(incident_list_by_ids))
        .routes(routes!(incident_past_list))
}

/// An incident as the API reads it.
#[derive(Serialize, ToSchema)]
pub struct IncidentItem {
    #[serde(flatten)]
    pub incident: IncidentView,
    /// Always 0: dutyhook has no incident owner.
    pub owner_id: i64,
    /// Its alerts still open.
    pub active_alert_cnt: i64,
    /// The raw events of all its alerts.
    pub alert_event_cnt: i64,
}

/// The API's view of `incidents`, in their order.
pub async fn items(
    app: &AppState,
    incidents: Vec<Incident>,
) -> Result<Vec<IncidentItem>, ApiError> {
    let with_alerts: Vec<IncidentId> = incidents
        .iter()
        .filter(|i| i.alert_cnt > 0)
        .map(|i| i.incident_id.clone())
        .collect();
    let counts = app.store.alert_event_counts(&with_alerts).await?;
    Ok(incidents
        .into_iter()
        .map(|i| IncidentItem {
            owner_id: 0,
            active_alert_cnt: i.alerts_open.total(),
            alert_event_cnt: counts.get(&i.incident_id).copied().unwrap_or(0),
            incident: i.view(&app.render),
        })
        .collect())
}

async fn one(app: &AppState, incident: Incident) -> Result<IncidentItem, ApiError> {
    Ok(items(app, vec![incident]).await?.remove(0))
}

#[derive(Deserialize, ToSchema)]
pub struct IncidentInfo {
    #[schema(pattern = "^[0-9a-f]{24}$")]
    #[schema(value_type = String)]
    pub incident_id: IncidentId,
}

#[utoipa::path(post, path = "/incident/info", tag = TAG_INCIDENTS, request_body = IncidentInfo,
    responses((status = 200, body = Envelope<IncidentItem>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_info(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<IncidentInfo>,
) -> ApiResult<IncidentItem> {
    let id = incident_id("incident_id", &req.incident_id)?;
    let incident = existing(&app, &id).await?;
    ok(one(&app, incident).await?)
}

#[derive(Deserialize, ToSchema)]
pub struct IncidentList {
    #[schema(minimum = 1)]
    pub p: Option<i64>,
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Unix seconds; incidents that started at or after it.
    pub start_time: Option<i64>,
    /// Unix seconds; incidents that started before it.
    pub end_time: Option<i64>,
    /// `Triggered`, `Processing`, `Closed`, or several separated by commas.
    #[schema(
        pattern = "^\\s*((Triggered|Processing|Closed)\\s*(,\\s*(Triggered|Processing|Closed)\\s*)*)?$"
    )]
    pub progress: Option<String>,
    /// `Critical`, `Warning`, `Info`, or several separated by commas.
    #[schema(pattern = "^\\s*((Critical|Warning|Info)\\s*(,\\s*(Critical|Warning|Info)\\s*)*)?$")]
    pub incident_severity: Option<String>,
    #[schema(value_type = Option<Vec<i64>>)]
    pub channel_ids: Option<Vec<ChannelId>>,
    /// Text in title, description or labels; an incident id; a 6-character num.
    pub query: Option<String>,
    pub title: Option<String>,
    /// Incidents these people created (0: made by alerts).
    #[schema(value_type = Option<Vec<i64>>)]
    pub creator_ids: Option<Vec<PersonId>>,
    /// Incidents these people closed.
    #[schema(value_type = Option<Vec<i64>>)]
    pub closer_ids: Option<Vec<PersonId>>,
    #[schema(value_type = Option<Vec<String>>)]
    pub incident_ids: Option<Vec<IncidentId>>,
    /// 6-character nums.
    pub nums: Option<Vec<String>>,
    /// Incidents in channels of these teams.
    pub team_ids: Option<Vec<i64>>,
    /// true: only snoozed incidents; false: only those not snoozed.
    pub is_snoozed: Option<bool>,
    /// true: only incidents ever silenced — none, as dutyhook has no silences.
    pub ever_muted: Option<bool>,
    /// Oldest first when true.
    pub asc: Option<bool>,
    /// Not supported (refused when not empty).
    pub responder_ids: Option<Vec<i64>>,
    /// Not supported (refused when not empty).
    pub acker_ids: Option<Vec<i64>>,
    /// Not supported (refused when true).
    pub is_my_team: Option<bool>,
    /// Not supported (refused when true).
    pub is_my_channel: Option<bool>,
    /// Not supported (refused when true).
    pub is_rare: Option<bool>,
    /// Not supported (refused when not empty): page with `p`.
    pub search_after_ctx: Option<String>,
}

#[utoipa::path(post, path = "/incident/list", tag = TAG_INCIDENTS, request_body = IncidentList,
    responses((status = 200, body = Envelope<ListData<IncidentItem>>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_list(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<IncidentList>,
) -> ApiResult<ListData<IncidentItem>> {
    let page = Paging {
        p: req.p,
        limit: req.limit,
    }
    .page()?;
    let (start_time, end_time) = super::time_range(req.start_time, req.end_time)?;
    let non_empty = |v: &Option<Vec<i64>>| v.as_ref().is_some_and(|v| !v.is_empty());
    unsupported(
        "responder_ids",
        non_empty(&req.responder_ids),
        "filter on responders is not kept",
    )?;
    unsupported(
        "acker_ids",
        non_empty(&req.acker_ids),
        "filter on acknowledgers is not kept",
    )?;
    unsupported("is_my_team", req.is_my_team == Some(true), "use team_ids")?;
    unsupported(
        "is_my_channel",
        req.is_my_channel == Some(true),
        "use channel_ids",
    )?;
    unsupported(
        "is_rare",
        req.is_rare == Some(true),
        "there is no recurrence analysis",
    )?;
    let cursor = req
        .search_after_ctx
        .as_deref()
        .is_some_and(|c| !c.is_empty());
    unsupported("search_after_ctx", cursor, "page with p and limit")?;
    let incident_ids = req
        .incident_ids
        .unwrap_or_default()
        .iter()
        .map(|id| incident_id("incident_ids", id))
        .collect::<Result<Vec<_>, _>>()?;
    let filter = IncidentFilter {
        start_time,
        end_time,
        progress: comma_list(
            "progress",
            req.progress.as_deref(),
            Progress::parse,
            "Triggered, Processing, Closed",
        )?,
        severities: comma_list(
            "incident_severity",
            req.incident_severity.as_deref(),
            |s| Severity::parse(s).map(|v| v.as_str().to_string()),
            "Critical, Warning, Info",
        )?,
        channel_ids: req.channel_ids.unwrap_or_default(),
        query: req
            .query
            .map(|q| q.trim().to_string())
            .filter(|q| !q.is_empty()),
        title: req
            .title
            .map(|q| q.trim().to_string())
            .filter(|q| !q.is_empty()),
        creator_ids: req.creator_ids.unwrap_or_default(),
        closer_ids: req.closer_ids.unwrap_or_default(),
        incident_ids,
        nums: req
            .nums
            .unwrap_or_default()
            .iter()
            .map(|n| n.trim().to_ascii_uppercase())
            .collect(),
        team_ids: req.team_ids.unwrap_or_default(),
        snoozed: req.is_snoozed,
        asc: req.asc.unwrap_or(false),
        ..Default::default()
    };
    if req.ever_muted == Some(true) {
        return ok(ListData {
            items: vec![],
            total: 0,
            has_next_page: false,
        });
    }
    for text in [&filter.query, &filter.title].into_iter().flatten() {
        if text.chars().count() > 200 {
            return Err(ApiError::invalid("query", "must be at most 200 characters"));
        }
    }
    let listing = app.store.list_incidents(&filter, page).await?;
    let has_next_page = listing.has_next_page(page);
    ok(ListData {
        items: items(&app, listing.items).await?,
        total: listing.total,
        has_next_page,
    })
}

#[derive(Serialize, ToSchema)]
pub struct IncidentItems {
    pub items: Vec<IncidentItem>,
}

#[utoipa::path(post, path = "/incident/list-by-ids", tag = TAG_INCIDENTS, request_body = IncidentIds,
    responses((status = 200, body = Envelope<IncidentItems>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_list_by_ids(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<IncidentIds>,
) -> ApiResult<IncidentItems> {
    let ids = batch_ids(&req.incident_ids, &req.incident_id)?;
    let mut found = vec![];
    for chunk in ids.chunks(MAX_BATCH) {
        for id in chunk {
            if let Some(inc) = app.store.incident(id).await? {
                found.push(inc);
            }
        }
    }
    ok(IncidentItems {
        items: items(&app, found).await?,
    })
}

#[derive(Deserialize, ToSchema)]
pub struct IncidentPastList {
    #[schema(pattern = "^[0-9a-f]{24}$")]
    #[schema(value_type = String)]
    pub incident_id: IncidentId,
    #[schema(minimum = 1)]
    pub p: Option<i64>,
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

/// Earlier incidents like this one, newest first: those its alerts grouped
/// the same way (same `equals_md5`), or, for an incident made by hand, those
/// of the same channel with the same title (case aside).
#[utoipa::path(post, path = "/incident/past/list", tag = TAG_INCIDENTS, request_body = IncidentPastList,
    responses((status = 200, body = Envelope<ListData<IncidentItem>>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_past_list(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<IncidentPastList>,
) -> ApiResult<ListData<IncidentItem>> {
    let id = incident_id("incident_id", &req.incident_id)?;
    let page = Paging {
        p: req.p,
        limit: req.limit,
    }
    .page()?;
    let this = existing(&app, &id).await?;
    let mut filter = IncidentFilter {
        start_time: 0,
        end_time: i64::MAX,
        before: Some(id.clone()),
        ..Default::default()
    };
    if this.group_key.is_empty() {
        filter.channel_ids = vec![this.channel_id];
        filter.same_title = Some(this.title.clone());
    } else {
        filter.group_key = Some(this.group_key.clone());
    }
    let listing = app.store.list_incidents(&filter, page).await?;
    let has_next_page = listing.has_next_page(page);
    ok(ListData {
        items: items(&app, listing.items).await?,
        total: listing.total,
        has_next_page,
    })
}
