//! Custom actions: their configuration under the per-channel limit, the
//! incident's "More actions" list, and the synchronous trigger.

use axum::extract::State;
use dutyhook_delivery::outbound::check_endpoint;
use dutyhook_delivery::signature::{mask, new_secret};
use dutyhook_domain::action::{ActionConfig, ActionMode};
use dutyhook_domain::headers::{masked, merge_masked, Header};
use dutyhook_domain::ids::{ChannelId, IncidentId, IntegrationId};
use dutyhook_domain::integration::{IntegrationConfig, IntegrationKind};
use dutyhook_domain::run::WriteBackKey;
use dutyhook_store::IntegrationRecord;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::incidents::{existing, incident_id};
use super::integration::{
    check_channels, check_team, load_kind, may_manage, rotate_secret, wrong_settings,
    IntegrationIdBody, SigningSecret, TAG_WEBHOOKS,
};
use super::{ListData, Paging, TAG_INCIDENTS};
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Empty, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::presses::TriggerResult;
use crate::state::AppState;

pub const KIND: IntegrationKind = IntegrationKind::CustomAction;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(action_create))
        .routes(routes!(action_update))
        .routes(routes!(action_info))
        .routes(routes!(action_list))
        .routes(routes!(action_delete))
        .routes(routes!(action_rotate_secret))
        .routes(routes!(incident_action_list))
        .routes(routes!(incident_action_trigger))
        .routes(routes!(custom_action_do))
}

#[derive(Deserialize, ToSchema, Default)]
pub struct ActionWrite {
    /// Required to update; absent to create.
    #[schema(value_type = Option<i64>)]
    pub integration_id: Option<IntegrationId>,
    /// 1–40 characters, unique within each of its channels.
    pub name: Option<String>,
    pub description: Option<String>,
    pub team_id: Option<i64>,
    /// One or more channels; required to create.
    #[schema(value_type = Option<Vec<i64>>)]
    pub channel_ids: Option<Vec<ChannelId>>,
    pub endpoint: Option<String>,
    pub headers: Option<Vec<Header>>,
    pub tls_verify: Option<bool>,
    /// 100 to 10000, default 1000.
    #[schema(minimum = 100, maximum = 10000)]
    pub timeout_ms: Option<i64>,
    /// `sync` (default): the answer ends the run.
    pub mode: Option<ActionMode>,
    /// For `async` actions: 10 to 86400, default 900.
    #[schema(minimum = 10, maximum = 86400)]
    pub async_deadline_s: Option<i64>,
    /// What the endpoint's answer may change on the incident; default none.
    pub write_back: Option<Vec<WriteBackKey>>,
}

#[derive(Serialize, ToSchema)]
pub struct ActionView {
    #[schema(value_type = i64)]
    pub integration_id: IntegrationId,
    pub name: String,
    pub description: String,
    pub team_id: i64,
    #[schema(value_type = Vec<i64>)]
    pub channel_ids: Vec<ChannelId>,
    pub endpoint: String,
    /// Secret values shown as `******`.
    pub headers: Vec<Header>,
    pub tls_verify: bool,
    pub timeout_ms: i64,
    pub mode: ActionMode,
    pub async_deadline_s: i64,
    pub write_back: Vec<WriteBackKey>,
    /// Masked; shown in full only by create.
    pub signing_secret: String,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Serialize, ToSchema)]
pub struct ActionCreated {
    #[schema(value_type = i64)]
    pub integration_id: IntegrationId,
    pub signing_secret: String,
}

fn config_of(r: &IntegrationRecord) -> Result<ActionConfig, ApiError> {
    r.config.action().cloned().ok_or_else(|| wrong_settings(r))
}

fn view(r: &IntegrationRecord) -> Result<ActionView, ApiError> {
    let c = config_of(r)?;
    Ok(ActionView {
        integration_id: r.integration_id,
        name: r.name.clone(),
        description: c.description,
        team_id: r.team_id,
        channel_ids: c.channel_ids,
        endpoint: c.endpoint,
        headers: masked(&c.headers),
        tls_verify: c.tls_verify,
        timeout_ms: c.timeout_ms,
        mode: c.mode,
        async_deadline_s: c.async_deadline_s,
        write_back: c.write_back,
        signing_secret: mask(&r.secret),
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

async fn load(
    app: &AppState,
    id: IntegrationId,
    field: &str,
) -> Result<IntegrationRecord, ApiError> {
    load_kind(app, field, id, &[KIND], "custom action").await
}

/// Applies a write onto `c`, validating everything but the per-channel
/// limit, which the store checks in the transaction that saves.
async fn apply(
    app: &AppState,
    mut c: ActionConfig,
    req: ActionWrite,
) -> Result<ActionConfig, ApiError> {
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
    if let Some(ids) = req.channel_ids {
        c.channel_ids = ids;
        c.dedup_channels();
    }
    if let Some(e) = req.endpoint {
        c.endpoint = e.trim().to_string();
    }
    if let Some(h) = req.headers {
        c.headers = merge_masked(h, &c.headers);
    }
    if let Some(v) = req.tls_verify {
        c.tls_verify = v;
    }
    if let Some(t) = req.timeout_ms {
        c.timeout_ms = t;
    }
    if let Some(m) = req.mode {
        c.mode = m;
    }
    if let Some(d) = req.async_deadline_s {
        c.async_deadline_s = d;
    }
    if let Some(w) = req.write_back {
        c.write_back = w;
        c.dedup_write_back();
    }
    c.validate()?;
    check_channels(app, &c.channel_ids).await?;
    check_endpoint(&c.endpoint, &app.outbound).map_err(|e| ApiError::invalid("endpoint", e))?;
    Ok(c)
}

#[utoipa::path(post, path = "/integration/custom-action/create", tag = TAG_WEBHOOKS, request_body = ActionWrite,
    responses((status = 200, body = Envelope<ActionCreated>), (status = "4XX", body = ErrorEnvelope)))]
async fn action_create(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ActionWrite>,
) -> ApiResult<ActionCreated> {
    if req.integration_id.is_some() {
        return Err(ApiError::invalid(
            "integration_id",
            "is chosen by the server; use /integration/custom-action/update to change an action",
        ));
    }
    for (field, given) in [
        ("name", req.name.is_some()),
        ("channel_ids", req.channel_ids.is_some()),
        ("endpoint", req.endpoint.is_some()),
    ] {
        if !given {
            return Err(ApiError::invalid(field, "is required"));
        }
    }
    may_manage(&app, &caller, req.team_id.unwrap_or(0)).await?;
    let c = apply(&app, ActionConfig::default(), req).await?;
    let secret = new_secret();
    let record = IntegrationRecord {
        integration_id: IntegrationId(0),
        kind: KIND,
        name: c.name.clone(),
        team_id: c.team_id,
        enabled: true,
        disabled_reason: String::new(),
        config: IntegrationConfig::Action(c.clone()),
        secret: secret.clone(),
        previous_secret: String::new(),
        previous_secret_until: 0,
        created_at: 0,
        updated_at: 0,
    };
    let integration_id = app
        .store
        .save_action(&record, &c.channel_ids, app.actions_per_channel)
        .await?;
    ok(ActionCreated {
        integration_id,
        signing_secret: secret,
    })
}

#[utoipa::path(post, path = "/integration/custom-action/update", tag = TAG_WEBHOOKS, request_body = ActionWrite,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn action_update(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<ActionWrite>,
) -> ApiResult<Empty> {
    let id = req
        .integration_id
        .ok_or_else(|| ApiError::invalid("integration_id", "is required"))?;
    let mut r = load(&app, id, "integration_id").await?;
    may_manage(&app, &caller, r.team_id).await?;
    if let Some(t) = req.team_id {
        may_manage(&app, &caller, t).await?;
    }
    let c = apply(&app, config_of(&r)?, req).await?;
    r.name = c.name.clone();
    r.team_id = c.team_id;
    r.config = IntegrationConfig::Action(c.clone());
    app.store
        .save_action(&r, &c.channel_ids, app.actions_per_channel)
        .await?;
    ok(Empty {})
}

#[utoipa::path(post, path = "/integration/custom-action/info", tag = TAG_WEBHOOKS, request_body = IntegrationIdBody,
    responses((status = 200, body = Envelope<ActionView>), (status = "4XX", body = ErrorEnvelope)))]
async fn action_info(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<IntegrationIdBody>,
) -> ApiResult<ActionView> {
    ok(view(
        &load(&app, req.integration_id, "integration_id").await?,
    )?)
}

#[utoipa::path(post, path = "/integration/custom-action/list", tag = TAG_WEBHOOKS, request_body = Paging,
    responses((status = 200, body = Envelope<ListData<ActionView>>), (status = "4XX", body = ErrorEnvelope)))]
async fn action_list(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<Paging>,
) -> ApiResult<ListData<ActionView>> {
    let page = req.page()?;
    let listing = app.store.list_integrations(&[KIND], page).await?;
    let has_next_page = listing.has_next_page(page);
    let items = listing
        .items
        .iter()
        .map(view)
        .collect::<Result<Vec<_>, _>>()?;
    ok(ListData {
        items,
        total: listing.total,
        has_next_page,
    })
}

#[utoipa::path(post, path = "/integration/custom-action/rotate-secret", tag = TAG_WEBHOOKS, request_body = IntegrationIdBody,
    responses((status = 200, body = Envelope<SigningSecret>), (status = "4XX", body = ErrorEnvelope)))]
async fn action_rotate_secret(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<IntegrationIdBody>,
) -> ApiResult<SigningSecret> {
    let r = load(&app, req.integration_id, "integration_id").await?;
    ok(rotate_secret(&app, &caller, &r).await?)
}

#[utoipa::path(post, path = "/integration/custom-action/delete", tag = TAG_WEBHOOKS, request_body = IntegrationIdBody,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn action_delete(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<IntegrationIdBody>,
) -> ApiResult<Empty> {
    let r = load(&app, req.integration_id, "integration_id").await?;
    may_manage(&app, &caller, r.team_id).await?;
    app.store.delete_integration(r.integration_id).await?;
    ok(Empty {})
}

#[derive(Deserialize, ToSchema)]
pub struct IncidentRef {
    #[schema(pattern = "^[0-9a-f]{24}$")]
    #[schema(value_type = String)]
    pub incident_id: IncidentId,
}

#[derive(Serialize, ToSchema)]
pub struct ActionItem {
    /// The action's `integration_id`.
    #[schema(value_type = i64)]
    pub action_id: IntegrationId,
    pub name: String,
}

#[derive(Serialize, ToSchema)]
pub struct ActionItems {
    pub items: Vec<ActionItem>,
}

#[utoipa::path(post, path = "/incident/action/list", tag = TAG_INCIDENTS, request_body = IncidentRef,
    responses((status = 200, body = Envelope<ActionItems>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_action_list(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<IncidentRef>,
) -> ApiResult<ActionItems> {
    let id = incident_id("incident_id", &req.incident_id)?;
    let incident = existing(&app, &id).await?;
    let items = match incident.channel_id {
        ChannelId(0) => vec![],
        channel => app
            .store
            .channel_actions(channel)
            .await?
            .into_iter()
            .map(|(action_id, name)| ActionItem { action_id, name })
            .collect(),
    };
    ok(ActionItems { items })
}

#[derive(Deserialize, ToSchema)]
pub struct Trigger {
    #[schema(pattern = "^[0-9a-f]{24}$")]
    #[schema(value_type = String)]
    pub incident_id: IncidentId,
    #[schema(value_type = i64)]
    pub action_id: IntegrationId,
    /// The same key from the same person within 10 minutes answers the
    /// first result without calling the endpoint again.
    pub idempotency_key: Option<String>,
}

#[utoipa::path(post, path = "/incident/action/trigger", tag = TAG_INCIDENTS, request_body = Trigger,
    responses((status = 200, body = Envelope<TriggerResult>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_action_trigger(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<Trigger>,
) -> ApiResult<TriggerResult> {
    ok(trigger(
        &app,
        &caller,
        &req.incident_id,
        req.action_id,
        "action_id",
        req.idempotency_key,
    )
    .await?)
}

/// Presses `action_id` on `incident_id` after checking both; `field` names
/// the action's id in errors (the hosted product's path calls it
/// `integration_id`).
async fn trigger(
    app: &AppState,
    caller: &Caller,
    incident: &IncidentId,
    action_id: IntegrationId,
    field: &str,
    idempotency_key: Option<String>,
) -> Result<TriggerResult, ApiError> {
    caller.require_operator()?;
    let id = incident_id("incident_id", incident)?;
    let r = load(app, action_id, field).await?;
    let incident = existing(app, &id).await?;
    let cfg = config_of(&r)?;
    if incident.channel_id == ChannelId(0) || !cfg.channel_ids.contains(&incident.channel_id) {
        return Err(ApiError::invalid(
            field,
            format!(
                "custom action {} is not one of the actions of incident {id}'s channel",
                r.integration_id
            ),
        ));
    }
    crate::presses::press(app, caller, &r, &cfg, &incident, idempotency_key).await
}

#[derive(Deserialize, ToSchema)]
pub struct CustomActionDo {
    #[schema(pattern = "^[0-9a-f]{24}$")]
    #[schema(value_type = String)]
    pub incident_id: IncidentId,
    /// The custom action's id.
    #[schema(value_type = i64)]
    pub integration_id: IntegrationId,
}

/// The hosted product's path for a press: as `/incident/action/trigger`.
#[utoipa::path(post, path = "/incident/custom-action/do", tag = TAG_INCIDENTS, request_body = CustomActionDo,
    responses((status = 200, body = Envelope<TriggerResult>), (status = "4XX", body = ErrorEnvelope)))]
async fn custom_action_do(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<CustomActionDo>,
) -> ApiResult<TriggerResult> {
    ok(trigger(
        &app,
        &caller,
        &req.incident_id,
        req.integration_id,
        "integration_id",
        None,
    )
    .await?)
}
