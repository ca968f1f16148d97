//! An integration's delivery health as reads show it: never a plain
//! "enabled" for an endpoint that is failing.

use dutyhook_store::{IntegrationRecord, FAILURE_STREAK_CAP};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum HealthState {
    /// Its latest push succeeded.
    Healthy,
    /// Its pushes have failed since the last success (`failure_streak`).
    Failing,
    /// Failing, and its pushes wait until `circuit_open_until`.
    CircuitOpen,
    /// Disabled (`disabled_reason`): nothing is pushed.
    Disabled,
    /// Nothing pushed to it yet (tests aside).
    Unused,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct IntegrationHealth {
    pub state: HealthState,
    /// Unix ms of the latest successful push; 0 when none is kept.
    pub last_success_at: i64,
    /// Unix ms of the latest failed one; 0 when none is kept.
    pub last_failure_at: i64,
    /// Failed attempts since the latest success, counted up to 1000.
    pub failure_streak: i64,
    pub failure_streak_capped: bool,
    /// The latest failure's class and text.
    pub last_error_class: String,
    pub last_error: String,
    /// Unix ms; 0 when the circuit is closed.
    pub circuit_open_until: i64,
    /// Unix ms of the first failure since the latest success; 0 when not failing.
    pub failing_since: i64,
    /// Deliveries recorded as skipped while it was disabled (never pushed;
    /// a replay pushes them).
    pub skipped: i64,
}

pub async fn health_of(
    app: &AppState,
    r: &IntegrationRecord,
) -> Result<IntegrationHealth, ApiError> {
    let now_ms = app.clock.now_ms();
    let h = app.store.delivery_health(r.integration_id, now_ms).await?;
    let state = if !r.enabled {
        HealthState::Disabled
    } else if h.circuit_open_until > 0 {
        HealthState::CircuitOpen
    } else if h.failure_streak > 0 {
        HealthState::Failing
    } else if h.last_success_at > 0 {
        HealthState::Healthy
    } else {
        HealthState::Unused
    };
    Ok(IntegrationHealth {
        state,
        last_success_at: h.last_success_at,
        last_failure_at: h.last_failure_at,
        failure_streak: h.failure_streak,
        failure_streak_capped: h.failure_streak >= FAILURE_STREAK_CAP,
        last_error_class: h.last_error_class,
        last_error: h.last_error,
        circuit_open_until: h.circuit_open_until,
        failing_since: h.failing_since,
        skipped: h.skipped,
    })
}
