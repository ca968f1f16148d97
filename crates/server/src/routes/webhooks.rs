//! Incident and alert webhooks: configuration and secrets.

use axum::extract::State;
use dutyhook_delivery::outbound::check_endpoint;
use dutyhook_delivery::signature::{mask, new_secret};
use dutyhook_domain::chat_presets::ChatPreset;
use dutyhook_domain::endpoint_auth::EndpointAuth;
use dutyhook_domain::event::EventType;
use dutyhook_domain::headers::{masked, merge_masked, Header};
use dutyhook_domain::ids::{ChannelId, IntegrationId};
use dutyhook_domain::integration::{IntegrationConfig, IntegrationKind};
use dutyhook_domain::webhook::{RetryPolicy, WebhookConfig, WebhookKind, DEFAULT_TIMEOUT_MS};
use dutyhook_store::IntegrationRecord;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::integration::{
    check_auth, check_channels, check_team, load, may_manage, rotate_secret, wrong_settings,
    IntegrationIdBody, SigningSecret, TAG_WEBHOOKS,
};
use super::integration_health::{health_of, IntegrationHealth};
use super::{ListData, Paging};
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Empty, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(webhook_create))
        .routes(routes!(webhook_update))
        .routes(routes!(webhook_info))
        .routes(routes!(webhook_list))
        .routes(routes!(webhook_delete))
        .routes(routes!(webhook_enable))
        .routes(routes!(webhook_disable))
        .routes(routes!(webhook_rotate_secret))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct WebhookWrite {
    /// Required to update; absent to create.
    #[schema(value_type = Option<i64>)]
    pub integration_id: Option<IntegrationId>,
    /// `incident` or `alert`; required to create, fixed afterwards.
    pub kind: Option<WebhookKind>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub team_id: Option<i64>,
    pub endpoint: Option<String>,
    pub headers: Option<Vec<Header>>,
    /// How pushes authenticate besides the signature; secret values are
    /// write-only (`******` keeps the stored one).
    pub auth: Option<EndpointAuth>,
    pub tls_verify: Option<bool>,
    /// Absent (or null) = all channels.
    #[schema(value_type = Option<Vec<i64>>)]
    pub channel_ids: Option<Vec<ChannelId>>,
    /// Absent or empty = all event types of the kind.
    pub event_types: Option<Vec<EventType>>,
    /// A JSON document as text; "" removes the template.
    pub body_template: Option<String>,
    /// Fills `body_template` with a chat service's message format
    /// (incident webhooks; give one or the other).
    pub preset: Option<ChatPreset>,
    /// 100 to 30000, default 2000.
    #[schema(minimum = 100, maximum = 30000)]
    pub timeout_ms: Option<i64>,
    /// `backoff` (default), `once` or `none`.
    pub retry_policy: Option<RetryPolicy>,
    pub enabled: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookView {
    #[schema(value_type = i64)]
    pub integration_id: IntegrationId,
    pub kind: WebhookKind,
    pub name: String,
    pub description: String,
    pub team_id: i64,
    pub endpoint: String,
    /// Secret values shown as `******`.
    pub headers: Vec<Header>,
    /// Secret values shown as `******`; absent when none.
    #[serde(skip_serializing_if = "EndpointAuth::is_none")]
    pub auth: EndpointAuth,
    pub tls_verify: bool,
    #[schema(value_type = Option<Vec<i64>>)]
    pub channel_ids: Option<Vec<ChannelId>>,
    pub event_types: Vec<EventType>,
    pub body_template: Option<String>,
    pub timeout_ms: i64,
    pub retry_policy: RetryPolicy,
    pub enabled: bool,
    pub disabled_reason: String,
    /// How its pushes have been going.
    pub health: IntegrationHealth,
    /// Masked; shown in full only by create and rotate-secret.
    pub signing_secret: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct WebhookCreated {
    #[schema(value_type = i64)]
    pub integration_id: IntegrationId,
    pub signing_secret: String,
}

pub fn config_of(r: &IntegrationRecord) -> Result<WebhookConfig, ApiError> {
    r.config.webhook().cloned().ok_or_else(|| wrong_settings(r))
}

fn view(r: &IntegrationRecord, health: IntegrationHealth) -> Result<WebhookView, ApiError> {
    let c = config_of(r)?;
    Ok(WebhookView {
        integration_id: r.integration_id,
        kind: c.kind,
        name: r.name.clone(),
        description: c.description,
        team_id: r.team_id,
        endpoint: c.endpoint,
        headers: masked(&c.headers),
        auth: c.auth.masked(),
        tls_verify: c.tls_verify,
        channel_ids: c.channel_ids,
        event_types: c.event_types,
        body_template: c.body_template,
        timeout_ms: c.timeout_ms,
        retry_policy: c.retry_policy,
        enabled: r.enabled,
        disabled_reason: r.disabled_reason.clone(),
        health,
        signing_secret: mask(&r.secret),
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

pub(crate) const WEBHOOK_KINDS: [IntegrationKind; 2] = IntegrationKind::WEBHOOKS;

/// The template a preset stands for, on an incident webhook given no
/// template of its own.
fn preset_template(
    preset: ChatPreset,
    c: &WebhookConfig,
    body_template: &Option<String>,
) -> Result<String, ApiError> {
    if body_template.is_some() {
        return Err(ApiError::invalid(
            "preset",
            "fills body_template: give one or the other",
        ));
    }
    if c.kind != WebhookKind::Incident {
        return Err(ApiError::invalid(
            "preset",
            "chat presets are for incident webhooks",
        ));
    }
    Ok(preset.template().to_string())
}

/// Applies a write onto `c`, validating everything (endpoint against the outbound policy too).
async fn apply(
    app: &AppState,
    mut c: WebhookConfig,
    req: WebhookWrite,
) -> Result<WebhookConfig, ApiError> {
    if let Some(n) = req.name {
        c.name = n.trim().to_string();
    }
    if let Some(d) = req.description {
        c.description = d;
    }
    if let Some(t) = req.team_id {
        check_team(app, t).await?;
        c.team_id = t;
    }
    if let Some(e) = req.endpoint {
        c.endpoint = e.trim().to_string();
    }
    if let Some(h) = req.headers {
        c.headers = merge_masked(h, &c.headers);
    }
    if let Some(a) = req.auth {
        c.auth = a.merged_over(&c.auth);
    }
    if let Some(v) = req.tls_verify {
        c.tls_verify = v;
    }
    if req.channel_ids.is_some() {
        c.channel_ids = req.channel_ids;
    }
    if let Some(ids) = &c.channel_ids {
        check_channels(app, ids).await?;
    }
    if let Some(t) = req.event_types {
        c.event_types = t;
    }
    if let Some(p) = req.preset {
        c.body_template = Some(preset_template(p, &c, &req.body_template)?);
    }
    if let Some(t) = req.body_template {
        c.body_template = (!t.trim().is_empty()).then_some(t);
    }
    if let Some(t) = req.timeout_ms {
        c.timeout_ms = t;
    }
    if let Some(p) = req.retry_policy {
        c.retry_policy = p;
    }
    c.validate()?;
    check_auth(app, &c.auth)?;
    check_endpoint(&c.endpoint, &app.outbound).map_err(|e| ApiError::invalid("endpoint", e))?;
    Ok(c)
}

#[utoipa::path(post, path = "/integration/webhook/create", tag = TAG_WEBHOOKS, request_body = WebhookWrite,
    responses((status = 200, body = Envelope<WebhookCreated>), (status = "4XX", body = ErrorEnvelope)))]
async fn webhook_create(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<WebhookWrite>,
) -> ApiResult<WebhookCreated> {
    let kind = req
        .kind
        .ok_or_else(|| ApiError::invalid("kind", "is required: incident or alert"))?;
    if req.name.is_none() {
        return Err(ApiError::invalid("name", "is required"));
    }
    if req.endpoint.is_none() {
        return Err(ApiError::invalid("endpoint", "is required"));
    }
    may_manage(&app, &caller, req.team_id.unwrap_or(0)).await?;
    let enabled = req.enabled.unwrap_or(true);
    let blank = WebhookConfig {
        kind,
        name: String::new(),
        description: String::new(),
        team_id: 0,
        endpoint: String::new(),
        headers: vec![],
        tls_verify: true,
        channel_ids: None,
        event_types: vec![],
        body_template: None,
        timeout_ms: DEFAULT_TIMEOUT_MS,
        retry_policy: RetryPolicy::Backoff,
        auth: EndpointAuth::default(),
    };
    let c = apply(&app, blank, req).await?;
    let secret = new_secret();
    let record = IntegrationRecord {
        integration_id: IntegrationId(0),
        kind: kind.into(),
        name: c.name.clone(),
        team_id: c.team_id,
        enabled,
        disabled_reason: String::new(),
        config: IntegrationConfig::Webhook(c.clone()),
        secret: secret.clone(),
        previous_secret: String::new(),
        previous_secret_until: 0,
        created_at: 0,
        updated_at: 0,
    };
    let integration_id = app.store.create_integration(&record).await?;
    ok(WebhookCreated {
        integration_id,
        signing_secret: secret,
    })
}

#[utoipa::path(post, path = "/integration/webhook/update", tag = TAG_WEBHOOKS, request_body = WebhookWrite,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn webhook_update(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<WebhookWrite>,
) -> ApiResult<Empty> {
    let id = req
        .integration_id
        .ok_or_else(|| ApiError::invalid("integration_id", "is required"))?;
    let mut r = load(&app, id, &WEBHOOK_KINDS).await?;
    may_manage(&app, &caller, r.team_id).await?;
    if let Some(t) = req.team_id {
        may_manage(&app, &caller, t).await?;
    }
    let current = config_of(&r)?;
    if req.kind.is_some_and(|k| k != current.kind) {
        return Err(ApiError::invalid(
            "kind",
            "cannot change; create another webhook",
        ));
    }
    let enabled = req.enabled;
    let c = apply(&app, current, req).await?;
    r.name = c.name.clone();
    r.team_id = c.team_id;
    if let Some(e) = enabled {
        r.enabled = e;
        if e {
            r.disabled_reason.clear();
        }
    }
    r.config = IntegrationConfig::Webhook(c.clone());
    app.store.update_integration(&r).await?;
    app.dispatcher.forget(r.integration_id);
    app.dispatcher.poke();
    ok(Empty {})
}

#[utoipa::path(post, path = "/integration/webhook/info", tag = TAG_WEBHOOKS, request_body = IntegrationIdBody,
    responses((status = 200, body = Envelope<WebhookView>), (status = "4XX", body = ErrorEnvelope)))]
async fn webhook_info(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<IntegrationIdBody>,
) -> ApiResult<WebhookView> {
    let r = load(&app, req.integration_id, &WEBHOOK_KINDS).await?;
    let health = health_of(&app, &r).await?;
    ok(view(&r, health)?)
}

#[derive(Deserialize, ToSchema)]
pub struct WebhookListReq {
    /// `incident` or `alert`; both when absent.
    pub kind: Option<WebhookKind>,
    #[schema(minimum = 1)]
    pub p: Option<i64>,
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

#[utoipa::path(post, path = "/integration/webhook/list", tag = TAG_WEBHOOKS, request_body = WebhookListReq,
    responses((status = 200, body = Envelope<ListData<WebhookView>>), (status = "4XX", body = ErrorEnvelope)))]
async fn webhook_list(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<WebhookListReq>,
) -> ApiResult<ListData<WebhookView>> {
    let page = Paging {
        p: req.p,
        limit: req.limit,
    }
    .page()?;
    let kinds: Vec<IntegrationKind> = match req.kind {
        Some(k) => vec![k.into()],
        None => WEBHOOK_KINDS.to_vec(),
    };
    let listing = app.store.list_integrations(&kinds, page).await?;
    let has_next_page = listing.has_next_page(page);
    let mut items = Vec::with_capacity(listing.items.len());
    for r in &listing.items {
        items.push(view(r, health_of(&app, r).await?)?);
    }
    ok(ListData {
        items,
        total: listing.total,
        has_next_page,
    })
}

#[utoipa::path(post, path = "/integration/webhook/delete", tag = TAG_WEBHOOKS, request_body = IntegrationIdBody,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn webhook_delete(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<IntegrationIdBody>,
) -> ApiResult<Empty> {
    let r = load(&app, req.integration_id, &WEBHOOK_KINDS).await?;
    may_manage(&app, &caller, r.team_id).await?;
    app.store.delete_integration(r.integration_id).await?;
    app.dispatcher.forget(r.integration_id);
    ok(Empty {})
}

#[utoipa::path(post, path = "/integration/webhook/enable", tag = TAG_WEBHOOKS, request_body = IntegrationIdBody,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn webhook_enable(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<IntegrationIdBody>,
) -> ApiResult<Empty> {
    set_enabled(&app, &caller, req.integration_id, true).await
}

#[utoipa::path(post, path = "/integration/webhook/disable", tag = TAG_WEBHOOKS, request_body = IntegrationIdBody,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn webhook_disable(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<IntegrationIdBody>,
) -> ApiResult<Empty> {
    set_enabled(&app, &caller, req.integration_id, false).await
}

/// Enables or disables a webhook; a disabled one says who disabled it.
async fn set_enabled(
    app: &AppState,
    caller: &Caller,
    integration_id: IntegrationId,
    enabled: bool,
) -> ApiResult<Empty> {
    let r = load(app, integration_id, &WEBHOOK_KINDS).await?;
    may_manage(app, caller, r.team_id).await?;
    let reason = if enabled {
        String::new()
    } else {
        format!("disabled by {}", caller.person.person_name)
    };
    app.store
        .set_integration_enabled(r.integration_id, enabled, &reason)
        .await?;
    app.dispatcher.forget(r.integration_id);
    app.dispatcher.poke();
    if let (true, Some(channel)) = (enabled, app.delivery_alerts_channel) {
        let why = format!("re-enabled by {}", caller.person.person_name);
        crate::self_alerts::recover(app, channel, r.integration_id, &why).await?;
    }
    ok(Empty {})
}

#[utoipa::path(post, path = "/integration/webhook/rotate-secret", tag = TAG_WEBHOOKS, request_body = IntegrationIdBody,
    responses((status = 200, body = Envelope<SigningSecret>), (status = "4XX", body = ErrorEnvelope)))]
async fn webhook_rotate_secret(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<IntegrationIdBody>,
) -> ApiResult<SigningSecret> {
    let r = load(&app, req.integration_id, &WEBHOOK_KINDS).await?;
    let rotated = rotate_secret(&app, &caller, &r).await?;
    app.dispatcher.forget(r.integration_id);
    ok(rotated)
}
