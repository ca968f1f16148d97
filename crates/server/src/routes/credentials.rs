//! How a person gets and changes a console password (`open-api.md`,
//! "Accounts"): an admin makes a one-time invitation link (also the way to
//! reset a forgotten password), which the person opens to set one; anyone
//! changes their own with the current one, which ends their other sessions.

use axum::extract::{ConnectInfo, State};
use axum::http::HeaderMap;
use axum_extra::extract::cookie::CookieJar;
use dutyhook_domain::person::validate_password;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::directory::PersonInfo;
use super::{positive_id, TAG_PEOPLE};
use crate::auth::Caller;
use crate::console::session;
use crate::envelope::{ok, ApiJson, ApiResult, Empty, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::listener::ClientAddr;
use crate::sign_in::{sign_in, SignIn};
use crate::state::AppState;

pub const INVITE_LIFETIME_S: i64 = 7 * 86400;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(person_invite))
        .routes(routes!(password_change))
}

#[derive(Serialize, ToSchema)]
pub struct Invitation {
    /// Opening it lets the person set a password, once. Shown only here:
    /// hand it over yourself.
    pub invite_url: String,
    /// When the link stops working (s).
    pub expires_at: i64,
}

/// A one-time link, valid 7 days, that lets an active person set their
/// console password; also how a forgotten one is reset (the old password
/// works until the new one is set). A new invitation voids the previous.
#[utoipa::path(post, path = "/person/invite", tag = TAG_PEOPLE, request_body = PersonInfo,
    responses((status = 200, body = Envelope<Invitation>), (status = "4XX", body = ErrorEnvelope)))]
async fn person_invite(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<PersonInfo>,
) -> ApiResult<Invitation> {
    caller.require_admin()?;
    let id = positive_id("person_id", req.person_id)?;
    let person = app
        .store
        .person(id)
        .await?
        .ok_or_else(|| ApiError::ResourceNotFound(format!("person {id} does not exist")))?;
    if !person.active {
        return Err(ApiError::invalid(
            "person_id",
            format!("person {id} is deactivated: reactivate them first"),
        ));
    }
    let token = session::new_token();
    let now = app.clock.now_ms() / 1000;
    let expires_at = now + INVITE_LIFETIME_S;
    let hash = session::invite_hash(&app.key_secret, &token);
    app.store.replace_invite(id, &hash, now, expires_at).await?;
    tracing::info!(
        person_id = id.get(),
        by = caller.person.person_id.get(),
        "invitation made"
    );
    ok(Invitation {
        invite_url: format!("{}/console/invite?token={token}", app.render.public_url),
        expires_at,
    })
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordChange {
    pub current_password: String,
    /// 10 to 256 characters.
    pub new_password: String,
}

/// Changes the caller's own console password. Wrong current passwords count
/// as failed sign-ins (and are throttled as they are). Every other session
/// of the caller ends; the console session that asked stays.
#[utoipa::path(post, path = "/person/password/change", tag = TAG_PEOPLE, request_body = PasswordChange,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn password_change(
    State(app): State<AppState>,
    ConnectInfo(ClientAddr(peer)): ConnectInfo<ClientAddr>,
    headers: HeaderMap,
    caller: Caller,
    ApiJson(req): ApiJson<PasswordChange>,
) -> ApiResult<Empty> {
    validate_password("new_password", &req.new_password)?;
    let client = crate::forwarded::client_ip(peer.ip(), &headers, &app.trusted_proxies);
    match sign_in(&app, &caller.person.email, &req.current_password, client).await? {
        SignIn::Welcome(_) => {}
        SignIn::Refused => {
            return Err(ApiError::invalid(
                "current_password",
                "is not your password",
            ))
        }
        SignIn::Throttled { retry_at } => {
            return Err(ApiError::TooFrequent(format!(
                "too many wrong passwords: try again after {retry_at} (s)"
            )))
        }
    }
    let keep = CookieJar::from_headers(&headers)
        .get(session::COOKIE)
        .map(|c| session::token_hash(&app.key_secret, c.value()));
    let hash = app.passwords.hash(&req.new_password).await?;
    app.store
        .change_password(caller.person.person_id, &hash, keep.as_deref())
        .await?;
    tracing::info!(
        person_id = caller.person.person_id.get(),
        "password changed"
    );
    ok(Empty {})
}
