use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use dutyhook_delivery::text_format;
use sha2::{Digest, Sha256};

use super::TAG_SYSTEM;
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(health))
        .routes(routes!(ready))
        .routes(routes!(metrics))
}

/// Whether the request carries the metrics token (when one is configured).
/// Digests are compared, so the time taken says nothing about the token.
fn may_scrape(app: &AppState, headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(want) = &app.metrics_token else {
        return Ok(());
    };
    let given = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| Sha256::digest(t.trim().as_bytes()).to_vec());
    if given.as_deref() == Some(want.as_slice()) {
        Ok(())
    } else {
        Err(ApiError::Unauthorized(
            "/metrics needs the metrics token as Authorization: Bearer <token>".into(),
        ))
    }
}

/// Pushes by kind and outcome, push latency, pending deliveries and the age
/// of the oldest (overall and per integration), deliveries given up,
/// integrations disabled, circuit states, the processes sharing the
/// database: OpenMetrics when the scraper accepts it
/// (Prometheus does), the Prometheus text format 0.0.4 otherwise. With
/// `metrics_token` configured, only for `Authorization: Bearer <token>`.
#[utoipa::path(get, path = "/metrics", tag = TAG_SYSTEM, security(()),
    responses((status = 200, content(
            (String = "application/openmetrics-text"),
            (String = "text/plain"))),
        (status = 401, body = ErrorEnvelope)))]
async fn metrics(State(app): State<AppState>, headers: HeaderMap) -> Response {
    if let Err(e) = may_scrape(&app, &headers) {
        return e.into_response();
    }
    match app.store.delivery_stats().await {
        Ok(stats) => {
            let age = if stats.oldest_pending_at > 0 {
                (app.clock.now_ms() - stats.oldest_pending_at).max(0) / 1000
            } else {
                0
            };
            app.metrics.set_pending(stats.pending, age);
            let now = app.clock.now_ms();
            let oldest: Vec<_> = stats
                .oldest_pending_by_integration
                .iter()
                .map(|(id, at)| (*id, if *at > 0 { (now - at).max(0) / 1000 } else { 0 }))
                .collect();
            app.metrics
                .set_integrations(stats.disabled_integrations, &oldest);
        }
        Err(e) => tracing::warn!(error = %e, "metrics: delivery stats unavailable"),
    }
    app.metrics.set_circuits(&app.dispatcher.circuit_states());
    app.metrics.set_processes(app.store.processes());
    let openmetrics = headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("application/openmetrics-text"));
    let (content_type, body) = if openmetrics {
        (
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            app.metrics.encode(),
        )
    } else {
        (
            text_format::CONTENT_TYPE,
            text_format::to_prometheus_text(&app.metrics.encode()),
        )
    };
    ([(axum::http::header::CONTENT_TYPE, content_type)], body).into_response()
}

#[derive(Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or `unavailable` when the database does not answer or cannot write.
    pub status: &'static str,
    /// Why the database is unavailable.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A health check answers within this, whatever the database does.
const HEALTH_DEADLINE: std::time::Duration = std::time::Duration::from_millis(900);

/// 200 when the database answers and can write (a read and a small write
/// through the writer, as every change goes), 503 otherwise.
#[utoipa::path(get, path = "/health", tag = TAG_SYSTEM, security(()),
    responses((status = 200, body = Health), (status = 503, body = Health)))]
async fn health(State(app): State<AppState>) -> Response {
    let reason = match tokio::time::timeout(HEALTH_DEADLINE, app.store.health()).await {
        Ok(Ok(())) => {
            return Json(Health {
                status: "ok",
                reason: None,
            })
            .into_response()
        }
        Ok(Err(e)) => e.to_string(),
        Err(_) => "the database did not answer within a second".to_string(),
    };
    tracing::warn!(%reason, "health check: database unavailable");
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(Health {
            status: "unavailable",
            reason: Some(reason),
        }),
    )
        .into_response()
}

#[derive(Serialize, ToSchema)]
pub struct Readiness {
    /// `ready`; `stopping` once the process got SIGTERM (it still serves for
    /// `shutdown_delay_ms`); `unavailable` when the database does not answer.
    pub status: &'static str,
    /// Why the process is not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// Whether a load balancer should send this process requests: 200 while it
/// serves and the database answers a read; 503 once it is stopping (from
/// SIGTERM on) or when the database does not answer. Lighter than
/// `/health`, which also writes.
#[utoipa::path(get, path = "/ready", tag = TAG_SYSTEM, security(()),
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
async fn ready(State(app): State<AppState>) -> Response {
    let not_ready = |status, reason: String| {
        let body = Readiness {
            status,
            reason: Some(reason),
        };
        (StatusCode::SERVICE_UNAVAILABLE, Json(body)).into_response()
    };
    if app.stopping.load(std::sync::atomic::Ordering::Relaxed) {
        return not_ready("stopping", "the process is shutting down".into());
    }
    match tokio::time::timeout(HEALTH_DEADLINE, app.store.ping()).await {
        Ok(Ok(())) => Json(Readiness {
            status: "ready",
            reason: None,
        })
        .into_response(),
        Ok(Err(e)) => not_ready("unavailable", e.to_string()),
        Err(_) => not_ready(
            "unavailable",
            "the database did not answer within a second".into(),
        ),
    }
}
