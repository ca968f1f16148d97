//! Custom actions: their configuration under the per-channel limit, the
//! incident's "More actions" list, and the synchronous trigger.

use axum::extract::State;
use dutyhook_delivery::outbound::check_endpoint;
use dutyhook_delivery::signature::{mask, new_secret};
use dutyhook_domain::action::{ActionConfig, ActionMode};
use dutyhook_domain::action_guard::{Approval, ShowWhen};
use dutyhook_domain::action_inputs::InputDef;
use dutyhook_domain::endpoint_auth::EndpointAuth;
use dutyhook_domain::headers::{masked, merge_masked, Header};
use dutyhook_domain::ids::{ChannelId, IntegrationId};
use dutyhook_domain::integration::{IntegrationConfig, IntegrationKind};
use dutyhook_domain::run::WriteBackKey;
use dutyhook_store::IntegrationRecord;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::integration::{
    check_auth, check_channels, check_team, load_kind, may_manage, rotate_secret, wrong_settings,
    IntegrationIdBody, SigningSecret, TAG_WEBHOOKS,
};
use super::integration_health::{health_of, IntegrationHealth};
use super::{ListData, Paging};
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Empty, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
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
    /// How pushes authenticate besides the signature; secret values are
    /// write-only (`******` keeps the stored one).
    pub auth: Option<EndpointAuth>,
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
    /// Up to 10 inputs a person fills before the call.
    pub inputs: Option<Vec<InputDef>>,
    /// The console asks before running; default false.
    pub confirm: Option<bool>,
    /// A run waits until a second person approves it; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    pub approval: Option<Option<Approval>>,
    /// Conditions on the incident for the action to show and run; `null` removes them.
    #[serde(default, deserialize_with = "present")]
    pub show_when: Option<Option<ShowWhen>>,
    /// 0 to 86400: after a run on an incident, none there for this long.
    #[schema(minimum = 0, maximum = 86400)]
    pub cooldown_s: Option<i64>,
    /// 0 (no cap) to 10000 runs across all incidents in any sliding hour.
    #[schema(minimum = 0, maximum = 10000)]
    pub max_runs_per_hour: Option<i64>,
}

/// A field given as `null` is `Some(None)`: "remove", unlike an absent one.
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
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
    /// Secret values shown as `******`; absent when none.
    #[serde(skip_serializing_if = "EndpointAuth::is_none")]
    pub auth: EndpointAuth,
    pub tls_verify: bool,
    pub timeout_ms: i64,
    pub mode: ActionMode,
    pub async_deadline_s: i64,
    pub write_back: Vec<WriteBackKey>,
    pub inputs: Vec<InputDef>,
    pub confirm: bool,
    pub approval: Option<Approval>,
    pub show_when: Option<ShowWhen>,
    pub cooldown_s: i64,
    pub max_runs_per_hour: i64,
    /// How its pushes have been going.
    pub health: IntegrationHealth,
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

pub(crate) fn config_of(r: &IntegrationRecord) -> Result<ActionConfig, ApiError> {
    r.config.action().cloned().ok_or_else(|| wrong_settings(r))
}

fn view(r: &IntegrationRecord, health: IntegrationHealth) -> Result<ActionView, ApiError> {
    let c = config_of(r)?;
    Ok(ActionView {
        integration_id: r.integration_id,
        name: r.name.clone(),
        description: c.description,
        team_id: r.team_id,
        channel_ids: c.channel_ids,
        endpoint: c.endpoint,
        headers: masked(&c.headers),
        auth: c.auth.masked(),
        tls_verify: c.tls_verify,
        timeout_ms: c.timeout_ms,
        mode: c.mode,
        async_deadline_s: c.async_deadline_s,
        write_back: c.write_back,
        inputs: c.inputs,
        confirm: c.confirm,
        approval: c.approval,
        show_when: c.show_when,
        cooldown_s: c.cooldown_s,
        max_runs_per_hour: c.max_runs_per_hour,
        health,
        signing_secret: mask(&r.secret),
        created_at: r.created_at,
        updated_at: r.updated_at,
    })
}

pub(crate) async fn load(
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
    apply_guardrails(app, &mut c, &req).await?;
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
    if let Some(a) = req.auth {
        c.auth = a.merged_over(&c.auth);
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
    check_auth(app, &c.auth)?;
    check_channels(app, &c.channel_ids).await?;
    check_endpoint(&c.endpoint, &app.outbound).map_err(|e| ApiError::invalid("endpoint", e))?;
    Ok(c)
}

async fn apply_guardrails(
    app: &AppState,
    c: &mut ActionConfig,
    req: &ActionWrite,
) -> Result<(), ApiError> {
    if let Some(i) = &req.inputs {
        c.inputs = i.clone();
    }
    if let Some(v) = req.confirm {
        c.confirm = v;
    }
    if let Some(a) = &req.approval {
        if let Some(team) = a.as_ref().map(|a| a.team_id).filter(|t| *t > 0) {
            check_team(app, team).await.map_err(|e| match e {
                ApiError::ResourceNotFound(m) => ApiError::invalid("approval.team_id", m),
                other => other,
            })?;
        }
        c.approval = a.clone();
    }
    if let Some(w) = &req.show_when {
        c.show_when = w.clone();
    }
    if let Some(v) = req.cooldown_s {
        c.cooldown_s = v;
    }
    if let Some(v) = req.max_runs_per_hour {
        c.max_runs_per_hour = v;
    }
    Ok(())
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
    let r = load(&app, req.integration_id, "integration_id").await?;
    let health = health_of(&app, &r).await?;
    ok(view(&r, health)?)
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
