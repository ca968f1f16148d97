//! Creating and reading incidents.

use axum::extract::State;
use dutyhook_domain::ids::{is_object_id, ChannelId, IncidentId, PersonId};
use dutyhook_domain::incident::{Incident, IncidentView};
use dutyhook_domain::ops::{self, NewIncident, DESCRIPTION_CHARS, LONG_TEXT_CHARS};
use dutyhook_domain::person::Person;
use dutyhook_domain::severity::Severity;
use serde::Deserialize;
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{positive_id, TAG_INCIDENTS};
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Empty, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

pub const MAX_BATCH: usize = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(incident_create))
        .routes(routes!(incident_remove))
}

pub fn incident_id(field: &str, id: &str) -> Result<IncidentId, ApiError> {
    if is_object_id(id) {
        Ok(IncidentId::from(id))
    } else {
        Err(ApiError::invalid(
            field,
            format!("{id:?} is not an incident id (24 lowercase hex characters)"),
        ))
    }
}

/// The incident with this (checked) id, or `ResourceNotFound`.
pub async fn existing(app: &AppState, id: &IncidentId) -> Result<Incident, ApiError> {
    app.store
        .incident(id)
        .await?
        .ok_or_else(|| ApiError::ResourceNotFound(format!("incident {id} does not exist")))
}

/// The checked incidents a batch call names: `incident_ids`, plus
/// `incident_id` where a client of the hosted product names a single
/// incident that way (checked under its own name).
pub fn batch_ids(
    ids: &[IncidentId],
    one: &Option<IncidentId>,
) -> Result<Vec<IncidentId>, ApiError> {
    let mut all = ids.to_vec();
    if let Some(id) = one {
        all.push(incident_id("incident_id", id)?);
    }
    incident_ids("incident_ids", &all)
}

/// Checks a batch of ids; duplicates count once.
pub fn incident_ids(field: &str, ids: &[IncidentId]) -> Result<Vec<IncidentId>, ApiError> {
    if ids.is_empty() || ids.len() > MAX_BATCH {
        return Err(ApiError::invalid(
            field,
            format!("must list 1 to {MAX_BATCH} incident ids, got {}", ids.len()),
        ));
    }
    let mut out: Vec<IncidentId> = Vec::with_capacity(ids.len());
    for id in ids {
        let id = incident_id(field, id)?;
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

#[derive(Deserialize, ToSchema)]
pub struct AssignedTo {
    /// Always `assign`.
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(value_type = Vec<i64>)]
    pub person_ids: Vec<PersonId>,
}

/// Resolves an assignment to the people it names (all must exist).
pub async fn assignees(
    app: &AppState,
    field: &str,
    a: &AssignedTo,
) -> Result<Vec<Person>, ApiError> {
    if a.kind != "assign" {
        return Err(ApiError::invalid(
            &format!("{field}.type"),
            format!("{:?} is not supported: use \"assign\"", a.kind),
        ));
    }
    let ids_field = format!("{field}.person_ids");
    people(app, &ids_field, &a.person_ids).await
}

pub async fn people(
    app: &AppState,
    field: &str,
    ids: &[PersonId],
) -> Result<Vec<Person>, ApiError> {
    if ids.is_empty() || ids.len() > ops::MAX_RESPONDERS {
        return Err(ApiError::invalid(
            field,
            format!("must list 1 to {} people", ops::MAX_RESPONDERS),
        ));
    }
    for id in ids {
        positive_id(field, *id)?;
    }
    Ok(app
        .store
        .people(ids)
        .await?
        .into_iter()
        .map(|p| p.person)
        .collect())
}

#[derive(Deserialize, ToSchema)]
pub struct IncidentCreate {
    /// 3 to 512 characters.
    #[schema(min_length = 3, max_length = 512)]
    pub title: String,
    /// `Critical`, `Warning` or `Info`.
    #[schema(value_type = Severity)]
    pub incident_severity: String,
    #[schema(value_type = Option<i64>)]
    pub channel_id: Option<ChannelId>,
    /// At most 6144 characters.
    #[schema(max_length = 6144)]
    pub description: Option<String>,
    pub impact: Option<String>,
    pub assigned_to: Option<AssignedTo>,
    /// Custom field values by field name: any JSON value the field takes.
    #[schema(value_type = Option<std::collections::HashMap<String, serde_json::Value>>)]
    pub fields: Option<Map<String, Value>>,
}

#[utoipa::path(post, path = "/incident/create", tag = TAG_INCIDENTS, request_body = IncidentCreate,
    responses((status = 200, body = Envelope<IncidentView>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_create(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<IncidentCreate>,
) -> ApiResult<IncidentView> {
    caller.require_operator()?;
    let title = ops::validate_title(&req.title)?;
    let severity: Severity = ops::parse_severity("incident_severity", &req.incident_severity)?;
    let description = ops::validate_text(
        "description",
        req.description.as_deref().unwrap_or(""),
        DESCRIPTION_CHARS,
    )?;
    let impact = ops::validate_text(
        "impact",
        req.impact.as_deref().unwrap_or(""),
        LONG_TEXT_CHARS,
    )?;
    let (channel_id, channel_name) = match req.channel_id.unwrap_or(ChannelId(0)) {
        ChannelId(0) => (ChannelId(0), String::new()),
        id => {
            positive_id("channel_id", id)?;
            let c = app.store.channel(id).await?.ok_or_else(|| {
                ApiError::ResourceNotFound(format!("channel {id} does not exist"))
            })?;
            (c.channel_id, c.channel_name)
        }
    };
    let assignees = match &req.assigned_to {
        Some(a) => assignees(&app, "assigned_to", a).await?,
        None => vec![],
    };
    if req.assigned_to.is_some() {
        ops::validate_people_list("assigned_to.person_ids", &assignees)?;
    }
    let defs = app.store.fields().await?;
    let fields = ops::validate_fields(&defs, &req.fields.unwrap_or_default())?;
    let input = NewIncident {
        title,
        severity,
        channel_id,
        channel_name,
        description,
        impact,
        assignees,
        fields,
    };
    let creator = caller.person.clone();
    let created = app
        .mutate(&[], move |incs, rec| {
            incs.push(ops::create(input.clone(), &creator, rec));
            Ok(())
        })
        .await?;
    ok(created[0].view(&app.render))
}

#[derive(Deserialize, ToSchema)]
pub struct IncidentIds {
    /// 1 to 100 incidents; `incident_id` may name one more.
    #[serde(default)]
    #[schema(value_type = Vec<String>)]
    pub incident_ids: Vec<IncidentId>,
    /// One incident, as the hosted product's clients may name it.
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{24}$")]
    pub incident_id: Option<IncidentId>,
}

/// Deletes incidents for good, with their timeline, alerts and custom
/// action runs; webhooks are told nothing (the hosted product has no event
/// for it). Admins only. All or nothing: an unknown id deletes nothing.
#[utoipa::path(post, path = "/incident/remove", tag = TAG_INCIDENTS, request_body = IncidentIds,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_remove(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<IncidentIds>,
) -> ApiResult<Empty> {
    let ids = batch_ids(&req.incident_ids, &req.incident_id)?;
    caller.require_admin()?;
    app.store.remove_incidents(&ids).await?;
    ok(Empty {})
}
