//! The dutyhook HTTP server: the Open API, background tasks, and the mapping
//! of every error to the API envelope.

pub mod action_calls;
pub mod approvals;
pub mod auth;
pub mod background;
pub mod bootstrap;
pub mod caller;
pub mod console;
pub mod envelope;
pub mod error;
pub mod forwarded;
pub mod leadership;
pub mod listener;
pub mod notifications;
pub mod openapi;
pub mod openapi_writes;
pub mod passwords;
pub mod presses;
pub mod replay_pacer;
pub mod request_id;
pub mod routes;
pub mod run_tokens;
pub mod run_updates;
pub mod runtime;
pub mod self_alerts;
pub mod sign_in;
pub mod source_cache;
pub mod state;

use std::sync::Arc;
use std::time::Duration;

use axum::http::Method;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{middleware, Json, Router};
use dutyhook_store::Store;
use rand::RngCore;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;

pub use error::ApiError;
pub use state::AppState;

#[derive(Debug, Clone)]
pub struct Config {
    /// Base of `detail_url`, e.g. `http://127.0.0.1:8080`.
    pub public_url: String,
    pub account_name: String,
    pub snooze_check_every: Duration,
    pub outbound: dutyhook_delivery::outbound::Policy,
    pub delivery: dutyhook_delivery::dispatcher::DeliveryConfig,
    /// How long the invocation history is kept.
    pub history_retention: Duration,
    /// Custom actions a channel may hold.
    pub actions_per_channel: usize,
    /// Fixed DNS answers (tests); empty in production.
    pub dns_overrides: std::collections::HashMap<String, Vec<std::net::IpAddr>>,
    /// How long request headers and idle keep-alive connections may take.
    pub connections: listener::Limits,
    /// When set, `/metrics` answers only `Authorization: Bearer <token>`.
    pub metrics_token: Option<String>,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<ipnet::IpNet>,
    /// On SIGTERM, how long `/ready` answers 503 while requests are still
    /// served, so a load balancer stops sending them before the port closes.
    pub shutdown_delay: Duration,
    /// Where dutyhook raises alerts about its own failing integrations
    /// (`delivery_alerts.channel_id`); none: it does not.
    pub delivery_alerts_channel: Option<dutyhook_domain::ids::ChannelId>,
    /// The SMTP server that mails people; none: nobody is mailed.
    pub smtp: Option<SmtpConfig>,
}

/// `smtp.url` (credentials in it) and `smtp.from`.
#[derive(Clone)]
pub struct SmtpConfig {
    pub url: String,
    pub from: String,
    /// `smtp.ca_file`'s certificate (PEM), trusted beside the public CAs.
    pub ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for SmtpConfig {
    // The URL may hold the password: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpConfig")
            .field("from", &self.from)
            .finish_non_exhaustive()
    }
}

impl Config {
    pub fn new(public_url: &str) -> Self {
        Config {
            public_url: public_url.trim_end_matches('/').to_string(),
            account_name: "dutyhook".into(),
            snooze_check_every: Duration::from_secs(1),
            outbound: Default::default(),
            delivery: Default::default(),
            history_retention: Duration::from_secs(7 * 24 * 3600),
            actions_per_channel: dutyhook_domain::action::DEFAULT_PER_CHANNEL,
            dns_overrides: Default::default(),
            connections: Default::default(),
            metrics_token: None,
            trusted_proxies: vec![],
            shutdown_delay: Duration::ZERO,
            delivery_alerts_channel: None,
            smtp: None,
        }
    }
}

/// Builds the API's state around a new [`runtime::Runtime`]: loads (or
/// creates) the installation's key secret.
pub async fn state(store: Arc<dyn Store>, config: &Config) -> Result<AppState, ApiError> {
    let mut fresh = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut fresh);
    let secret = store
        .setting_or_init("app_key_secret", &hex::encode(fresh))
        .await?;
    let key_secret =
        hex::decode(secret).map_err(|e| ApiError::Internal(format!("app_key_secret: {e}")))?;
    let passwords = passwords::Passwords::for_this_machine();
    tokio::spawn({
        let passwords = passwords.clone();
        async move { passwords.prepare().await }
    });
    Ok(AppState::new(state::Shared {
        runtime: runtime::Runtime::new(store, config),
        passwords,
        key_secret: Arc::new(key_secret),
        actions_per_channel: config.actions_per_channel,
        sources: Default::default(),
        trusted_proxies: Arc::new(config.trusted_proxies.clone()),
        metrics_token: config.metrics_token.as_deref().map(|t| {
            Arc::new(<sha2::Sha256 as sha2::Digest>::digest(t.trim().as_bytes()).to_vec())
        }),
        stopping: Default::default(),
    }))
}

fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(openapi::ApiDoc::openapi())
        .merge(routes::directory::router())
        .merge(routes::lookups::router())
        .merge(routes::channels::router())
        .merge(routes::accounts::router())
        .merge(routes::credentials::router())
        .merge(routes::replays::router())
        .merge(routes::fields::router())
        .merge(routes::incidents::router())
        .merge(routes::incident_reads::router())
        .merge(routes::feed::router())
        .merge(routes::incident_ops::router())
        .merge(routes::incident_grouping::router())
        .merge(routes::webhooks::router())
        .merge(routes::actions::router())
        .merge(routes::action_presses::router())
        .merge(routes::runs::router())
        .merge(routes::alerts::router())
        .merge(routes::source_admin::router())
        .merge(routes::alert_reads::router())
        .merge(routes::alert_lookups::router())
        .merge(routes::history::router())
        .merge(routes::webhook_history::router())
        .merge(routes::webhook_presets::router())
        .merge(routes::email::router())
        .merge(routes::webhook_preview::router())
        .merge(routes::webhook_test::router())
        .merge(routes::system::router())
}

/// The OpenAPI 3.1 document of every endpoint, generated from the handlers.
pub fn openapi_document() -> serde_json::Value {
    let (_, mut doc) = api().split_for_parts();
    doc.paths.paths.insert(
        "/openapi.json".into(),
        utoipa::openapi::PathItem::new(
            utoipa::openapi::HttpMethod::Get,
            utoipa::openapi::path::OperationBuilder::new()
                .tag(routes::TAG_SYSTEM)
                .summary(Some("This document"))
                .security(utoipa::openapi::security::SecurityRequirement::default())
                .response(
                    "200",
                    utoipa::openapi::Response::new("The OpenAPI 3.1 document"),
                ),
        ),
    );
    let mut doc = serde_json::to_value(doc).expect("the document serializes");
    openapi_writes::split_shared_writes(&mut doc);
    doc
}

pub fn app(state: AppState) -> Router {
    let (router, _) = api().split_for_parts();
    let doc = Arc::new(openapi_document());
    router
        .route(
            "/openapi.json",
            get(move || async move { Json(doc.as_ref().clone()) }),
        )
        .merge(console::router())
        .fallback(|method: Method, uri: axum::http::Uri| async move {
            ApiError::RouteNotFound(format!("{method} {}", uri.path())).into_response()
        })
        .method_not_allowed_fallback(|method: Method, uri: axum::http::Uri| async move {
            let path = uri.path();
            let allowed = if matches!(path, "/health" | "/ready" | "/openapi.json" | "/metrics")
                || path.starts_with("/console/")
                || path.starts_with("/incidents/")
            {
                "GET"
            } else {
                "POST"
            };
            ApiError::MethodNotAllowed(format!(
                "{method} is not allowed on {}: use {allowed}",
                uri.path()
            ))
            .into_response()
        })
        .layer(middleware::from_fn(request_id::request_id_layer))
        .with_state(state)
}

/// Serves until `shutdown` flips to true, with the background tasks running.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    config: Config,
    shutdown: tokio::sync::watch::Receiver<bool>,
) -> std::io::Result<()> {
    let running = background::start(&state.runtime, &shutdown);
    let mut stop = shutdown.clone();
    let stopping = state.stopping.clone();
    let listener = listener::GuardedListener::new(listener, config.connections);
    let app = app(state).into_make_service_with_connect_info::<listener::ClientAddr>();
    let result = axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = stop.wait_for(|stop| *stop).await;
            stopping.store(true, std::sync::atomic::Ordering::Relaxed);
            tokio::time::sleep(config.shutdown_delay).await;
        })
        .await;
    running.finish().await;
    result
}
