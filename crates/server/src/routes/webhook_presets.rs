//! Chat presets, and seeing what a template sends before saving it: a
//! template (given, a preset's, or a webhook's) rendered over a recorded
//! event or a sample one, by the renderer every push uses.

use axum::extract::State;
use dutyhook_delivery::invoker::render_body;
use dutyhook_domain::chat_presets::ChatPreset;
use dutyhook_domain::event::EventType;
use dutyhook_domain::ids::{EventId, IncidentId, IntegrationId};
use dutyhook_domain::template::Template;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::incidents::{existing, incident_id};
use super::integration::{load, TAG_WEBHOOKS};
use super::webhooks::config_of;
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Empty, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(webhook_presets))
        .routes(routes!(webhook_preview))
}

#[derive(Serialize, ToSchema)]
pub struct PresetItem {
    pub preset: ChatPreset,
    pub service: &'static str,
    /// What `preset` fills `body_template` with.
    pub body_template: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct PresetItems {
    pub items: Vec<PresetItem>,
}

/// The chat presets an incident webhook may be created or updated with.
#[utoipa::path(post, path = "/integration/webhook/presets", tag = TAG_WEBHOOKS, request_body = Empty,
    responses((status = 200, body = Envelope<PresetItems>), (status = "4XX", body = ErrorEnvelope)))]
async fn webhook_presets(
    _caller: Caller,
    _body: ApiJson<serde::de::IgnoredAny>,
) -> ApiResult<PresetItems> {
    let items = ChatPreset::ALL.iter().map(|&p| PresetItem {
        preset: p,
        service: p.service(),
        body_template: p.template(),
    });
    ok(PresetItems {
        items: items.collect(),
    })
}

#[derive(Deserialize, ToSchema)]
pub struct WebhookPreview {
    /// The template to try (a JSON document as text; "" for none) …
    pub body_template: Option<String>,
    /// … or a preset's …
    pub preset: Option<ChatPreset>,
    /// … or a webhook's own (its payload when it has none).
    #[schema(value_type = Option<i64>)]
    pub integration_id: Option<IntegrationId>,
    /// A recorded event to render it over …
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{32}$")]
    pub event_id: Option<EventId>,
    /// … or a sample event of this type (default `i_new`) …
    pub event_type: Option<EventType>,
    /// … about this incident as it is now instead of a sample one.
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{24}$")]
    pub incident_id: Option<IncidentId>,
}

#[derive(Serialize, ToSchema)]
pub struct Preview {
    /// The event rendered over (a sample's id is made up).
    pub event_id: String,
    pub event_type: EventType,
    /// What the webhook would send, exactly.
    #[schema(value_type = serde_json::Value)]
    pub body: Value,
}

/// What a template sends for an event, without sending anything.
#[utoipa::path(post, path = "/integration/webhook/preview", tag = TAG_WEBHOOKS, request_body = WebhookPreview,
    responses((status = 200, body = Envelope<Preview>), (status = "4XX", body = ErrorEnvelope)))]
async fn webhook_preview(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<WebhookPreview>,
) -> ApiResult<Preview> {
    let template = template_of(&app, &req).await?;
    let event = match (&req.event_id, req.event_type) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "event_type",
                "give event_id or event_type, not both",
            ))
        }
        (Some(id), None) => app
            .store
            .event(id)
            .await?
            .ok_or_else(|| ApiError::ResourceNotFound(format!("event {id} does not exist")))?,
        (None, kind) => {
            let incident = match &req.incident_id {
                Some(id) => Some(existing(&app, &incident_id("incident_id", id)?).await?),
                None => None,
            };
            let kind = kind.unwrap_or(EventType::i_new);
            super::samples::sample_event(&app, kind, incident.as_ref(), &caller.person)
        }
    };
    let body = render_body(template.as_ref(), &event.payload);
    ok(Preview {
        event_id: event.event_id.to_string(),
        event_type: event.event_type,
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
    })
}

/// The one template the request names; `None` renders the payload as is.
async fn template_of(app: &AppState, req: &WebhookPreview) -> Result<Option<Template>, ApiError> {
    let given = [
        req.body_template.is_some(),
        req.preset.is_some(),
        req.integration_id.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(ApiError::invalid(
            "body_template",
            "give one of body_template, preset or integration_id",
        ));
    }
    if let Some(text) = &req.body_template {
        // As a webhook saves it: "" is no template, the event as it is.
        return match text.trim().is_empty() {
            true => Ok(None),
            false => Ok(Some(Template::parse(text)?)),
        };
    }
    if let Some(p) = req.preset {
        return Ok(Some(Template::parse(p.template())?));
    }
    let id = req.integration_id.expect("one of the three is given");
    let r = load(
        app,
        id,
        &dutyhook_domain::integration::IntegrationKind::WEBHOOKS,
    )
    .await?;
    Ok(config_of(&r)?.template())
}
