//! The invocation history: every attempt, filterable; resend.

use axum::extract::State;
use dutyhook_domain::event::{EventType, SubjectKind};
use dutyhook_domain::ids::{AlertId, DeliveryId, EventId, IncidentId, IntegrationId};
use dutyhook_store::{AttemptFilter, AttemptRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::choices::{blank_is_none, AttemptOutcome};
use super::integration::{may_manage, TAG_WEBHOOKS};
use super::webhook_preview::ShownHeader;
use super::{positive_id, ListData, Paging};
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(history_list))
        .routes(routes!(history_info))
        .routes(routes!(history_resend))
}

#[derive(Deserialize, ToSchema)]
pub struct HistoryList {
    #[schema(value_type = i64)]
    pub integration_id: IntegrationId,
    /// Unix seconds, required.
    pub start_time: Option<i64>,
    /// Unix seconds, required.
    pub end_time: Option<i64>,
    #[schema(pattern = "^[0-9a-f]{24}$")]
    #[schema(value_type = Option<String>)]
    pub incident_id: Option<IncidentId>,
    #[schema(pattern = "^[0-9a-f]{24}$")]
    #[schema(value_type = Option<String>)]
    pub alert_id: Option<AlertId>,
    #[serde(default, deserialize_with = "blank_is_none")]
    pub event_type: Option<EventType>,
    /// `success` or `failure`.
    #[serde(default, deserialize_with = "blank_is_none")]
    pub status: Option<AttemptOutcome>,
    #[schema(minimum = 1)]
    pub p: Option<i64>,
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct Invocation {
    pub invocation_id: String,
    #[schema(value_type = i64)]
    pub integration_id: IntegrationId,
    pub integration_kind: String,
    #[schema(value_type = String)]
    pub event_id: EventId,
    pub event_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub incident_id: Option<IncidentId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub alert_id: Option<AlertId>,
    /// 1 = the first attempt.
    pub attempt: i64,
    pub test: bool,
    /// ms
    pub event_time: i64,
    /// ms
    pub started_at: i64,
    pub duration_ms: i64,
    /// `success` or `failure`.
    pub status: String,
    pub http_status: i64,
    pub error_class: String,
    pub error: String,
}

/// The request as sent; secret header values shown as `******`.
#[derive(ToSchema)]
#[allow(dead_code)]
struct SentRequest {
    url: String,
    headers: Vec<ShownHeader>,
    body: String,
}

/// The endpoint's answer; empty when it did not answer.
#[derive(ToSchema)]
#[allow(dead_code)]
struct ReceivedResponse {
    headers: Vec<ShownHeader>,
    /// Up to 64 KiB.
    body: String,
    /// Whether the body was longer and cut.
    truncated: bool,
}

#[derive(Serialize, ToSchema)]
pub struct InvocationDetail {
    #[serde(flatten)]
    pub summary: Invocation,
    #[schema(value_type = SentRequest)]
    pub request: Value,
    #[schema(value_type = ReceivedResponse)]
    pub response: Value,
    /// Attempts the delivery has taken so far (0 for tests).
    pub delivery_attempts: i64,
    /// `pending`, `leased`, `done`, `failed`, or empty for tests.
    pub delivery_state: String,
    /// When pending: when the next attempt is due (ms).
    pub next_attempt_at: i64,
}

fn summary(a: &AttemptRecord) -> Invocation {
    let incident = a.subject_kind == SubjectKind::Incident;
    Invocation {
        invocation_id: a.invocation_id.clone(),
        integration_id: a.integration_id,
        integration_kind: a.integration_kind.as_str().to_string(),
        event_id: a.event_id.clone(),
        event_type: a.event_type.as_str().to_string(),
        incident_id: incident.then(|| IncidentId::from(a.subject_id.as_str())),
        alert_id: (!incident).then(|| AlertId::from(a.subject_id.as_str())),
        attempt: a.attempt,
        test: a.test,
        event_time: a.event_time,
        started_at: a.started_at,
        duration_ms: a.duration_ms,
        status: if a.success { "success" } else { "failure" }.into(),
        http_status: a.http_status,
        error_class: a.error_class.clone(),
        error: a.error.clone(),
    }
}

#[utoipa::path(post, path = "/integration/history/list", tag = TAG_WEBHOOKS, request_body = HistoryList,
    responses((status = 200, body = Envelope<ListData<Invocation>>), (status = "4XX", body = ErrorEnvelope)))]
async fn history_list(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<HistoryList>,
) -> ApiResult<ListData<Invocation>> {
    let page = Paging {
        p: req.p,
        limit: req.limit,
    }
    .page()?;
    let id = positive_id("integration_id", req.integration_id)?;
    if app.store.integration(id).await?.is_none() {
        return Err(ApiError::ResourceNotFound(format!(
            "integration {id} does not exist"
        )));
    }
    let (start, end) = super::time_range(req.start_time, req.end_time)?;
    let success = req.status.map(|s| s == AttemptOutcome::Success);
    if req.incident_id.is_some() && req.alert_id.is_some() {
        return Err(ApiError::invalid(
            "alert_id",
            "give incident_id or alert_id, not both",
        ));
    }
    let filter = AttemptFilter {
        integration_id: Some(id),
        from: start.saturating_mul(1000),
        to: end.saturating_mul(1000),
        subject_id: req
            .incident_id
            .map(String::from)
            .or(req.alert_id.map(String::from))
            .filter(|s| !s.is_empty()),
        event_types: req.event_type.into_iter().collect(),
        success,
        ..Default::default()
    };
    let listing = app.store.list_attempts(&filter, page).await?;
    ok(ListData::from(listing, page, |a| summary(&a)))
}

#[derive(Deserialize, ToSchema)]
pub struct InvocationId {
    pub invocation_id: String,
}

async fn load(app: &AppState, id: &str) -> Result<AttemptRecord, ApiError> {
    app.store.attempt(id).await?.ok_or_else(|| {
        ApiError::ResourceNotFound(format!(
            "invocation {id} does not exist (it may have been pruned)"
        ))
    })
}

#[utoipa::path(post, path = "/integration/history/info", tag = TAG_WEBHOOKS, request_body = InvocationId,
    responses((status = 200, body = Envelope<InvocationDetail>), (status = "4XX", body = ErrorEnvelope)))]
async fn history_info(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<InvocationId>,
) -> ApiResult<InvocationDetail> {
    let a = load(&app, &req.invocation_id).await?;
    let (delivery_state, delivery_attempts, next_at) = match a.delivery_id {
        DeliveryId(0) => (String::new(), 0, 0),
        id => app.store.delivery_state(id).await?.unwrap_or_default(),
    };
    let mut request = a.request.value();
    if request["body_is_event_payload"] == Value::Bool(true) {
        if let Some(obj) = request.as_object_mut() {
            obj.remove("body_is_event_payload");
        }
        let payload = app
            .store
            .event(&a.event_id)
            .await?
            .map(|e| e.payload)
            .unwrap_or_default();
        request["body"] = Value::String(payload);
    }
    ok(InvocationDetail {
        summary: summary(&a),
        request,
        response: a.response.value(),
        delivery_attempts,
        next_attempt_at: if delivery_state == "pending" {
            next_at
        } else {
            0
        },
        delivery_state,
    })
}

#[derive(Serialize, ToSchema)]
pub struct Resent {
    #[schema(value_type = i64)]
    pub delivery_id: DeliveryId,
    #[schema(value_type = String)]
    pub event_id: EventId,
}

#[utoipa::path(post, path = "/integration/history/resend", tag = TAG_WEBHOOKS, request_body = InvocationId,
    responses((status = 200, body = Envelope<Resent>), (status = "4XX", body = ErrorEnvelope)))]
async fn history_resend(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<InvocationId>,
) -> ApiResult<Resent> {
    let a = load(&app, &req.invocation_id).await?;
    if a.test {
        return Err(ApiError::invalid(
            "invocation_id",
            "a test push has no recorded event to resend; send another test",
        ));
    }
    let r = app
        .store
        .integration(a.integration_id)
        .await?
        .ok_or_else(|| {
            ApiError::ResourceNotFound(format!("integration {} does not exist", a.integration_id))
        })?;
    may_manage(&app, &caller, r.team_id).await?;
    if r.kind == super::actions::KIND {
        return Err(ApiError::invalid(
            "invocation_id",
            "a custom action calls only when someone triggers it; trigger it again from the incident",
        ));
    }
    if !r.enabled {
        return Err(ApiError::invalid(
            "invocation_id",
            format!(
                "integration {} is disabled: enable it first, or the resend would only be skipped",
                a.integration_id
            ),
        ));
    }
    let delivery_id = app
        .store
        .enqueue_delivery(&a.event_id, a.integration_id, app.clock.now_ms())
        .await?;
    ok(Resent {
        delivery_id,
        event_id: a.event_id,
    })
}
