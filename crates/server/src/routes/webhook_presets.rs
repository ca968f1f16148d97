//! Chat presets: the body templates an incident webhook may start from.

use dutyhook_domain::chat_presets::ChatPreset;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::integration::TAG_WEBHOOKS;
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Empty, Envelope};
use crate::error::ErrorEnvelope;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(webhook_presets))
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
