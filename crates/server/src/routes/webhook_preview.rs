//! Seeing what a webhook sends before it sends it: a template (a saved
//! webhook's, one being written, or a preset's) rendered over a recorded
//! event or a sample one, by the renderer every push uses, with the headers
//! of the push (secrets and the signature masked). Nothing is sent.

use axum::extract::State;
use dutyhook_delivery::invoker::render_body;
use dutyhook_delivery::push::shown_headers;
use dutyhook_domain::chat_presets::ChatPreset;
use dutyhook_domain::endpoint_auth::EndpointAuth;
use dutyhook_domain::event::EventType;
use dutyhook_domain::headers::{Header, MASK};
use dutyhook_domain::ids::{EventId, IncidentId, IntegrationId};
use dutyhook_domain::integration::IntegrationKind;
use dutyhook_domain::template::Template;
use dutyhook_domain::webhook::WebhookKind;
use dutyhook_store::StoredEvent;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::alert_reads::alert_id;
use super::incidents::{existing, incident_id};
use super::integration::{load, TAG_WEBHOOKS};
use super::samples::{alert_event, event_type_for, sample_event};
use super::webhooks::config_of;
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(webhook_preview))
}

#[derive(Deserialize, ToSchema)]
pub struct WebhookPreview {
    /// A saved webhook: its template, headers and kind …
    #[schema(value_type = Option<i64>)]
    pub integration_id: Option<IntegrationId>,
    /// … or a template being written (a JSON document as text; "" for none) …
    pub body_template: Option<String>,
    /// … or a chat preset's.
    pub preset: Option<ChatPreset>,
    /// With `body_template` or `preset`: `incident` (default) or `alert`.
    pub kind: Option<WebhookKind>,
    /// A recorded event to render the template over …
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{32}$")]
    pub event_id: Option<EventId>,
    /// … or an event of this type (default `i_new` or `a_new`) about …
    pub event_type: Option<EventType>,
    /// … this incident as it is now …
    #[schema(value_type = Option<String>, pattern = "^[0-9a-f]{24}$")]
    pub incident_id: Option<IncidentId>,
    /// … or this alert, or else a sample one.
    #[schema(pattern = "^[0-9a-f]{24}$")]
    pub alert_id: Option<String>,
}

/// A header as sent or received.
#[derive(Serialize, ToSchema)]
pub struct ShownHeader {
    pub key: String,
    pub value: String,
}

#[derive(Serialize, ToSchema)]
pub struct Preview {
    /// The event rendered over (a sample's id is made up).
    pub event_id: String,
    pub event_type: EventType,
    /// The body as it would be sent, to the byte.
    pub body: String,
    /// The headers it would carry; secret values and the signature masked.
    pub headers: Vec<ShownHeader>,
}

/// What the template, headers and kind come from.
struct Source {
    template: Option<Template>,
    headers: Vec<Header>,
    auth: EndpointAuth,
    kind: WebhookKind,
}

/// What a webhook would send for an event, without sending anything.
#[utoipa::path(post, path = "/integration/webhook/preview", tag = TAG_WEBHOOKS, request_body = WebhookPreview,
    responses((status = 200, body = Envelope<Preview>), (status = "4XX", body = ErrorEnvelope)))]
async fn webhook_preview(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<WebhookPreview>,
) -> ApiResult<Preview> {
    let source = source_of(&app, &req).await?;
    let event = event_of(&app, &req, source.kind, &caller).await?;
    let body = render_body(source.template.as_ref(), &event.payload);
    let timestamp = app.clock.now_ms().div_euclid(1000);
    let headers = shown_headers(
        &source.headers,
        &source.auth,
        event.event_id.as_str(),
        timestamp,
        MASK,
    );
    ok(Preview {
        event_id: event.event_id.to_string(),
        event_type: event.event_type,
        body: String::from_utf8_lossy(&body).into_owned(),
        headers: headers
            .into_iter()
            .map(|h| ShownHeader {
                key: h.key.to_string(),
                value: h.value.into_owned(),
            })
            .collect(),
    })
}

async fn source_of(app: &AppState, req: &WebhookPreview) -> Result<Source, ApiError> {
    let given = [
        req.integration_id.is_some(),
        req.body_template.is_some(),
        req.preset.is_some(),
    ];
    if given.iter().filter(|g| **g).count() != 1 {
        return Err(ApiError::invalid(
            "body_template",
            "give one of integration_id, body_template or preset",
        ));
    }
    let kind = req.kind.unwrap_or(WebhookKind::Incident);
    if let Some(id) = req.integration_id {
        if req.kind.is_some() {
            return Err(ApiError::invalid("kind", "is the webhook's own"));
        }
        let cfg = config_of(&load(app, id, &IntegrationKind::WEBHOOKS).await?)?;
        return Ok(Source {
            template: cfg.template(),
            headers: cfg.headers,
            auth: cfg.auth,
            kind: cfg.kind,
        });
    }
    let template = match (&req.body_template, req.preset) {
        // As a webhook saves it: "" is no template, the event as it is.
        (Some(text), _) if text.trim().is_empty() => None,
        (Some(text), _) => Some(Template::parse(text)?),
        (None, Some(p)) => Some(Template::parse(p.template())?),
        (None, None) => None,
    };
    Ok(Source {
        template,
        headers: vec![],
        auth: EndpointAuth::default(),
        kind,
    })
}

async fn event_of(
    app: &AppState,
    req: &WebhookPreview,
    kind: WebhookKind,
    caller: &Caller,
) -> Result<StoredEvent, ApiError> {
    if let Some(id) = &req.event_id {
        if req.event_type.is_some() || req.incident_id.is_some() || req.alert_id.is_some() {
            return Err(ApiError::invalid(
                "event_id",
                "names the event: leave out event_type, incident_id and alert_id",
            ));
        }
        return app
            .store
            .event(id)
            .await?
            .ok_or_else(|| ApiError::ResourceNotFound(format!("event {id} does not exist")));
    }
    let incident_kind = kind == WebhookKind::Incident;
    let event_type = event_type_for(kind, req.event_type)?;
    if let Some(id) = &req.alert_id {
        if incident_kind {
            return Err(ApiError::invalid("alert_id", "goes with alert webhooks"));
        }
        let id = alert_id("alert_id", id)?;
        let alert = app
            .store
            .alert(&id)
            .await?
            .ok_or_else(|| ApiError::ResourceNotFound(format!("alert {id} does not exist")))?;
        return Ok(alert_event(app, event_type, &alert, &caller.person));
    }
    let incident = match &req.incident_id {
        Some(_) if !incident_kind => {
            return Err(ApiError::invalid(
                "incident_id",
                "goes with incident webhooks",
            ))
        }
        Some(id) => Some(existing(app, &incident_id("incident_id", id)?).await?),
        None => None,
    };
    Ok(sample_event(
        app,
        event_type,
        incident.as_ref(),
        &caller.person,
    ))
}
