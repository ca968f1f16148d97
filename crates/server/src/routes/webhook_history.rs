//! The hosted product's webhook history API (`/webhook/history/list`,
//! `/webhook/history/detail`): the same attempts as `/integration/history/*`,
//! in its shape — times in milliseconds, a cursor (`search_after_ctx`),
//! request and response as strings.

use axum::extract::State;
use dutyhook_domain::event::{EventType, SubjectKind};
use dutyhook_domain::ids::{EventId, IncidentId, IntegrationId};
use dutyhook_store::{AttemptFilter, AttemptRecord, Page};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::choices::{blank_is_none, EventTimeOrder, PushStatus};
use super::integration::TAG_WEBHOOKS;
use super::positive_id;
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(webhook_history_list))
        .routes(routes!(webhook_history_detail))
}

#[derive(Deserialize, ToSchema)]
pub struct WebhookHistoryList {
    /// Unix milliseconds, required: attempts made at or after it.
    pub start_time: Option<i64>,
    /// Unix milliseconds, required: attempts made before it.
    pub end_time: Option<i64>,
    /// 1 to 100 (default 20).
    pub limit: Option<i64>,
    /// The `search_after_ctx` of the previous page; absent or "" for the first.
    pub search_after_ctx: Option<String>,
    /// Oldest first when true (by the event's time).
    pub asc: Option<bool>,
    /// Only `event_time`.
    #[serde(default, deserialize_with = "blank_is_none")]
    pub orderby: Option<EventTimeOrder>,
    /// An incident or alert id.
    pub ref_id: Option<String>,
    #[schema(value_type = Option<i64>)]
    pub integration_id: Option<IntegrationId>,
    pub event_types: Option<Vec<EventType>>,
    /// `success` or `failed`.
    #[serde(default, deserialize_with = "blank_is_none")]
    pub status: Option<PushStatus>,
}

/// One attempt, as the hosted product's history shows it.
#[derive(Serialize, ToSchema)]
pub struct WebhookAttempt {
    pub integration_id: i64,
    pub event_id: String,
    /// `incident` or `alert`.
    pub webhook_type: String,
    pub event_type: String,
    /// The incident's or alert's id.
    pub ref_id: String,
    /// The request's headers as a JSON object, secret values masked.
    pub request_headers: String,
    pub request_body: String,
    pub endpoint: String,
    pub attempt: i64,
    /// ms
    pub duration: i64,
    /// `success` or `failed`.
    pub status: String,
    pub status_code: i64,
    pub error_message: String,
    pub response_headers: String,
    pub response_body: String,
    /// The event's time, RFC 3339 in UTC with milliseconds.
    pub event_time: String,
    /// dutyhook's own id of the attempt (`/integration/history/info`).
    pub invocation_id: String,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookHistoryPage {
    pub items: Vec<WebhookAttempt>,
    pub total: i64,
    /// Pass it back for the next page; "" after the last.
    pub search_after_ctx: String,
    pub has_next_page: bool,
}

fn rfc3339_ms(ms: i64) -> String {
    match time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000) {
        Ok(t) => format!(
            "{}T{:02}:{:02}:{:02}.{:03}Z",
            t.date(),
            t.hour(),
            t.minute(),
            t.second(),
            t.millisecond()
        ),
        Err(_) => String::new(),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

async fn attempt_view(app: &AppState, a: &AttemptRecord) -> Result<WebhookAttempt, ApiError> {
    let (request, response) = (a.request.value(), a.response.value());
    let body = if request["body_is_event_payload"] == Value::Bool(true) {
        let event = app.store.event(&a.event_id).await?;
        event.map(|e| e.payload).unwrap_or_default()
    } else {
        text(&request["body"])
    };
    Ok(WebhookAttempt {
        integration_id: a.integration_id.0,
        event_id: a.event_id.to_string(),
        webhook_type: a.subject_kind.as_str().to_string(),
        event_type: a.event_type.as_str().to_string(),
        ref_id: a.subject_id.clone(),
        request_headers: request["headers"].to_string(),
        request_body: body,
        endpoint: text(&request["url"]),
        attempt: a.attempt,
        duration: a.duration_ms,
        status: if a.success { "success" } else { "failed" }.into(),
        status_code: a.http_status,
        error_message: a.error.clone(),
        response_headers: response["headers"].to_string(),
        response_body: text(&response["body"]),
        event_time: rfc3339_ms(a.event_time),
        invocation_id: a.invocation_id.clone(),
    })
}

#[utoipa::path(post, path = "/webhook/history/list", tag = TAG_WEBHOOKS, request_body = WebhookHistoryList,
    responses((status = 200, body = Envelope<WebhookHistoryPage>), (status = "4XX", body = ErrorEnvelope)))]
async fn webhook_history_list(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<WebhookHistoryList>,
) -> ApiResult<WebhookHistoryPage> {
    let from = req
        .start_time
        .ok_or_else(|| ApiError::invalid("start_time", "is required (Unix milliseconds)"))?;
    let to = req
        .end_time
        .ok_or_else(|| ApiError::invalid("end_time", "is required (Unix milliseconds)"))?;
    if from < 0 || to <= from {
        return Err(ApiError::invalid(
            "end_time",
            "must be after start_time, both Unix milliseconds ≥ 0",
        ));
    }
    let limit = req.limit.unwrap_or(20);
    if !(1..=100).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be from 1 to 100, got {limit}"),
        ));
    }
    let p = match req.search_after_ctx.as_deref().unwrap_or("") {
        "" => 1,
        cursor => cursor
            .parse::<i64>()
            .ok()
            .filter(|p| (2..=1_000_000).contains(p))
            .ok_or_else(|| {
                ApiError::invalid("search_after_ctx", "is not a cursor this API returned")
            })?,
    };
    // The one order there is: reading the body refused any other.
    let EventTimeOrder::EventTime = req.orderby.unwrap_or_default();
    let success = req.status.map(|s| s == PushStatus::Success);
    let event_types = req.event_types.unwrap_or_default();
    let filter = AttemptFilter {
        integration_id: req
            .integration_id
            .map(|id| positive_id("integration_id", id))
            .transpose()?,
        from,
        to,
        subject_id: req.ref_id.filter(|r| !r.is_empty()),
        event_types,
        success,
        by_event_time: true,
        asc: req.asc.unwrap_or(false),
        ..Default::default()
    };
    let page = Page { p, limit };
    let listing = app.store.list_attempts(&filter, page).await?;
    let has_next_page = listing.has_next_page(page);
    let mut items = Vec::with_capacity(listing.items.len());
    for a in &listing.items {
        items.push(attempt_view(&app, a).await?);
    }
    ok(WebhookHistoryPage {
        items,
        total: listing.total,
        search_after_ctx: if has_next_page {
            (p + 1).to_string()
        } else {
            String::new()
        },
        has_next_page,
    })
}

#[derive(Deserialize, ToSchema)]
pub struct WebhookHistoryDetail {
    pub event_id: String,
    #[schema(value_type = i64)]
    pub integration_id: IntegrationId,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookAttemptDetail {
    #[serde(flatten)]
    pub attempt: WebhookAttempt,
    /// The incident's or alert's title now.
    pub ref_title: String,
    pub channel_id: i64,
    pub channel_name: String,
}

/// The newest attempt to push this event to this integration.
#[utoipa::path(post, path = "/webhook/history/detail", tag = TAG_WEBHOOKS, request_body = WebhookHistoryDetail,
    responses((status = 200, body = Envelope<WebhookAttemptDetail>), (status = "4XX", body = ErrorEnvelope)))]
async fn webhook_history_detail(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<WebhookHistoryDetail>,
) -> ApiResult<WebhookAttemptDetail> {
    let integration_id = positive_id("integration_id", req.integration_id)?;
    let filter = AttemptFilter {
        integration_id: Some(integration_id),
        from: 0,
        to: i64::MAX,
        event_id: Some(EventId::from(req.event_id.as_str())),
        ..Default::default()
    };
    let listing = app
        .store
        .list_attempts(&filter, Page { p: 1, limit: 1 })
        .await?;
    let a = listing.items.into_iter().next().ok_or_else(|| {
        ApiError::ResourceNotFound(format!(
            "no attempt to push event {:?} to integration {integration_id} (it may have been pruned)",
            req.event_id
        ))
    })?;
    let (ref_title, channel_id, channel_name) = match a.subject_kind {
        SubjectKind::Incident => match app
            .store
            .incident(&IncidentId::from(a.subject_id.as_str()))
            .await?
        {
            Some(i) => (i.title, i.channel_id.0, i.channel_name),
            None => Default::default(),
        },
        SubjectKind::Alert => match app.store.alert(&a.subject_id.as_str().into()).await? {
            Some(al) => (al.title, al.channel_id.0, al.channel_name),
            None => Default::default(),
        },
    };
    ok(WebhookAttemptDetail {
        attempt: attempt_view(&app, &a).await?,
        ref_title,
        channel_id,
        channel_name,
    })
}
