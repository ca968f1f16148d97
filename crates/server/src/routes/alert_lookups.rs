//! Alert reads of the hosted product's clients beyond dutyhook's own:
//! alerts by id (`/alert/list-by-ids`) and raw events across alerts
//! (`/alert-event/list`).

use axum::extract::State;
use dutyhook_domain::ids::{AlertId, ChannelId, IntegrationId};
use dutyhook_store::{AlertEventFilter, AlertFilter, Page};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::alert_reads::{alert_id, event_item, item, AlertItem};
use super::{unsupported, Paging, TAG_ALERTS};
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

const MAX_IDS: usize = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(alert_list_by_ids))
        .routes(routes!(alert_event_list_global))
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
    pub orderby: Option<String>,
    /// Not supported (refused when not empty): page with `p`.
    pub search_after_ctx: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AlertEventPage {
    #[schema(value_type = Vec<Object>)]
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
    if let Some(o) = req
        .orderby
        .as_deref()
        .filter(|o| !o.is_empty() && *o != "event_time")
    {
        return Err(ApiError::invalid(
            "orderby",
            format!("{o:?} is not event_time"),
        ));
    }
    let filter = AlertEventFilter {
        start_time,
        end_time,
        source_ids: req.integration_ids.unwrap_or_default(),
        channel_ids: req.channel_ids.unwrap_or_default(),
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
