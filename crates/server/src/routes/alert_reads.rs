//! Reading alerts: lists, one alert, an incident's alerts, an alert's raw
//! events. Items carry dutyhook's names and those of the hosted product's
//! clients (its SDK reads `severity`, `status`, `trigger_time`; its
//! published document `integration_*`), so either decodes them.

use axum::extract::State;
use dutyhook_domain::alert::{status_str, Alert};
use dutyhook_domain::ids::{AlertId, ChannelId, IncidentId, IntegrationId};
use dutyhook_domain::severity::{Progress, Severity};
use dutyhook_store::{AlertFilter, Listing, Page};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::choices::{blank_is_none, comma_list, AlertProgress, TimeOrder};
use super::incidents::{existing, incident_id};
use super::{unsupported, ListData, Paging, TAG_ALERTS};
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

/// Raw events `/alert/info` and `/alert/event/list` show, newest first.
const EVENTS_SHOWN: i64 = 1000;
/// Page size `/incident/alert/list` allows (the hosted product's).
const MAX_INCIDENT_ALERTS: i64 = 1000;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(alert_list))
        .routes(routes!(alert_info))
        .routes(routes!(incident_alert_list))
        .routes(routes!(alert_event_list))
}

pub(crate) fn alert_id(field: &str, id: &str) -> Result<AlertId, ApiError> {
    incident_id(field, id)
        .map(|id| AlertId::from(id.into_string()))
        .map_err(|_| {
            ApiError::invalid(
                field,
                format!("{id:?} is not an alert id (24 lowercase hex characters)"),
            )
        })
}

/// An alert as the API reads it: the payload's Alert plus the names the
/// hosted product's clients read.
#[derive(Serialize, ToSchema)]
pub struct AlertItem {
    #[serde(flatten)]
    pub alert: Alert,
    /// = `data_source_id`.
    pub integration_id: i64,
    /// = `data_source_name`.
    pub integration_name: String,
    /// = `data_source_type`.
    pub integration_type: String,
    pub integration_ref_id: String,
    pub account_id: i64,
    /// = `alert_severity` (the hosted product's SDK reads this name).
    pub severity: String,
    /// = `alert_status` (idem).
    pub status: String,
    /// = `start_time` (idem).
    pub trigger_time: i64,
    /// Always false: dutyhook has no silences.
    pub ever_muted: bool,
    /// Always `enabled`.
    pub channel_status: String,
    /// The raw events, newest first, when asked for (`include_events`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<AlertEventItem>>)]
    pub events: Option<Vec<Value>>,
}

pub(crate) fn item(app: &AppState, alert: Alert) -> AlertItem {
    AlertItem {
        integration_id: alert.data_source_id.0,
        integration_name: alert.data_source_name.clone(),
        integration_type: alert.data_source_type.clone(),
        integration_ref_id: alert.data_source_ref_id.clone(),
        account_id: app.render.account_id,
        severity: alert.alert_severity.as_str().to_string(),
        status: status_str(alert.alert_status).to_string(),
        trigger_time: alert.start_time,
        ever_muted: false,
        channel_status: "enabled".into(),
        events: None,
        alert,
    }
}

/// An event as it arrived, normalised, with the names of the hosted
/// product's AlertEvent added: what [`event_item`] gives.
#[derive(ToSchema)]
#[allow(dead_code)]
pub struct AlertEventItem {
    event_id: String,
    #[schema(value_type = String)]
    alert_id: AlertId,
    account_id: i64,
    channel_id: i64,
    /// The alert source (= `data_source_id`).
    integration_id: i64,
    data_source_id: i64,
    /// The alert source's type (`standard`, `alertmanager`).
    integration_type: String,
    /// `Critical`, `Warning`, `Info` or `Ok`.
    event_status: String,
    /// = `event_status`.
    event_severity: String,
    /// Unix seconds.
    event_time: i64,
    alert_key: String,
    title_rule: String,
    title: String,
    description: String,
    labels: std::collections::BTreeMap<String, String>,
    images: Vec<dutyhook_domain::alert::Image>,
    /// = `event_time`.
    created_at: i64,
    updated_at: i64,
}

/// A raw event as kept, with the names of the hosted product's AlertEvent.
pub(crate) fn event_item(app: &AppState, alert: &Alert, raw: Value) -> Value {
    let mut m = match raw {
        Value::Object(m) => m,
        other => Map::from_iter([("body".to_string(), other)]),
    };
    let at = m.get("event_time").cloned().unwrap_or(Value::from(0));
    let status = m.get("event_status").cloned().unwrap_or(Value::from(""));
    m.insert("alert_id".into(), Value::from(alert.alert_id.to_string()));
    m.insert("account_id".into(), Value::from(app.render.account_id));
    m.insert("channel_id".into(), Value::from(alert.channel_id.0));
    m.insert("integration_id".into(), Value::from(alert.data_source_id.0));
    m.insert("data_source_id".into(), Value::from(alert.data_source_id.0));
    m.insert(
        "integration_type".into(),
        Value::from(alert.data_source_type.clone()),
    );
    m.entry("event_severity").or_insert(status);
    m.insert("created_at".into(), at.clone());
    m.insert("updated_at".into(), at);
    Value::Object(m)
}

#[derive(Deserialize, ToSchema)]
pub struct AlertListReq {
    #[schema(minimum = 1)]
    pub p: Option<i64>,
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Unix seconds, required.
    pub start_time: Option<i64>,
    /// Unix seconds, required.
    pub end_time: Option<i64>,
    #[schema(value_type = Option<Vec<i64>>)]
    pub channel_ids: Option<Vec<ChannelId>>,
    #[serde(default, deserialize_with = "blank_is_none")]
    pub progress: Option<AlertProgress>,
    #[schema(pattern = "^[0-9a-f]{24}$")]
    #[schema(value_type = Option<String>)]
    pub incident_id: Option<IncidentId>,
    /// true: only open alerts; false: only closed ones (= `progress`).
    pub is_active: Option<bool>,
    /// `Critical`, `Warning`, `Info`, or several separated by commas.
    #[schema(pattern = "^\\s*((Critical|Warning|Info)\\s*(,\\s*(Critical|Warning|Info)\\s*)*)?$")]
    pub alert_severity: Option<String>,
    /// Alert sources (the hosted product's integrations).
    #[schema(value_type = Option<Vec<i64>>)]
    pub integration_ids: Option<Vec<IntegrationId>>,
    #[schema(value_type = Option<Vec<String>>)]
    pub alert_ids: Option<Vec<AlertId>>,
    pub alert_keys: Option<Vec<String>>,
    /// true: only alerts ever silenced — none, as dutyhook has no silences.
    pub ever_muted: Option<bool>,
    /// `created_at` (the default, = `start_time`) or `updated_at`.
    #[serde(default, deserialize_with = "blank_is_none")]
    pub orderby: Option<TimeOrder>,
    /// Oldest first when true.
    pub asc: Option<bool>,
    /// The time range applies to `updated_at` instead of `start_time`.
    pub by_updated_at: Option<bool>,
    /// Not supported (refused when not empty): page with `p`.
    pub search_after_ctx: Option<String>,
    /// Text anywhere in the alert: title, description, labels, key.
    pub query: Option<String>,
}

/// Severities named in a comma list.
fn severities(field: &str, list: Option<&str>) -> Result<Vec<String>, ApiError> {
    comma_list(
        field,
        list,
        |s| Severity::parse(s).map(|v| v.as_str().to_string()),
        "Critical, Warning, Info",
    )
}

#[utoipa::path(post, path = "/alert/list", tag = TAG_ALERTS, request_body = AlertListReq,
    responses((status = 200, body = Envelope<ListData<AlertItem>>), (status = "4XX", body = ErrorEnvelope)))]
async fn alert_list(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<AlertListReq>,
) -> ApiResult<ListData<AlertItem>> {
    let page = Paging {
        p: req.p,
        limit: req.limit,
    }
    .page()?;
    let (start_time, end_time) = super::time_range(req.start_time, req.end_time)?;
    let progress = req.progress.map(|p| match p {
        AlertProgress::Triggered => Progress::Triggered,
        AlertProgress::Closed => Progress::Closed,
    });
    let incident_id = req
        .incident_id
        .map(|i| incident_id("incident_id", &i))
        .transpose()?;
    let active = req.is_active.map(|a| {
        if a {
            Progress::Triggered
        } else {
            Progress::Closed
        }
    });
    if let (Some(p), Some(a)) = (progress, active) {
        if p != a {
            return Err(ApiError::invalid("is_active", "contradicts progress"));
        }
    }
    let cursor = req
        .search_after_ctx
        .as_deref()
        .is_some_and(|c| !c.is_empty());
    unsupported("search_after_ctx", cursor, "page with p and limit")?;
    let order_by_updated = req.orderby == Some(TimeOrder::UpdatedAt);
    let alert_ids = req
        .alert_ids
        .unwrap_or_default()
        .iter()
        .map(|id| alert_id("alert_ids", id))
        .collect::<Result<Vec<_>, _>>()?;
    let filter = AlertFilter {
        start_time,
        end_time,
        by_updated_at: req.by_updated_at.unwrap_or(false),
        channel_ids: req.channel_ids.unwrap_or_default(),
        progress: progress.or(active),
        incident_id,
        severities: severities("alert_severity", req.alert_severity.as_deref())?,
        source_ids: req.integration_ids.unwrap_or_default(),
        alert_ids,
        alert_keys: req.alert_keys.unwrap_or_default(),
        order_by_updated,
        asc: req.asc.unwrap_or(false),
        query: req
            .query
            .map(|q| q.trim().to_string())
            .filter(|q| !q.is_empty()),
    };
    if req.ever_muted == Some(true) {
        return ok(ListData {
            items: vec![],
            total: 0,
            has_next_page: false,
        });
    }
    let listing = app.store.list_alerts(&filter, page).await?;
    ok(ListData::from(listing, page, |a| item(&app, a)))
}

#[derive(Deserialize, ToSchema)]
#[schema(as = AlertId)]
pub struct AlertIdBody {
    #[schema(pattern = "^[0-9a-f]{24}$")]
    #[schema(value_type = String)]
    pub alert_id: AlertId,
}

async fn existing_alert(app: &AppState, id: &AlertId) -> Result<Alert, ApiError> {
    app.store
        .alert(id)
        .await?
        .ok_or_else(|| ApiError::ResourceNotFound(format!("alert {id} does not exist")))
}

/// The alert with its newest raw events (up to 1,000), newest first.
#[utoipa::path(post, path = "/alert/info", tag = TAG_ALERTS, request_body = AlertIdBody,
    responses((status = 200, body = Envelope<AlertItem>), (status = "4XX", body = ErrorEnvelope)))]
async fn alert_info(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<AlertIdBody>,
) -> ApiResult<AlertItem> {
    let id = alert_id("alert_id", &req.alert_id)?;
    let alert = existing_alert(&app, &id).await?;
    let raw = app.store.alert_events(&id, EVENTS_SHOWN).await?;
    let events = raw.into_iter().map(|e| event_item(&app, &alert, e));
    let events = events.collect();
    let mut item = item(&app, alert);
    item.events = Some(events);
    ok(item)
}

#[derive(Serialize, ToSchema)]
pub struct EventItems {
    #[schema(value_type = Vec<AlertEventItem>)]
    pub items: Vec<Value>,
}

/// An alert's raw events (up to 1,000), newest first.
#[utoipa::path(post, path = "/alert/event/list", tag = TAG_ALERTS, request_body = AlertIdBody,
    responses((status = 200, body = Envelope<EventItems>), (status = "4XX", body = ErrorEnvelope)))]
async fn alert_event_list(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<AlertIdBody>,
) -> ApiResult<EventItems> {
    let id = alert_id("alert_id", &req.alert_id)?;
    let alert = existing_alert(&app, &id).await?;
    let raw = app.store.alert_events(&id, EVENTS_SHOWN).await?;
    let items = raw.into_iter().map(|e| event_item(&app, &alert, e));
    ok(EventItems {
        items: items.collect(),
    })
}

#[derive(Deserialize, ToSchema)]
pub struct IncidentAlertList {
    #[schema(pattern = "^[0-9a-f]{24}$")]
    #[schema(value_type = String)]
    pub incident_id: IncidentId,
    #[schema(minimum = 1)]
    pub p: Option<i64>,
    #[schema(minimum = 1, maximum = 1000)]
    pub limit: Option<i64>,
    /// true: only alerts still open; false: only closed ones.
    pub is_active: Option<bool>,
    /// Each alert with its raw events.
    pub include_events: Option<bool>,
}

/// An incident's alerts, newest first.
#[utoipa::path(post, path = "/incident/alert/list", tag = TAG_ALERTS, request_body = IncidentAlertList,
    responses((status = 200, body = Envelope<ListData<AlertItem>>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_alert_list(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<IncidentAlertList>,
) -> ApiResult<ListData<AlertItem>> {
    let id = incident_id("incident_id", &req.incident_id)?;
    let limit = req.limit.unwrap_or(20);
    if !(1..=MAX_INCIDENT_ALERTS).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be from 1 to {MAX_INCIDENT_ALERTS}, got {limit}"),
        ));
    }
    let page = Paging {
        p: req.p,
        limit: Some(1),
    }
    .page()?;
    let page = Page { p: page.p, limit };
    existing(&app, &id).await?;
    let filter = AlertFilter {
        start_time: 0,
        end_time: i64::MAX,
        progress: req.is_active.map(|active| {
            if active {
                Progress::Triggered
            } else {
                Progress::Closed
            }
        }),
        incident_id: Some(id),
        ..Default::default()
    };
    let Listing { items, total } = app.store.list_alerts(&filter, page).await?;
    let mut out = Vec::with_capacity(items.len());
    for alert in items {
        let events = if req.include_events.unwrap_or(false) {
            let raw = app
                .store
                .alert_events(&alert.alert_id, EVENTS_SHOWN)
                .await?;
            Some(
                raw.into_iter()
                    .map(|e| event_item(&app, &alert, e))
                    .collect(),
            )
        } else {
            None
        };
        let mut item = item(&app, alert);
        item.events = events;
        out.push(item);
    }
    let has_next_page = page.offset() + (out.len() as i64) < total;
    ok(ListData {
        items: out,
        total,
        has_next_page,
    })
}
