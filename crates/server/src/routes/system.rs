use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::TAG_SYSTEM;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(metrics))
}

/// Prometheus text format (OpenMetrics): pushes by kind and outcome, push
/// latency, pending deliveries and the age of the oldest, circuit states.
#[utoipa::path(get, path = "/metrics", tag = TAG_SYSTEM, security(()),
    responses((status = 200, content_type = "application/openmetrics-text", body = String)))]
async fn metrics(State(app): State<AppState>) -> Response {
    match app.store.delivery_stats().await {
        Ok(stats) => {
            let age = if stats.oldest_pending_at > 0 {
                (app.clock.now_ms() - stats.oldest_pending_at).max(0) / 1000
            } else {
                0
            };
            app.metrics.set_pending(stats.pending, age);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: delivery stats unavailable"),
    }
    app.metrics.set_circuits(&app.dispatcher.circuit_states());
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        app.metrics.encode(),
    )
        .into_response()
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the database does not answer.
    pub status: &'static str,
}

#[utoipa::path(get, path = "/health", tag = TAG_SYSTEM, security(()),
    responses((status = 200, body = Health), (status = 503, body = Health)))]
async fn health(State(app): State<AppState>) -> Response {
    match app.store.ping().await {
        Ok(()) => Json(Health { status: "ok" }).into_response(),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(Health {
                    status: "unavailable",
                }),
            )
                .into_response()
        }
    }
}
