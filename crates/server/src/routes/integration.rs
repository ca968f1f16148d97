//! What the integration routes share: loading an integration of a kind,
//! who may manage it, checking the team and channels it names, and the
//! answer of a push made while the caller waits.

use std::time::Duration;

use dutyhook_delivery::clients::check_tls_material;
use dutyhook_delivery::outbound::check_endpoint;
use dutyhook_delivery::push::PushResult;
use dutyhook_delivery::signature::new_secret;
use dutyhook_domain::endpoint_auth::{AuthType, EndpointAuth};
use dutyhook_domain::ids::{ChannelId, EventId, IntegrationId};
use dutyhook_domain::integration::IntegrationKind;
use dutyhook_domain::person::Role;
use dutyhook_store::{IntegrationRecord, StoredEvent};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::positive_id;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub const TAG_WEBHOOKS: &str = "Webhooks, custom actions, history";

pub const SECRET_OVERLAP: Duration = Duration::from_secs(24 * 3600);

#[derive(Deserialize, ToSchema)]
#[schema(as = IntegrationId)]
pub struct IntegrationIdBody {
    #[schema(value_type = i64)]
    pub integration_id: IntegrationId,
}

#[derive(Serialize, ToSchema)]
pub struct SigningSecret {
    pub signing_secret: String,
}

/// Gives an integration a new signing secret. The old one keeps signing
/// beside it for `SECRET_OVERLAP`, so receivers can switch without a gap.
pub async fn rotate_secret(
    app: &AppState,
    caller: &Caller,
    r: &IntegrationRecord,
) -> Result<SigningSecret, ApiError> {
    may_manage(app, caller, r.team_id).await?;
    let secret = new_secret();
    let until = app.clock.now_ms() + SECRET_OVERLAP.as_millis() as i64;
    app.store
        .rotate_secret(r.integration_id, &secret, until)
        .await?;
    Ok(SigningSecret {
        signing_secret: secret,
    })
}

/// An integration whose settings are not of its kind: the store decodes
/// them by kind, so this is a bug.
pub fn wrong_settings(r: &IntegrationRecord) -> ApiError {
    ApiError::Internal(format!(
        "integration {} ({}) has settings of another kind",
        r.integration_id,
        r.kind.as_str()
    ))
}

/// Admins, and members when the integration has no managing team or they belong to it.
pub async fn may_manage(app: &AppState, caller: &Caller, team_id: i64) -> Result<(), ApiError> {
    match caller.role {
        Role::Admin => Ok(()),
        Role::Viewer => Err(ApiError::AccessDenied(
            "viewers may only read integrations".into(),
        )),
        Role::Member if team_id == 0 => Ok(()),
        Role::Member => {
            let team = app.store.team(team_id).await?;
            if team.is_some_and(|t| t.person_ids.contains(&caller.person.person_id)) {
                Ok(())
            } else {
                Err(ApiError::AccessDenied(format!(
                    "only members of team {team_id} and admins may change this integration"
                )))
            }
        }
    }
}

pub async fn load(
    app: &AppState,
    id: IntegrationId,
    kinds: &[IntegrationKind],
) -> Result<IntegrationRecord, ApiError> {
    load_kind(app, "integration_id", id, kinds, "integration").await
}

/// The integration `id` (given as `field`) if it is of one of `kinds`;
/// otherwise `ResourceNotFound`, calling it a `noun`.
pub async fn load_kind(
    app: &AppState,
    field: &str,
    id: IntegrationId,
    kinds: &[IntegrationKind],
    noun: &str,
) -> Result<IntegrationRecord, ApiError> {
    let id = positive_id(field, id)?;
    match app.store.integration(id).await? {
        Some(r) if kinds.contains(&r.kind) => Ok(r),
        _ => Err(ApiError::ResourceNotFound(format!(
            "{noun} {id} does not exist"
        ))),
    }
}

/// A managing team must exist (0 = none).
pub async fn check_team(app: &AppState, team_id: i64) -> Result<(), ApiError> {
    if team_id != 0
        && app
            .store
            .team(positive_id("team_id", team_id)?)
            .await?
            .is_none()
    {
        return Err(ApiError::ResourceNotFound(format!(
            "team {team_id} does not exist"
        )));
    }
    Ok(())
}

/// Every channel listed must exist.
pub async fn check_channels(app: &AppState, ids: &[ChannelId]) -> Result<(), ApiError> {
    for id in ids {
        if app
            .store
            .channel(positive_id("channel_ids", *id)?)
            .await?
            .is_none()
        {
            return Err(ApiError::ResourceNotFound(format!(
                "channel {id} does not exist"
            )));
        }
    }
    Ok(())
}

/// The answer of a synchronous push (`custom-actions.md`, "Triggering").
#[derive(Serialize, Deserialize, ToSchema, Default)]
pub struct PushOutcome {
    pub success: bool,
    pub status_code: i64,
    pub duration_ms: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_class: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The first 4 KiB of the endpoint's answer, as text.
    pub response_body: String,
    pub invocation_id: String,
    #[schema(value_type = String)]
    pub event_id: EventId,
}

impl PushOutcome {
    pub fn new(
        res: &PushResult,
        invocation_id: String,
        event_id: EventId,
        duration_ms: i64,
    ) -> Self {
        PushOutcome {
            success: res.success,
            status_code: res.status as i64,
            duration_ms,
            error_class: res.class.map(|c| c.as_str().to_string()),
            error: (!res.success).then(|| res.error.clone()),
            response_body: first_4k(&res.response_body),
            invocation_id,
            event_id,
        }
    }
}

fn first_4k(s: &str) -> String {
    let mut end = s.len().min(4096);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_string()
}

/// What only delivery can check of an endpoint's `auth`: its certificates
/// and key load, and its token URL passes the outbound policy.
pub fn check_auth(app: &AppState, auth: &EndpointAuth) -> Result<(), ApiError> {
    check_tls_material(auth).map_err(|(field, why)| ApiError::invalid(field, why))?;
    if auth.kind == AuthType::Oauth2ClientCredentials {
        check_endpoint(&auth.token_url, &app.outbound)
            .map_err(|e| ApiError::invalid("auth.token_url", e))?;
    }
    Ok(())
}

pub fn stored(event: dutyhook_domain::event::NewEvent) -> StoredEvent {
    StoredEvent {
        seq: 0,
        event_id: event.event_id,
        event_type: event.event_type,
        subject_kind: event.subject_kind,
        subject_id: event.subject_id,
        event_time: event.event_time_ms,
        payload: event.payload,
    }
}
