//! What the dispatcher tells about an integration's health as it happens,
//! for whoever listens (the self-alerts of `delivery.md`, "Delivery
//! health"): a delivery given up, an integration disabled, pushes
//! succeeding again. Successes are told only when they follow a failure, or
//! are the first this process sees, so a healthy stream costs nothing.

use dutyhook_domain::ids::IntegrationId;

use super::health_signal::HealthSignal;
use super::Inner;

impl Inner {
    pub(super) fn signal(&self, s: HealthSignal) {
        if let Some(tx) = self.signals.get() {
            let _ = tx.send(s);
        }
    }

    /// After each push: tells a success that follows a failure (or comes first).
    pub(super) fn note_outcome(&self, integration_id: IntegrationId, success: bool) {
        // Nobody listens (delivery alerts are off): no bookkeeping per push.
        if self.signals.get().is_none() {
            return;
        }
        let before = self
            .last_ok
            .lock()
            .expect("outcomes lock")
            .insert(integration_id, success);
        if success && before != Some(true) {
            self.signal(HealthSignal::Succeeded { integration_id });
        }
    }
}
