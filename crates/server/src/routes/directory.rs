//! People, teams and app keys.

use axum::extract::State;
use dutyhook_domain::ids::PersonId;
use dutyhook_domain::person::{validate_email, validate_person_name, Role};
use dutyhook_store::{AppKeyRecord, NewPerson, PersonRecord, TeamRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::choices::blank_is_none;
use super::{positive_id, ListData, Paging, TAG_PEOPLE};
use crate::auth::{hash_key, key_hint, new_app_key, Caller};
use crate::envelope::{ok, ApiJson, ApiResult, Empty, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(person_create))
        .routes(routes!(person_list))
        .routes(routes!(person_info))
        .routes(routes!(team_create))
        .routes(routes!(team_update))
        .routes(routes!(team_list))
        .routes(routes!(app_key_create))
        .routes(routes!(app_key_list))
        .routes(routes!(app_key_delete))
}

#[derive(Serialize, ToSchema)]
pub struct PersonView {
    #[schema(value_type = i64)]
    pub person_id: PersonId,
    pub person_name: String,
    pub email: String,
    pub role: Role,
    pub created_at: i64,
    /// false: deactivated.
    pub active: bool,
    /// true: this person gets no notification mails.
    pub mail_off: bool,
}

impl From<PersonRecord> for PersonView {
    fn from(p: PersonRecord) -> Self {
        PersonView {
            person_id: p.person.person_id,
            person_name: p.person.person_name,
            email: p.person.email,
            role: p.role,
            created_at: p.created_at,
            active: p.active,
            mail_off: p.mail_off,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct PersonCreate {
    pub person_name: String,
    pub email: String,
    /// `admin`, `member` (default) or `viewer`.
    #[serde(default, deserialize_with = "blank_is_none")]
    pub role: Option<Role>,
}

#[derive(Serialize, ToSchema)]
#[schema(as = PersonId)]
pub struct PersonIdBody {
    #[schema(value_type = i64)]
    pub person_id: PersonId,
}

/// A person without console password (set later by the console's own flow).
pub fn unusable_password() -> String {
    String::new()
}

#[utoipa::path(post, path = "/person/create", tag = TAG_PEOPLE, request_body = PersonCreate,
    responses((status = 200, body = Envelope<PersonIdBody>), (status = "4XX", body = ErrorEnvelope)))]
async fn person_create(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<PersonCreate>,
) -> ApiResult<PersonIdBody> {
    caller.require_admin()?;
    let name = validate_person_name(&req.person_name)?;
    let email = validate_email(&req.email)?;
    let role = req.role.unwrap_or(Role::Member);
    let p = app
        .store
        .create_person(NewPerson {
            name,
            email,
            role,
            password_hash: unusable_password(),
        })
        .await?;
    ok(PersonIdBody {
        person_id: p.person.person_id,
    })
}

#[utoipa::path(post, path = "/person/list", tag = TAG_PEOPLE, request_body = Paging,
    responses((status = 200, body = Envelope<ListData<PersonView>>), (status = "4XX", body = ErrorEnvelope)))]
async fn person_list(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<Paging>,
) -> ApiResult<ListData<PersonView>> {
    let page = req.page()?;
    let listing = app.store.list_people(page).await?;
    ok(ListData::from(listing, page, PersonView::from))
}

#[derive(Deserialize, ToSchema)]
pub struct PersonInfo {
    #[schema(value_type = i64)]
    pub person_id: PersonId,
}

#[utoipa::path(post, path = "/person/info", tag = TAG_PEOPLE, request_body = PersonInfo,
    responses((status = 200, body = Envelope<PersonView>), (status = "4XX", body = ErrorEnvelope)))]
async fn person_info(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<PersonInfo>,
) -> ApiResult<PersonView> {
    let id = positive_id("person_id", req.person_id)?;
    match app.store.person(id).await? {
        Some(p) => ok(p.into()),
        None => Err(ApiError::ResourceNotFound(format!(
            "person {id} does not exist"
        ))),
    }
}

#[derive(Serialize, ToSchema)]
pub struct TeamView {
    pub team_id: i64,
    pub team_name: String,
    #[schema(value_type = Vec<i64>)]
    pub person_ids: Vec<PersonId>,
    pub created_at: i64,
}

impl From<TeamRecord> for TeamView {
    fn from(t: TeamRecord) -> Self {
        TeamView {
            team_id: t.team_id,
            team_name: t.team_name,
            person_ids: t.person_ids,
            created_at: t.created_at,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct TeamWrite {
    /// Required to update; absent to create.
    pub team_id: Option<i64>,
    pub team_name: Option<String>,
    #[schema(value_type = Option<Vec<i64>>)]
    pub person_ids: Option<Vec<PersonId>>,
}

#[derive(Serialize, ToSchema)]
pub struct TeamId {
    pub team_id: i64,
}

fn team_name(name: &str) -> Result<String, ApiError> {
    let n = name.trim();
    if n.is_empty() || n.chars().count() > 100 {
        return Err(ApiError::invalid(
            "team_name",
            "must be 1 to 100 characters",
        ));
    }
    Ok(n.to_string())
}

fn member_ids(ids: &[PersonId]) -> Result<Vec<PersonId>, ApiError> {
    if ids.len() > 500 {
        return Err(ApiError::invalid(
            "person_ids",
            "a team has at most 500 members",
        ));
    }
    let mut out: Vec<PersonId> = vec![];
    for id in ids {
        positive_id("person_ids", *id)?;
        if !out.contains(id) {
            out.push(*id);
        }
    }
    Ok(out)
}

#[utoipa::path(post, path = "/team/create", tag = TAG_PEOPLE, request_body = TeamWrite,
    responses((status = 200, body = Envelope<TeamId>), (status = "4XX", body = ErrorEnvelope)))]
async fn team_create(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<TeamWrite>,
) -> ApiResult<TeamId> {
    caller.require_admin()?;
    let name = team_name(
        req.team_name
            .as_deref()
            .ok_or_else(|| ApiError::invalid("team_name", "is required"))?,
    )?;
    let members = member_ids(req.person_ids.as_deref().unwrap_or_default())?;
    let team_id = app.store.create_team(&name, &members).await?;
    ok(TeamId { team_id })
}

#[utoipa::path(post, path = "/team/update", tag = TAG_PEOPLE, request_body = TeamWrite,
    responses((status = 200, body = Envelope<TeamId>), (status = "4XX", body = ErrorEnvelope)))]
async fn team_update(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<TeamWrite>,
) -> ApiResult<TeamId> {
    caller.require_admin()?;
    let team_id = positive_id(
        "team_id",
        req.team_id
            .ok_or_else(|| ApiError::invalid("team_id", "is required"))?,
    )?;
    let name = req.team_name.as_deref().map(team_name).transpose()?;
    let members = req.person_ids.as_deref().map(member_ids).transpose()?;
    app.store
        .update_team(team_id, name.as_deref(), members.as_deref())
        .await?;
    ok(TeamId { team_id })
}

#[utoipa::path(post, path = "/team/list", tag = TAG_PEOPLE, request_body = Paging,
    responses((status = 200, body = Envelope<ListData<TeamView>>), (status = "4XX", body = ErrorEnvelope)))]
async fn team_list(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<Paging>,
) -> ApiResult<ListData<TeamView>> {
    let page = req.page()?;
    let listing = app.store.list_teams(page).await?;
    ok(ListData::from(listing, page, TeamView::from))
}

#[derive(Deserialize, ToSchema)]
pub struct AppKeyCreate {
    pub name: String,
    /// Whose key; defaults to the caller. Only admins may create keys for others.
    #[schema(value_type = Option<i64>)]
    pub person_id: Option<PersonId>,
}

#[derive(Serialize, ToSchema)]
pub struct AppKeyCreated {
    pub app_key_id: i64,
    /// Shown only here, never again.
    pub app_key: String,
}

#[derive(Serialize, ToSchema)]
pub struct AppKeyView {
    pub app_key_id: i64,
    pub name: String,
    #[schema(value_type = i64)]
    pub person_id: PersonId,
    /// The first characters of the key.
    pub key_hint: String,
    pub created_at: i64,
}

impl From<AppKeyRecord> for AppKeyView {
    fn from(k: AppKeyRecord) -> Self {
        AppKeyView {
            app_key_id: k.app_key_id,
            name: k.name,
            person_id: k.person_id,
            key_hint: k.key_hint,
            created_at: k.created_at,
        }
    }
}

/// Creates a key for a person and answers it in clear, once.
pub async fn issue_key(
    app: &AppState,
    person_id: PersonId,
    name: &str,
) -> Result<AppKeyCreated, ApiError> {
    let key = new_app_key();
    let app_key_id = app
        .store
        .create_app_key(
            person_id,
            name,
            &hash_key(&app.key_secret, &key),
            &key_hint(&key),
        )
        .await?;
    Ok(AppKeyCreated {
        app_key_id,
        app_key: key,
    })
}

#[utoipa::path(post, path = "/app-key/create", tag = TAG_PEOPLE, request_body = AppKeyCreate,
    responses((status = 200, body = Envelope<AppKeyCreated>), (status = "4XX", body = ErrorEnvelope)))]
async fn app_key_create(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<AppKeyCreate>,
) -> ApiResult<AppKeyCreated> {
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(ApiError::invalid("name", "must be 1 to 64 characters"));
    }
    let person_id = req.person_id.unwrap_or(caller.person.person_id);
    if person_id != caller.person.person_id {
        caller.require_admin()?;
        positive_id("person_id", person_id)?;
        if app.store.person(person_id).await?.is_none() {
            return Err(ApiError::ResourceNotFound(format!(
                "person {person_id} does not exist"
            )));
        }
    }
    ok(issue_key(&app, person_id, name).await?)
}

#[utoipa::path(post, path = "/app-key/list", tag = TAG_PEOPLE, request_body = Paging,
    responses((status = 200, body = Envelope<ListData<AppKeyView>>), (status = "4XX", body = ErrorEnvelope)))]
async fn app_key_list(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<Paging>,
) -> ApiResult<ListData<AppKeyView>> {
    let page = req.page()?;
    let only = (caller.role != Role::Admin).then_some(caller.person.person_id);
    let listing = app.store.list_app_keys(only, page).await?;
    ok(ListData::from(listing, page, AppKeyView::from))
}

#[derive(Deserialize, ToSchema)]
pub struct AppKeyDelete {
    pub app_key_id: i64,
}

#[utoipa::path(post, path = "/app-key/delete", tag = TAG_PEOPLE, request_body = AppKeyDelete,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn app_key_delete(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<AppKeyDelete>,
) -> ApiResult<Empty> {
    let id = positive_id("app_key_id", req.app_key_id)?;
    let key = app
        .store
        .app_key(id)
        .await?
        .ok_or_else(|| ApiError::ResourceNotFound(format!("app key {id} does not exist")))?;
    if key.person_id != caller.person.person_id {
        caller.require_admin()?;
    }
    app.store.delete_app_key(id).await?;
    ok(Empty {})
}
