//! A test push: a sample event (or one about a real incident) pushed to a
//! webhook now, through the same invoker as every push, and recorded in
//! its history with the test flag.

use axum::extract::State;
use dutyhook_delivery::dispatcher::body_for;
use dutyhook_delivery::invoker::{Call, Endpoint, Invoked};
use dutyhook_domain::event::EventType;
use dutyhook_domain::ids::{DeliveryId, IncidentId, IntegrationId};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::incidents::{existing, incident_id};
use super::integration::{load, PushOutcome, TAG_WEBHOOKS};
use super::webhooks::{config_of, WEBHOOK_KINDS};
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Envelope};
use crate::error::ErrorEnvelope;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(webhook_test))
}

#[derive(Deserialize, ToSchema)]
pub struct WebhookTest {
    #[schema(value_type = i64)]
    pub integration_id: IntegrationId,
    /// Default `i_new` (incident webhooks) or `a_new` (alert webhooks).
    pub event_type: Option<EventType>,
    /// Push this incident as it is now instead of a sample.
    #[schema(pattern = "^[0-9a-f]{24}$")]
    #[schema(value_type = Option<String>)]
    pub incident_id: Option<IncidentId>,
}

#[utoipa::path(post, path = "/integration/webhook/test", tag = TAG_WEBHOOKS, request_body = WebhookTest,
    responses((status = 200, body = Envelope<PushOutcome>), (status = "4XX", body = ErrorEnvelope)))]
async fn webhook_test(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<WebhookTest>,
) -> ApiResult<PushOutcome> {
    caller.require_operator()?;
    let r = load(&app, req.integration_id, &WEBHOOK_KINDS).await?;
    let cfg = config_of(&r)?;
    let event_type = super::samples::event_type_for(cfg.kind, req.event_type)?;
    let incident = match &req.incident_id {
        Some(id) => Some(existing(&app, &incident_id("incident_id", id)?).await?),
        None => None,
    };
    let event = super::samples::sample_event(&app, event_type, incident.as_ref(), &caller.person);
    let body = body_for(&cfg, &event.payload);
    let Invoked { result, record } = app
        .invoker
        .call_and_record(
            app.store.as_ref(),
            Call {
                integration: &r,
                endpoint: Endpoint::from(&cfg),
                body: &body,
                body_is_event_payload: false,
                event: &event,
                delivery_id: DeliveryId(0),
                attempt: 1,
                test: true,
            },
        )
        .await?;
    ok(PushOutcome::new(
        &result,
        record.invocation_id,
        event.event_id,
        result.duration_ms,
    ))
}
