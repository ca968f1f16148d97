//! Alert sources, ingestion (standard events and Alertmanager) and alerts.

use axum::extract::{Query, State};
use dutyhook_domain::alert::{alertmanager_events, standard_event, AlertEvent, Source};
use dutyhook_domain::ids::{AlertId, ChannelId, IntegrationId};
use dutyhook_domain::integration::{IntegrationConfig, IntegrationKind, SourceConfig, SourceType};
use dutyhook_store::IntegrationRecord;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::alert_reads::alert_id;
use super::integration::{load_kind, may_manage, wrong_settings, IntegrationIdBody};
use super::{positive_id, ListData, Paging, TAG_ALERTS};
use crate::auth::{hash_key, new_app_key, Caller};
use crate::envelope::{ok, ApiJson, ApiResult, Empty, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

pub const KIND: IntegrationKind = IntegrationKind::AlertSource;
const MAX_CLOSE: usize = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(source_create))
        .routes(routes!(source_list))
        .routes(routes!(source_delete))
        .routes(routes!(push_standard))
        .routes(routes!(push_alertmanager))
        .routes(routes!(alert_close))
}

#[derive(Deserialize, ToSchema)]
pub struct SourceWrite {
    pub name: String,
    pub source_type: SourceType,
    #[schema(value_type = i64)]
    pub channel_id: ChannelId,
    pub team_id: Option<i64>,
}

#[derive(Serialize, ToSchema)]
pub struct SourceCreated {
    #[schema(value_type = i64)]
    pub integration_id: IntegrationId,
    /// Shown only here; stored hashed.
    pub integration_key: String,
}

#[derive(Serialize, ToSchema)]
pub struct SourceView {
    #[schema(value_type = i64)]
    pub integration_id: IntegrationId,
    pub name: String,
    pub source_type: SourceType,
    #[schema(value_type = i64)]
    pub channel_id: ChannelId,
    pub team_id: i64,
    pub created_at: i64,
}

fn config_of(r: &IntegrationRecord) -> Result<SourceConfig, ApiError> {
    r.config.source().cloned().ok_or_else(|| wrong_settings(r))
}

#[utoipa::path(post, path = "/integration/alert-source/create", tag = TAG_ALERTS, request_body = SourceWrite,
    responses((status = 200, body = Envelope<SourceCreated>), (status = "4XX", body = ErrorEnvelope)))]
async fn source_create(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<SourceWrite>,
) -> ApiResult<SourceCreated> {
    let team_id = req.team_id.unwrap_or(0);
    may_manage(&app, &caller, team_id).await?;
    let name = req.name.trim().to_string();
    if !(1..=100).contains(&name.chars().count()) {
        return Err(ApiError::invalid("name", "must be 1 to 100 characters"));
    }
    if req.source_type == SourceType::Dutyhook {
        return Err(ApiError::invalid(
            "source_type",
            "dutyhook is the built-in source of dutyhook's own alerts: choose standard or alertmanager",
        ));
    }
    let channel_id = positive_id("channel_id", req.channel_id)?;
    if app.store.channel(channel_id).await?.is_none() {
        return Err(ApiError::ResourceNotFound(format!(
            "channel {channel_id} does not exist"
        )));
    }
    let key = new_app_key().replacen("dh_", "dhi_", 1);
    let record = IntegrationRecord {
        integration_id: IntegrationId(0),
        kind: KIND,
        name,
        team_id,
        enabled: true,
        disabled_reason: String::new(),
        config: IntegrationConfig::Source(SourceConfig {
            source_type: req.source_type,
            channel_id,
        }),
        secret: String::new(),
        previous_secret: String::new(),
        previous_secret_until: 0,
        created_at: 0,
        updated_at: 0,
    };
    let integration_id = app
        .store
        .create_alert_source(&record, &hash_key(&app.key_secret, &key))
        .await?;
    ok(SourceCreated {
        integration_id,
        integration_key: key,
    })
}

#[utoipa::path(post, path = "/integration/alert-source/list", tag = TAG_ALERTS, request_body = Paging,
    responses((status = 200, body = Envelope<ListData<SourceView>>), (status = "4XX", body = ErrorEnvelope)))]
async fn source_list(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<Paging>,
) -> ApiResult<ListData<SourceView>> {
    let page = req.page()?;
    let listing = app.store.list_integrations(&[KIND], page).await?;
    let has_next_page = listing.has_next_page(page);
    let mut items = vec![];
    for r in &listing.items {
        let c = config_of(r)?;
        items.push(SourceView {
            integration_id: r.integration_id,
            name: r.name.clone(),
            source_type: c.source_type,
            channel_id: c.channel_id,
            team_id: r.team_id,
            created_at: r.created_at,
        });
    }
    ok(ListData {
        items,
        total: listing.total,
        has_next_page,
    })
}

#[utoipa::path(post, path = "/integration/alert-source/delete", tag = TAG_ALERTS, request_body = IntegrationIdBody,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn source_delete(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<IntegrationIdBody>,
) -> ApiResult<Empty> {
    let r = load_kind(
        &app,
        "integration_id",
        req.integration_id,
        &[KIND],
        "alert source",
    )
    .await?;
    may_manage(&app, &caller, r.team_id).await?;
    app.store.delete_integration(r.integration_id).await?;
    app.sources.clear();
    ok(Empty {})
}

#[derive(Deserialize, utoipa::IntoParams)]
pub struct KeyParam {
    /// The alert source's integration key.
    pub integration_key: Option<String>,
}

/// The source a key belongs to, of the expected type, with its channel.
async fn source_for(
    app: &AppState,
    key: Option<String>,
    source_type: SourceType,
) -> Result<Source, ApiError> {
    let unknown = || {
        ApiError::invalid(
            "integration_key",
            "is missing or not the key of an alert source",
        )
    };
    let key = key.filter(|k| !k.is_empty()).ok_or_else(unknown)?;
    let key_hash = hash_key(&app.key_secret, &key);
    let source = match app.sources.get(&key_hash) {
        Some(s) => s,
        None => {
            let s = load_source(app, &key_hash).await?.ok_or_else(unknown)?;
            app.sources.put(key_hash, s.clone());
            s
        }
    };
    if source.source_type != source_type {
        return Err(ApiError::invalid(
            "integration_key",
            format!(
                "belongs to a {} source; push to /event/push/alert/{}",
                source.source_type.as_str(),
                source.source_type.as_str()
            ),
        ));
    }
    Ok(source)
}

async fn load_source(app: &AppState, key_hash: &str) -> Result<Option<Source>, ApiError> {
    let Some(id) = app.store.alert_source_by_key(key_hash).await? else {
        return Ok(None);
    };
    let Some(r) = app.store.integration(id).await? else {
        return Ok(None);
    };
    let c = config_of(&r)?;
    let channel = app.store.channel(c.channel_id).await?.ok_or_else(|| {
        ApiError::invalid(
            "integration_key",
            format!("the source's channel {} no longer exists", c.channel_id),
        )
    })?;
    Ok(Some(Source {
        integration_id: r.integration_id,
        name: r.name,
        source_type: c.source_type,
        channel,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct Pushed {
    pub alert_key: String,
}

#[derive(Serialize, ToSchema)]
pub struct PushedMany {
    pub alert_keys: Vec<String>,
}

async fn ingest(
    app: &AppState,
    source: Source,
    events: Vec<AlertEvent>,
) -> Result<Vec<String>, ApiError> {
    Ok(app
        .store
        .ingest_alerts(source, events, app.recorder())
        .await?)
}

#[utoipa::path(post, path = "/event/push/alert/standard", tag = TAG_ALERTS, params(KeyParam), request_body = Object,
    responses((status = 200, body = Envelope<Pushed>), (status = "4XX", body = ErrorEnvelope)))]
async fn push_standard(
    State(app): State<AppState>,
    Query(q): Query<KeyParam>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Pushed> {
    let source = source_for(&app, q.integration_key, SourceType::Standard).await?;
    let ev = standard_event(source.integration_id, &body)?;
    let mut keys = ingest(&app, source, vec![ev]).await?;
    ok(Pushed {
        alert_key: keys.pop().unwrap_or_default(),
    })
}

#[utoipa::path(post, path = "/event/push/alert/alertmanager", tag = TAG_ALERTS, params(KeyParam), request_body = Object,
    responses((status = 200, body = Envelope<PushedMany>), (status = "4XX", body = ErrorEnvelope)))]
async fn push_alertmanager(
    State(app): State<AppState>,
    Query(q): Query<KeyParam>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<PushedMany> {
    let source = source_for(&app, q.integration_key, SourceType::Alertmanager).await?;
    let events = alertmanager_events(source.integration_id, &body)?;
    let alert_keys = ingest(&app, source, events).await?;
    ok(PushedMany { alert_keys })
}

#[derive(Deserialize, ToSchema)]
pub struct AlertIds {
    #[schema(value_type = Vec<String>)]
    pub alert_ids: Vec<AlertId>,
}

#[utoipa::path(post, path = "/alert/close", tag = TAG_ALERTS, request_body = AlertIds,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn alert_close(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<AlertIds>,
) -> ApiResult<Empty> {
    caller.require_operator()?;
    if req.alert_ids.is_empty() || req.alert_ids.len() > MAX_CLOSE {
        return Err(ApiError::invalid(
            "alert_ids",
            format!("must list 1 to {MAX_CLOSE} alert ids"),
        ));
    }
    let mut ids = vec![];
    for id in &req.alert_ids {
        let id = alert_id("alert_ids", id)?;
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    app.store
        .close_alerts(ids, caller.person.clone(), app.recorder())
        .await?;
    ok(Empty {})
}
