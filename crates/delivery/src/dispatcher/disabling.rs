//! Turning an integration off from the delivery side: at once when its
//! endpoint answers 410 Gone, and when every push has failed for
//! `disable_after` (`delivery.md`, "Auto-disable"). Its later deliveries are
//! then recorded as skipped.

use std::time::{Duration, Instant};

use dutyhook_domain::ids::IntegrationId;

use super::Inner;
use crate::now_ms;

/// How often one integration's failure run is looked at, at most.
const CHECK_EVERY: Duration = Duration::from_secs(60);

impl Inner {
    pub(super) async fn disable(&self, integration_id: IntegrationId, reason: &str) {
        if let Err(e) = self
            .store
            .set_integration_enabled(integration_id, false, reason)
            .await
        {
            tracing::warn!(integration_id = integration_id.get(), error = %e, "could not disable the integration");
            return;
        }
        tracing::warn!(
            integration_id = integration_id.get(),
            reason,
            "integration disabled"
        );
        self.signal(super::HealthSignal::Disabled {
            integration_id,
            reason: reason.to_string(),
        });
        self.settings
            .lock()
            .expect("settings lock")
            .remove(&integration_id);
    }

    /// After a failed push: disables the integration when its failures have
    /// run for `disable_after` without a success in between.
    pub(super) async fn consider_disabling(&self, integration_id: IntegrationId) {
        let Some(after) = self.cfg.disable_after else {
            return;
        };
        let every = CHECK_EVERY.min(after / 4);
        {
            let mut checked = self.disable_checks.lock().expect("checks lock");
            let now = Instant::now();
            match checked.get(&integration_id) {
                Some(at) if now.duration_since(*at) < every => return,
                _ => checked.insert(integration_id, now),
            };
        }
        let now = now_ms();
        let health = match self.store.delivery_health(integration_id, now).await {
            Ok(h) => h,
            Err(e) => {
                tracing::warn!(integration_id = integration_id.get(), error = %e, "reading the delivery health failed");
                return;
            }
        };
        let since = health.failing_since;
        if since == 0 || now - since < after.as_millis() as i64 {
            return;
        }
        let reason = format!(
            "disabled: every push failed for {} (since {}; last error: {} {})",
            span(after),
            utc(since),
            health.last_error_class,
            health.last_error
        );
        self.disable(integration_id, reason.trim_end()).await;
    }
}

/// "72 hours", "90 minutes", "5 seconds".
fn span(d: Duration) -> String {
    let s = d.as_secs();
    let (n, unit) = if s >= 3600 && s.is_multiple_of(3600) {
        (s / 3600, "hour")
    } else if s >= 60 && s.is_multiple_of(60) {
        (s / 60, "minute")
    } else {
        (s, "second")
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

fn utc(ms: i64) -> String {
    let at = std::time::UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64);
    httpdate::fmt_http_date(at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans_and_times_read_plainly() {
        assert_eq!(span(Duration::from_secs(72 * 3600)), "72 hours");
        assert_eq!(span(Duration::from_secs(3600)), "1 hour");
        assert_eq!(span(Duration::from_secs(90 * 60)), "90 minutes");
        assert_eq!(span(Duration::from_secs(5)), "5 seconds");
        assert_eq!(utc(1_796_104_077_000), "Tue, 01 Dec 2026 05:47:57 GMT");
    }
}
