//! Creating and reading incidents.

use axum::extract::State;
use dutyhook_domain::ids::{is_object_id, ChannelId, IncidentId, PersonId};
use dutyhook_domain::incident::{Incident, IncidentView};
use dutyhook_domain::ops::{self, NewIncident, DESCRIPTION_CHARS, LONG_TEXT_CHARS};
use dutyhook_domain::person::Person;
use dutyhook_domain::severity::{Progress, Severity};
use dutyhook_store::IncidentFilter;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{positive_id, unsupported, ListData, Paging, TAG_INCIDENTS};
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

pub const MAX_BATCH: usize = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(incident_create))
        .routes(routes!(incident_info))
        .routes(routes!(incident_list))
        .routes(routes!(incident_list_by_ids))
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
    pub incident_severity: String,
    #[schema(value_type = Option<i64>)]
    pub channel_id: Option<ChannelId>,
    /// At most 6144 characters.
    #[schema(max_length = 6144)]
    pub description: Option<String>,
    pub impact: Option<String>,
    pub assigned_to: Option<AssignedTo>,
    #[schema(value_type = Object)]
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
pub struct IncidentInfo {
    #[schema(pattern = "^[0-9a-f]{24}$")]
    #[schema(value_type = String)]
    pub incident_id: IncidentId,
}

#[utoipa::path(post, path = "/incident/info", tag = TAG_INCIDENTS, request_body = IncidentInfo,
    responses((status = 200, body = Envelope<IncidentView>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_info(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<IncidentInfo>,
) -> ApiResult<IncidentView> {
    let id = incident_id("incident_id", &req.incident_id)?;
    ok(existing(&app, &id).await?.view(&app.render))
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
    pub progress: Option<String>,
    /// `Critical`, `Warning`, `Info`, or several separated by commas.
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

fn split_enum<T>(
    field: &str,
    s: &str,
    parse: impl Fn(&str) -> Option<T>,
    allowed: &str,
) -> Result<Vec<T>, ApiError> {
    s.split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(|v| {
            parse(v)
                .ok_or_else(|| ApiError::invalid(field, format!("{v:?} is not one of {allowed}")))
        })
        .collect()
}

#[utoipa::path(post, path = "/incident/list", tag = TAG_INCIDENTS, request_body = IncidentList,
    responses((status = 200, body = Envelope<ListData<IncidentView>>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_list(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<IncidentList>,
) -> ApiResult<ListData<IncidentView>> {
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
        progress: split_enum(
            "progress",
            req.progress.as_deref().unwrap_or(""),
            Progress::parse,
            "Triggered, Processing, Closed",
        )?,
        severities: split_enum(
            "incident_severity",
            req.incident_severity.as_deref().unwrap_or(""),
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
    ok(ListData::from(listing, page, |i| i.view(&app.render)))
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

#[derive(Serialize, ToSchema)]
pub struct IncidentItems {
    pub items: Vec<IncidentView>,
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
                found.push(inc.view(&app.render));
            }
        }
    }
    ok(IncidentItems { items: found })
}
