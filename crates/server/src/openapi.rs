use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

#[derive(OpenApi)]
#[openapi(
    info(title = "dutyhook Open API", description = "Incidents, webhooks and custom actions. Every call is POST with a JSON body unless noted; answers use the {request_id, data} / {request_id, error} envelope."),
    modifiers(&Auth),
    security(("app_key" = []), ("bearer" = []))
)]
pub struct ApiDoc;

struct Auth;

impl Modify for Auth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "app_key",
            SecurityScheme::ApiKey(ApiKey::Query(ApiKeyValue::new("app_key"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}
