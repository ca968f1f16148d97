//! The e-mail integration (`/integration/email/*`): whether mail goes out,
//! through which server, how it is doing, and a test mail to oneself.

use axum::extract::State;
use dutyhook_delivery::mail::render::compose;
use dutyhook_domain::event::EventType;
use dutyhook_domain::ids::IntegrationId;
use dutyhook_domain::notify::{Occasion, Recipient};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::integration::TAG_WEBHOOKS;
use super::integration_health::{health_of, IntegrationHealth};
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Empty, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(email_info))
        .routes(routes!(email_test))
}

#[derive(Serialize, ToSchema)]
pub struct EmailInfo {
    /// Whether this process has an SMTP server (`smtp.url`).
    pub configured: bool,
    /// The server, without credentials; empty when not configured.
    pub smtp_server: String,
    pub from: String,
    /// The e-mail integration whose history (`/integration/history/list`)
    /// holds every mail; 0 until an SMTP server was first configured.
    #[schema(value_type = i64)]
    pub integration_id: IntegrationId,
    pub enabled: bool,
    pub disabled_reason: String,
    pub health: Option<IntegrationHealth>,
}

/// Whether notification mails go out, and how they have been doing.
#[utoipa::path(post, path = "/integration/email/info", tag = TAG_WEBHOOKS, request_body = Empty,
    responses((status = 200, body = Envelope<EmailInfo>), (status = "4XX", body = ErrorEnvelope)))]
async fn email_info(
    State(app): State<AppState>,
    _caller: Caller,
    _body: ApiJson<serde::de::IgnoredAny>,
) -> ApiResult<EmailInfo> {
    let found = app.store.find_mail_integration().await?;
    let health = match &found {
        Some(r) => Some(health_of(&app, r).await?),
        None => None,
    };
    ok(EmailInfo {
        configured: app.mailer.is_some(),
        smtp_server: app
            .mailer
            .as_ref()
            .map(|m| m.server().to_string())
            .unwrap_or_default(),
        from: app.mailer.as_ref().map(|m| m.from()).unwrap_or_default(),
        integration_id: found
            .as_ref()
            .map_or(IntegrationId(0), |r| r.integration_id),
        enabled: found.as_ref().is_some_and(|r| r.enabled),
        disabled_reason: found.map(|r| r.disabled_reason).unwrap_or_default(),
        health,
    })
}

#[derive(Serialize, ToSchema)]
pub struct EmailTested {
    pub success: bool,
    /// The SMTP server's reply code; 0 when it never answered.
    pub smtp_code: i64,
    pub error_class: String,
    pub error: String,
    pub duration_ms: i64,
    pub to: String,
}

/// Sends a test mail to the caller at once (not queued, not in the
/// history), to check the SMTP settings.
#[utoipa::path(post, path = "/integration/email/test", tag = TAG_WEBHOOKS, request_body = Empty,
    responses((status = 200, body = Envelope<EmailTested>), (status = "4XX", body = ErrorEnvelope)))]
async fn email_test(
    State(app): State<AppState>,
    caller: Caller,
    _body: ApiJson<serde::de::IgnoredAny>,
) -> ApiResult<EmailTested> {
    let mailer = app.mailer.clone().ok_or_else(|| {
        ApiError::invalid(
            "smtp.url",
            "no SMTP server is configured: set smtp.url and smtp.from (see docs/notifications.md)",
        )
    })?;
    let me = &caller.person;
    if me.email.is_empty() {
        return Err(ApiError::invalid(
            "email",
            "you have no e-mail address to send the test to",
        ));
    }
    let payload = json!({
        "event_type": EventType::i_new.as_str(),
        "incident": {
            "title": "Test mail from dutyhook",
            "incident_severity": "Info",
            "num": "TEST",
            "progress": "Triggered",
            "detail_url": format!("{}/incidents", app.render.public_url),
            "labels": {},
        },
    });
    let mail = compose(Occasion::Event(EventType::i_new), &payload);
    let to = [Recipient {
        person_id: me.person_id,
        person_name: me.person_name.clone(),
        email: me.email.clone(),
    }];
    let sent = mailer
        .send(&to, &mail, std::time::Duration::from_secs(30))
        .await;
    ok(EmailTested {
        success: sent.success,
        smtp_code: sent.code as i64,
        error_class: sent
            .class
            .map(|c| c.as_str().to_string())
            .unwrap_or_default(),
        error: sent.error,
        duration_ms: sent.duration_ms,
        to: me.email.clone(),
    })
}
