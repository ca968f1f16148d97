//! Alert reads of the hosted product's clients beyond dutyhook's own:
//! alerts by id (`/alert/list-by-ids`) and raw events across alerts
//! (`/alert-event/list`).

use axum::extract::State;
use dutyhook_domain::event::EventType;
use dutyhook_domain::ids::{AlertId, ChannelId, IncidentId, IntegrationId};
use dutyhook_domain::ops;
use dutyhook_store::{AlertEventFilter, AlertFilter, Page};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::schema::Array;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::alert_reads::{alert_id, event_item, item, AlertEventItem, AlertItem};
use super::choices::{blank_is_none, name_list_schema, EventTimeOrder};
use super::incidents::incident_id;
use super::{unsupported, Paging, TAG_ALERTS};
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Empty, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

const MAX_IDS: usize = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(alert_list_by_ids))
        .routes(routes!(alert_event_list_global))
        .routes(routes!(alert_feed))
        .routes(routes!(alert_merge))
}

#[derive(Deserialize, ToSchema)]
pub struct AlertIdList {
    #[schema(value_type = Vec<String>)]
    pub alert_ids: Vec<AlertId>,
}

#[derive(Serialize, ToSchema)]
pub struct AlertItems {
    pub items: Vec<AlertItem>,
}

/// The alerts named (1 to 100), newest first; unknown ids are left out.
#[utoipa::path(post, path = "/alert/list-by-ids", tag = TAG_ALERTS, request_body = AlertIdList,
    responses((status = 200, body = Envelope<AlertItems>), (status = "4XX", body = ErrorEnvelope)))]
async fn alert_list_by_ids(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<AlertIdList>,
) -> ApiResult<AlertItems> {
    if req.alert_ids.is_empty() || req.alert_ids.len() > MAX_IDS {
        return Err(ApiError::invalid(
            "alert_ids",
            format!("must list 1 to {MAX_IDS} alert ids"),
        ));
    }
    let ids = req
        .alert_ids
        .iter()
        .map(|id| alert_id("alert_ids", id))
        .collect::<Result<Vec<_>, _>>()?;
    let filter = AlertFilter {
        start_time: 0,
        end_time: i64::MAX,
        alert_ids: ids,
        ..Default::default()
    };
    let page = Page {
        p: 1,
        limit: MAX_IDS as i64,
    };
    let listing = app.store.list_alerts(&filter, page).await?;
    ok(AlertItems {
        items: listing.items.into_iter().map(|a| item(&app, a)).collect(),
    })
}

#[derive(Deserialize, ToSchema)]
pub struct AlertEventList {
    /// Unix seconds, required: events received at or after it.
    pub start_time: Option<i64>,
    /// Unix seconds, required: events received before it.
    pub end_time: Option<i64>,
    #[schema(minimum = 1)]
    pub p: Option<i64>,
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Alert sources (the hosted product's integrations).
    #[schema(value_type = Option<Vec<i64>>)]
    pub integration_ids: Option<Vec<IntegrationId>>,
    #[schema(value_type = Option<Vec<i64>>)]
    pub channel_ids: Option<Vec<ChannelId>>,
    /// Not supported (refused when not empty).
    pub integration_types: Option<Vec<String>>,
    /// Not supported (refused when not empty).
    pub severities: Option<String>,
    /// Only the time they were received (the default).
    #[serde(default, deserialize_with = "blank_is_none")]
    pub orderby: Option<EventTimeOrder>,
    /// Oldest first when true.
    pub asc: Option<bool>,
    /// Not supported (refused when not empty): page with `p`.
    pub search_after_ctx: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AlertEventPage {
    #[schema(value_type = Vec<AlertEventItem>)]
    pub items: Vec<Value>,
    pub total: i64,
    pub has_next_page: bool,
}

/// Raw alert events of every alert in a time range, newest first.
#[utoipa::path(post, path = "/alert-event/list", tag = TAG_ALERTS, request_body = AlertEventList,
    responses((status = 200, body = Envelope<AlertEventPage>), (status = "4XX", body = ErrorEnvelope)))]
async fn alert_event_list_global(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<AlertEventList>,
) -> ApiResult<AlertEventPage> {
    let page = Paging {
        p: req.p,
        limit: req.limit,
    }
    .page()?;
    let (start_time, end_time) = super::time_range(req.start_time, req.end_time)?;
    let listed = |v: &Option<Vec<String>>| v.as_ref().is_some_and(|v| !v.is_empty());
    unsupported(
        "integration_types",
        listed(&req.integration_types),
        "filter with integration_ids",
    )?;
    let severities = req.severities.as_deref().is_some_and(|s| !s.is_empty());
    unsupported(
        "severities",
        severities,
        "events are filtered by source, channel and time",
    )?;
    let cursor = req
        .search_after_ctx
        .as_deref()
        .is_some_and(|c| !c.is_empty());
    unsupported("search_after_ctx", cursor, "page with p and limit")?;
    // The one order there is: reading the body refused any other.
    let EventTimeOrder::EventTime = req.orderby.unwrap_or_default();
    let filter = AlertEventFilter {
        start_time,
        end_time,
        source_ids: req.integration_ids.unwrap_or_default(),
        channel_ids: req.channel_ids.unwrap_or_default(),
        asc: req.asc.unwrap_or(false),
    };
    let listing = app.store.list_alert_events(&filter, page).await?;
    let has_next_page = listing.has_next_page(page);
    ok(AlertEventPage {
        items: listing
            .items
            .into_iter()
            .map(|(alert, raw)| event_item(&app, &alert, raw))
            .collect(),
        total: listing.total,
        has_next_page,
    })
}

#[derive(Deserialize, ToSchema)]
pub struct AlertFeed {
    #[schema(pattern = "^[0-9a-f]{24}$")]
    #[schema(value_type = String)]
    pub alert_id: AlertId,
    #[schema(minimum = 1)]
    pub p: Option<i64>,
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Oldest first when true; newest first by default.
    pub asc: Option<bool>,
    #[schema(schema_with = alert_feed_types_schema)]
    pub types: Option<Vec<String>>,
}

/// The hosted product's alert comment type: alerts take no comments here,
/// so it matches nothing.
const ALERT_COMMENTS: &str = "a_comm";

fn alert_feed_types_schema() -> Array {
    let names = EventType::ALERT.iter().map(|t| t.as_str());
    name_list_schema(
        names.chain([ALERT_COMMENTS]).collect(),
        "Only these types (a_comm, the hosted product's, matches nothing).",
    )
}

#[derive(Serialize, ToSchema)]
pub struct AlertFeedItem {
    /// The alert's id.
    pub ref_id: String,
    #[serde(rename = "type")]
    pub kind: String,
    /// 0 when dutyhook did it (an event from monitoring).
    pub creator_id: i64,
    pub account_id: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    pub updated_at: i64,
    pub detail: AlertFeedDetail,
}

/// The alert as it then stood.
#[derive(Serialize, ToSchema)]
pub struct AlertFeedDetail {
    pub title: String,
    pub severity: String,
    pub status: String,
    /// `a_merge`: the incident it joined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incident_id: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AlertFeedPage {
    pub items: Vec<AlertFeedItem>,
    pub total: i64,
    pub has_next_page: bool,
}

/// An alert's activity: the alert events it caused, as its feed.
#[utoipa::path(post, path = "/alert/feed", tag = TAG_ALERTS, request_body = AlertFeed,
    responses((status = 200, body = Envelope<AlertFeedPage>), (status = "4XX", body = ErrorEnvelope)))]
async fn alert_feed(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<AlertFeed>,
) -> ApiResult<AlertFeedPage> {
    let id = alert_id("alert_id", &req.alert_id)?;
    let page = Paging {
        p: req.p,
        limit: req.limit,
    }
    .page()?;
    let mut types = vec![];
    let mut only_comments = false;
    for t in req.types.unwrap_or_default() {
        match EventType::parse(&t).filter(|e| !e.is_incident()) {
            Some(e) => types.push(e),
            None if t == ALERT_COMMENTS => only_comments = true,
            None => {
                return Err(ApiError::invalid(
                    "types",
                    format!("{t:?} is not an alert feed type (a_new, a_update, a_merge, a_close)"),
                ))
            }
        }
    }
    if app.store.alert(&id).await?.is_none() {
        return Err(ApiError::ResourceNotFound(format!(
            "alert {id} does not exist"
        )));
    }
    if only_comments && types.is_empty() {
        return ok(AlertFeedPage {
            items: vec![],
            total: 0,
            has_next_page: false,
        });
    }
    let asc = req.asc.unwrap_or(false);
    let listing = app
        .store
        .subject_events(id.as_str(), &types, page, asc)
        .await?;
    let has_next_page = listing.has_next_page(page);
    let account_id = app.render.account_id;
    let items = listing
        .items
        .into_iter()
        .map(|e| {
            let payload: Value = serde_json::from_str(&e.payload).unwrap_or_default();
            let alert = &payload["alert"];
            let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
            let detail = AlertFeedDetail {
                title: text(&alert["title"]),
                severity: text(&alert["alert_severity"]),
                status: text(&alert["alert_status"]),
                incident_id: (e.event_type == EventType::a_merge)
                    .then(|| text(&alert["incident"]["incident_id"])),
            };
            AlertFeedItem {
                ref_id: e.subject_id,
                kind: e.event_type.as_str().to_string(),
                creator_id: payload["person"]["person_id"].as_i64().unwrap_or(0),
                account_id,
                created_at: e.event_time,
                updated_at: e.event_time,
                detail,
            }
        })
        .collect();
    ok(AlertFeedPage {
        items,
        total: listing.total,
        has_next_page,
    })
}

#[derive(Deserialize, ToSchema)]
pub struct AlertMerge {
    /// 1 to 100 alerts to move into the incident.
    #[schema(value_type = Vec<String>)]
    pub alert_ids: Vec<AlertId>,
    /// The open incident they join.
    #[schema(pattern = "^[0-9a-f]{24}$")]
    #[schema(value_type = String)]
    pub incident_id: IncidentId,
    /// A comment on the incident, after the move (`i_comm`).
    pub comment: Option<String>,
    /// A new title for the incident, after the move (`i_r_title`).
    pub title: Option<String>,
    /// Not supported (refused when not 0): dutyhook has no incident owner.
    pub owner_id: Option<i64>,
}

/// Moves alerts into an open incident by hand: the incidents they leave and
/// join follow (counts, open alerts, severity, status), each alert emits
/// `a_merge`. Unknown alerts, or an unknown or Closed incident: nothing
/// moves. A title or comment is then set on the incident.
#[utoipa::path(post, path = "/alert/merge", tag = TAG_ALERTS, request_body = AlertMerge,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn alert_merge(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<AlertMerge>,
) -> ApiResult<Empty> {
    caller.require_operator()?;
    if req.alert_ids.is_empty() || req.alert_ids.len() > MAX_IDS {
        return Err(ApiError::invalid(
            "alert_ids",
            format!("must list 1 to {MAX_IDS} alert ids"),
        ));
    }
    let mut ids: Vec<AlertId> = vec![];
    for id in &req.alert_ids {
        let id = alert_id("alert_ids", id)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    let target = incident_id("incident_id", &req.incident_id)?;
    unsupported(
        "owner_id",
        req.owner_id.is_some_and(|o| o != 0),
        "incidents have no owner",
    )?;
    let title = req.title.filter(|t| !t.trim().is_empty());
    if let Some(t) = &title {
        ops::validate_title(t)?;
    }
    let comment = req.comment.filter(|c| !c.trim().is_empty());
    if let Some(c) = &comment {
        let n = c.chars().count();
        if !ops::COMMENT_CHARS.contains(&n) {
            return Err(ApiError::invalid(
                "comment",
                format!("must be 1 to 10000 characters, got {n}"),
            ));
        }
    }
    app.store
        .move_alerts(ids, target.clone(), caller.person.clone(), app.recorder())
        .await?;
    if title.is_some() || comment.is_some() {
        let by = caller.person;
        let retitle = ops::Reset {
            title,
            ..Default::default()
        };
        app.mutate(std::slice::from_ref(&target), move |incs, rec| {
            if retitle.title.is_some() {
                ops::reset(&mut incs[0], &retitle, &by, rec)?;
            }
            if let Some(text) = &comment {
                ops::comment(incs, text, &by, rec)?;
            }
            Ok(())
        })
        .await?;
    }
    ok(Empty {})
}
