//! People after their creation (`open-api.md`, "Accounts"): admins edit
//! anyone's name, email and role, anyone their own name; admins deactivate
//! a person (no sign-in, keys deleted, sessions ended, history kept) and
//! reactivate them. Anyone may turn their own notification mails off.

use axum::extract::State;
use dutyhook_domain::ids::PersonId;
use dutyhook_domain::person::{validate_email, validate_person_name, Role};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::choices::blank_is_none;
use super::directory::PersonInfo;
use super::{positive_id, TAG_PEOPLE};
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Empty, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(person_update))
        .routes(routes!(person_deactivate))
        .routes(routes!(person_reactivate))
}

#[derive(Deserialize, ToSchema)]
pub struct PersonUpdate {
    #[schema(value_type = i64)]
    pub person_id: PersonId,
    pub person_name: Option<String>,
    /// Admins only.
    pub email: Option<String>,
    /// Admins only, and not their own.
    #[serde(default, deserialize_with = "blank_is_none")]
    pub role: Option<Role>,
    /// true: no notification mails for this person (assignments, team
    /// mails, re-notify rounds).
    pub mail_off: Option<bool>,
}

#[utoipa::path(post, path = "/person/update", tag = TAG_PEOPLE, request_body = PersonUpdate,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn person_update(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<PersonUpdate>,
) -> ApiResult<Empty> {
    let id = positive_id("person_id", req.person_id)?;
    let oneself = id == caller.person.person_id;
    if !oneself || req.email.is_some() || req.role.is_some() {
        caller.require_admin()?;
    }
    if oneself && req.role.is_some_and(|r| r != caller.role) {
        return Err(ApiError::invalid(
            "role",
            "cannot change your own role: ask another admin",
        ));
    }
    let p = app
        .store
        .person(id)
        .await?
        .ok_or_else(|| ApiError::ResourceNotFound(format!("person {id} does not exist")))?;
    let name = match &req.person_name {
        Some(n) => validate_person_name(n)?,
        None => p.person.person_name,
    };
    let email = match &req.email {
        Some(e) => validate_email(e)?,
        None => p.person.email,
    };
    let role = req.role.unwrap_or(p.role);
    app.store.update_person(id, &name, &email, role).await?;
    if let Some(off) = req.mail_off.filter(|off| *off != p.mail_off) {
        app.store.set_mail_off(id, off).await?;
    }
    ok(Empty {})
}

async fn set_active(
    app: &AppState,
    caller: &Caller,
    req: PersonInfo,
    active: bool,
) -> ApiResult<Empty> {
    caller.require_admin()?;
    let id = positive_id("person_id", req.person_id)?;
    if id == caller.person.person_id {
        return Err(ApiError::invalid(
            "person_id",
            "is you: another admin may deactivate or reactivate you",
        ));
    }
    app.store.set_person_active(id, active).await?;
    ok(Empty {})
}

/// The person can no longer sign in; their app keys are deleted and their
/// sessions end; what they did stays.
#[utoipa::path(post, path = "/person/deactivate", tag = TAG_PEOPLE, request_body = PersonInfo,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn person_deactivate(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<PersonInfo>,
) -> ApiResult<Empty> {
    set_active(&app, &caller, req, false).await
}

/// The person may sign in again (new app keys are made for them as for anyone).
#[utoipa::path(post, path = "/person/reactivate", tag = TAG_PEOPLE, request_body = PersonInfo,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn person_reactivate(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<PersonInfo>,
) -> ApiResult<Empty> {
    set_active(&app, &caller, req, true).await
}
