//! What a dispatcher tells about an integration's health (see `signals.rs`).

use dutyhook_domain::ids::IntegrationId;
use tokio::sync::mpsc::UnboundedSender;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HealthSignal {
    /// Retries used up, or a final 4xx.
    GaveUp {
        integration_id: IntegrationId,
        error_class: String,
        error: String,
    },
    Disabled {
        integration_id: IntegrationId,
        reason: String,
    },
    Succeeded {
        integration_id: IntegrationId,
    },
}

/// Where a dispatcher sends its [`HealthSignal`]s.
pub type SignalSender = UnboundedSender<HealthSignal>;
