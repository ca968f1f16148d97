//! The operations that change incidents. Each checks its input, then runs the
//! domain operation inside one store transaction with the events it emits.

use std::collections::BTreeMap;

use axum::extract::State;
use dutyhook_domain::ids::{IncidentId, PersonId};
use dutyhook_domain::incident::Incident;
use dutyhook_domain::ops::{self, Reset, Resolution};
use dutyhook_domain::person::Person;
use dutyhook_domain::recorder::Recorder;
use dutyhook_domain::DomainError;
use serde::{Deserialize, Deserializer};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::incidents::{
    assignees, batch_ids, incident_id, people, AssignedTo, IncidentIds, MAX_BATCH,
};
use super::TAG_INCIDENTS;
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Empty, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

/// The shape of the batch operations: an operator, 1 to 100 checked ids
/// (`incident_ids`, and `incident_id` if given; each once), and the
/// operation on all of them in one transaction.
pub(crate) async fn on_batch<F>(
    app: &AppState,
    caller: Caller,
    ids: &[IncidentId],
    one: &Option<IncidentId>,
    op: F,
) -> ApiResult<Empty>
where
    F: Fn(&mut Vec<Incident>, &Person, &mut Recorder) -> Result<(), DomainError>
        + Send
        + Sync
        + 'static,
{
    caller.require_operator()?;
    let ids = batch_ids(ids, one)?;
    let by = caller.person;
    app.mutate(&ids, move |incs, rec| op(incs, &by, rec))
        .await?;
    ok(Empty {})
}

/// One checked incident, changed by `by` in one transaction.
async fn on_one<F>(app: &AppState, by: Person, id: IncidentId, op: F) -> ApiResult<Empty>
where
    F: Fn(&mut Incident, &Person, &mut Recorder) -> Result<(), DomainError> + Send + Sync + 'static,
{
    app.mutate(&[id], move |incs, rec| op(&mut incs[0], &by, rec))
        .await?;
    ok(Empty {})
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(incident_ack))
        .routes(routes!(incident_unack))
        .routes(routes!(incident_snooze))
        .routes(routes!(incident_wake))
        .routes(routes!(incident_resolve))
        .routes(routes!(incident_reopen))
        .routes(routes!(incident_assign))
        .routes(routes!(incident_responder_add))
        .routes(routes!(incident_comment))
        .routes(routes!(incident_reset))
        .routes(routes!(incident_field_reset))
        .routes(routes!(incident_labels_update))
}

#[utoipa::path(post, path = "/incident/ack", tag = TAG_INCIDENTS, request_body = IncidentIds,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_ack(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<IncidentIds>,
) -> ApiResult<Empty> {
    on_batch(
        &app,
        caller,
        &req.incident_ids,
        &req.incident_id,
        move |incs, by, rec| ops::ack(incs, by, rec),
    )
    .await
}

#[utoipa::path(post, path = "/incident/unack", tag = TAG_INCIDENTS, request_body = IncidentIds,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_unack(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<IncidentIds>,
) -> ApiResult<Empty> {
    on_batch(
        &app,
        caller,
        &req.incident_ids,
        &req.incident_id,
        move |incs, by, rec| ops::unack(incs, by, rec),
    )
    .await
}

#[derive(Deserialize, ToSchema)]
pub struct IncidentSnooze {
    /// 1 to 100 incidents; `incident_id` may name one more.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub incident_ids: Vec<IncidentId>,
    /// One incident, as the hosted product's clients may name it.
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{24}$")]
    pub incident_id: Option<IncidentId>,
    /// 1 to 1440.
    pub minutes: i64,
}

#[utoipa::path(post, path = "/incident/snooze", tag = TAG_INCIDENTS, request_body = IncidentSnooze,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_snooze(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<IncidentSnooze>,
) -> ApiResult<Empty> {
    let minutes = req.minutes;
    on_batch(
        &app,
        caller,
        &req.incident_ids,
        &req.incident_id,
        move |incs, by, rec| ops::snooze(incs, minutes, by, rec),
    )
    .await
}

#[utoipa::path(post, path = "/incident/wake", tag = TAG_INCIDENTS, request_body = IncidentIds,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_wake(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<IncidentIds>,
) -> ApiResult<Empty> {
    on_batch(
        &app,
        caller,
        &req.incident_ids,
        &req.incident_id,
        move |incs, by, rec| ops::wake(incs, Some(by), rec),
    )
    .await
}

#[derive(Deserialize, ToSchema)]
pub struct IncidentResolve {
    /// 1 to 100 incidents; `incident_id` may name one more.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub incident_ids: Vec<IncidentId>,
    /// One incident, as the hosted product's clients may name it.
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{24}$")]
    pub incident_id: Option<IncidentId>,
    pub root_cause: Option<String>,
    pub resolution: Option<String>,
}

#[utoipa::path(post, path = "/incident/resolve", tag = TAG_INCIDENTS, request_body = IncidentResolve,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_resolve(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<IncidentResolve>,
) -> ApiResult<Empty> {
    let texts = Resolution {
        root_cause: req.root_cause,
        resolution: req.resolution,
    };
    on_batch(
        &app,
        caller,
        &req.incident_ids,
        &req.incident_id,
        move |incs, by, rec| ops::resolve(incs, &texts, by, rec),
    )
    .await
}

#[derive(Deserialize, ToSchema)]
pub struct IncidentReopen {
    /// 1 to 100 incidents; `incident_id` may name one more.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub incident_ids: Vec<IncidentId>,
    /// One incident, as the hosted product's clients may name it.
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{24}$")]
    pub incident_id: Option<IncidentId>,
    /// Why it is reopened: up to 1024 characters, optional (as in the
    /// hosted product); shown in the timeline.
    pub reason: Option<String>,
}

#[utoipa::path(post, path = "/incident/reopen", tag = TAG_INCIDENTS, request_body = IncidentReopen,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_reopen(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<IncidentReopen>,
) -> ApiResult<Empty> {
    let reason = req.reason;
    on_batch(
        &app,
        caller,
        &req.incident_ids,
        &req.incident_id,
        move |incs, by, rec| ops::reopen(incs, reason.as_deref(), by, rec),
    )
    .await
}

#[derive(Deserialize, ToSchema)]
pub struct IncidentAssign {
    /// 1 to 100 incidents; `incident_id` may name one more.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub incident_ids: Vec<IncidentId>,
    /// One incident, as the hosted product's clients may name it.
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{24}$")]
    pub incident_id: Option<IncidentId>,
    pub assigned_to: AssignedTo,
}

#[utoipa::path(post, path = "/incident/assign", tag = TAG_INCIDENTS, request_body = IncidentAssign,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_assign(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<IncidentAssign>,
) -> ApiResult<Empty> {
    caller.require_operator()?;
    let ids = batch_ids(&req.incident_ids, &req.incident_id)?;
    let people = assignees(&app, "assigned_to", &req.assigned_to).await?;
    let by = caller.person;
    app.mutate(&ids, move |incs, rec| ops::assign(incs, &people, &by, rec))
        .await?;
    ok(Empty {})
}

#[derive(Deserialize, ToSchema)]
pub struct ResponderAdd {
    #[schema(pattern = "^[0-9a-f]{24}$")]
    #[schema(value_type = String)]
    pub incident_id: IncidentId,
    #[schema(value_type = Vec<i64>)]
    pub person_ids: Vec<PersonId>,
    /// Not supported (refused when not empty): dutyhook sends no notifications.
    #[schema(value_type = Option<Object>)]
    pub notify: Option<serde_json::Map<String, serde_json::Value>>,
}

/// The hosted product's `notify` settings of a call, which dutyhook has no
/// notifications to apply to.
fn no_notify(notify: &Option<serde_json::Map<String, serde_json::Value>>) -> Result<(), ApiError> {
    let set = notify.as_ref().is_some_and(|n| !n.is_empty());
    super::unsupported("notify", set, "it sends no notifications")
}

#[utoipa::path(post, path = "/incident/responder/add", tag = TAG_INCIDENTS, request_body = ResponderAdd,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_responder_add(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ResponderAdd>,
) -> ApiResult<Empty> {
    caller.require_operator()?;
    let id = incident_id("incident_id", &req.incident_id)?;
    no_notify(&req.notify)?;
    let people = people(&app, "person_ids", &req.person_ids).await?;
    on_one(&app, caller.person, id, move |inc, by, rec| {
        ops::add_responders(inc, &people, by, rec)
    })
    .await
}

#[derive(Deserialize, ToSchema)]
pub struct IncidentComment {
    /// 1 to 100 incidents; `incident_id` may name one more.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub incident_ids: Vec<IncidentId>,
    /// One incident, as the hosted product's clients may name it.
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{24}$")]
    pub incident_id: Option<IncidentId>,
    /// 1 to 10000 characters.
    #[schema(min_length = 1, max_length = 10000)]
    pub comment: String,
    /// Accepted: no replies are ever sent, so they are always muted.
    pub mute_reply: Option<bool>,
    /// Not supported (refused when not empty): dutyhook sends no notifications.
    #[schema(value_type = Option<Object>)]
    pub notify: Option<serde_json::Map<String, serde_json::Value>>,
}

#[utoipa::path(post, path = "/incident/comment", tag = TAG_INCIDENTS, request_body = IncidentComment,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_comment(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<IncidentComment>,
) -> ApiResult<Empty> {
    no_notify(&req.notify)?;
    let text = req.comment;
    on_batch(
        &app,
        caller,
        &req.incident_ids,
        &req.incident_id,
        move |incs, by, rec| ops::comment(incs, &text, by, rec),
    )
    .await
}

#[derive(Deserialize, ToSchema)]
pub struct IncidentReset {
    #[schema(pattern = "^[0-9a-f]{24}$")]
    #[schema(value_type = String)]
    pub incident_id: IncidentId,
    pub title: Option<String>,
    pub description: Option<String>,
    #[schema(value_type = Option<dutyhook_domain::severity::Severity>)]
    pub incident_severity: Option<String>,
    pub impact: Option<String>,
    pub root_cause: Option<String>,
    pub resolution: Option<String>,
}

#[utoipa::path(post, path = "/incident/reset", tag = TAG_INCIDENTS, request_body = IncidentReset,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_reset(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<IncidentReset>,
) -> ApiResult<Empty> {
    caller.require_operator()?;
    let id = incident_id("incident_id", &req.incident_id)?;
    let reset = Reset {
        title: req.title,
        description: req.description,
        impact: req.impact,
        root_cause: req.root_cause,
        resolution: req.resolution,
        incident_severity: req.incident_severity,
    };
    on_one(&app, caller.person, id, move |inc, by, rec| {
        ops::reset(inc, &reset, by, rec)
    })
    .await
}

/// Distinguishes an absent value (an error) from `null` (clears the field).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

#[derive(Deserialize, ToSchema)]
pub struct FieldReset {
    #[schema(pattern = "^[0-9a-f]{24}$")]
    #[schema(value_type = String)]
    pub incident_id: IncidentId,
    pub field_name: String,
    /// Checked against the field's type and options; `null` clears it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = serde_json::Value)]
    pub field_value: Option<Value>,
}

#[utoipa::path(post, path = "/incident/field/reset", tag = TAG_INCIDENTS, request_body = FieldReset,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_field_reset(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<FieldReset>,
) -> ApiResult<Empty> {
    caller.require_operator()?;
    let id = incident_id("incident_id", &req.incident_id)?;
    let value = req
        .field_value
        .ok_or_else(|| ApiError::invalid("field_value", "is required (null clears the field)"))?;
    let def = app
        .store
        .fields()
        .await?
        .into_iter()
        .find(|f| f.field_name == req.field_name)
        .ok_or_else(|| {
            ApiError::invalid(
                "field_name",
                format!("no custom field named {:?}", req.field_name),
            )
        })?;
    on_one(&app, caller.person, id, move |inc, by, rec| {
        ops::reset_field(inc, &def, &value, by, rec)
    })
    .await
}

#[derive(Deserialize, ToSchema)]
pub struct LabelsUpdate {
    #[schema(pattern = "^[0-9a-f]{24}$")]
    #[schema(value_type = String)]
    pub incident_id: IncidentId,
    /// Labels to set (keys follow Prometheus label naming).
    pub labels: Option<BTreeMap<String, String>>,
    pub remove_keys: Option<Vec<String>>,
}

#[utoipa::path(post, path = "/incident/labels/update", tag = TAG_INCIDENTS, request_body = LabelsUpdate,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_labels_update(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<LabelsUpdate>,
) -> ApiResult<Empty> {
    caller.require_operator()?;
    let id = incident_id("incident_id", &req.incident_id)?;
    let set = req.labels.unwrap_or_default();
    let remove = req.remove_keys.unwrap_or_default();
    if set.is_empty() && remove.is_empty() {
        return Err(ApiError::invalid(
            "labels",
            "give labels to set or remove_keys to remove",
        ));
    }
    if set.len() > MAX_BATCH || remove.len() > MAX_BATCH {
        return Err(ApiError::invalid("labels", "at most 100 labels per call"));
    }
    on_one(&app, caller.person, id, move |inc, by, rec| {
        ops::update_labels(inc, &set, &remove, by, rec)
    })
    .await
}
