//! Custom actions on an incident: its "More actions" list (only those
//! whose conditions hold, with their inputs prefilled) and the trigger.

use axum::extract::State;
use dutyhook_domain::action::{ActionConfig, ActionMode};
use dutyhook_domain::action_inputs::{default_of, fill, InputDef};
use dutyhook_domain::ids::{ChannelId, IncidentId, IntegrationId};
use dutyhook_domain::incident::Incident;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::actions::{config_of, load};
use super::incidents::{existing, incident_id};
use super::TAG_INCIDENTS;
use crate::action_calls::TriggerResult;
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::presses::Press;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(incident_action_list))
        .routes(routes!(incident_action_trigger))
        .routes(routes!(custom_action_do))
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
    pub mode: ActionMode,
    /// The console asks before running.
    pub confirm: bool,
    /// A run waits for a second person's approval.
    pub needs_approval: bool,
    /// The form to fill, each `default` rendered for this incident.
    pub inputs: Vec<InputDef>,
}

#[derive(Serialize, ToSchema)]
pub struct ActionItems {
    pub items: Vec<ActionItem>,
}

/// The incident as input defaults see it: `{incident: payload}`.
fn template_payload(app: &AppState, incident: &Incident) -> Value {
    json!({"incident": incident.to_payload(&app.render)})
}

fn item(action_id: IntegrationId, cfg: &ActionConfig, payload: &Value) -> ActionItem {
    let inputs = cfg
        .inputs
        .iter()
        .map(|d| InputDef {
            default: default_of(d, payload),
            ..d.clone()
        })
        .collect();
    ActionItem {
        action_id,
        name: cfg.name.clone(),
        mode: cfg.mode,
        confirm: cfg.confirm,
        needs_approval: cfg.approval.is_some(),
        inputs,
    }
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
    let mut items = vec![];
    if incident.channel_id != ChannelId(0) {
        let payload = template_payload(&app, &incident);
        for (action_id, _) in app.store.channel_actions(incident.channel_id).await? {
            let Some(cfg) = app
                .store
                .integration(action_id)
                .await?
                .and_then(|r| r.config.action().cloned())
            else {
                continue;
            };
            if cfg
                .show_when
                .as_ref()
                .is_some_and(|w| w.unmet(&incident).is_some())
            {
                continue;
            }
            items.push(item(action_id, &cfg, &payload));
        }
    }
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
    /// The action's inputs by name; defaults fill the rest.
    #[schema(value_type = Option<std::collections::HashMap<String, serde_json::Value>>)]
    pub inputs: Option<Map<String, Value>>,
}

#[utoipa::path(post, path = "/incident/action/trigger", tag = TAG_INCIDENTS, request_body = Trigger,
    responses((status = 200, body = Envelope<TriggerResult>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_action_trigger(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<Trigger>,
) -> ApiResult<TriggerResult> {
    let target = Target {
        incident: &req.incident_id,
        action_id: req.action_id,
        field: "action_id",
    };
    let inputs = req.inputs.unwrap_or_default();
    ok(trigger(&app, &caller, target, inputs, req.idempotency_key).await?)
}

/// The incident and action a trigger names; `field` names the action's id
/// in errors (the hosted product's path calls it `integration_id`).
struct Target<'a> {
    incident: &'a IncidentId,
    action_id: IntegrationId,
    field: &'a str,
}

/// Presses the action on the incident after checking both, the action's
/// conditions and the inputs.
async fn trigger(
    app: &AppState,
    caller: &Caller,
    t: Target<'_>,
    inputs: Map<String, Value>,
    idempotency_key: Option<String>,
) -> Result<TriggerResult, ApiError> {
    caller.require_operator()?;
    let id = incident_id("incident_id", t.incident)?;
    let r = load(app, t.action_id, t.field).await?;
    let incident = existing(app, &id).await?;
    let cfg = config_of(&r)?;
    if incident.channel_id == ChannelId(0) || !cfg.channel_ids.contains(&incident.channel_id) {
        return Err(ApiError::invalid(
            t.field,
            format!(
                "custom action {} is not one of the actions of incident {id}'s channel",
                r.integration_id
            ),
        ));
    }
    if let Some(unmet) = cfg.show_when.as_ref().and_then(|w| w.unmet(&incident)) {
        return Err(unmet.into());
    }
    // The incident's payload is rendered only for defaults to read.
    let inputs = match cfg.inputs.is_empty() {
        true => fill(&[], &inputs, &Value::Null)?,
        false => fill(&cfg.inputs, &inputs, &template_payload(app, &incident))?,
    };
    let press = Press {
        action: &r,
        cfg: &cfg,
        incident: &incident,
        inputs,
    };
    crate::presses::press(app, caller, press, idempotency_key).await
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
    let target = Target {
        incident: &req.incident_id,
        action_id: req.integration_id,
        field: "integration_id",
    };
    ok(trigger(&app, &caller, target, Map::new(), None).await?)
}
