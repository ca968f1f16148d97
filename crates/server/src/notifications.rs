//! E-mail notifications: the SMTP server handed to the dispatcher, the
//! built-in e-mail integration kept in step with the configuration, and
//! re-notify rounds queued for incidents nobody acknowledged (one process
//! of a cluster at a time; each round is queued once whoever gets there).

use std::time::Duration;

use dutyhook_store::IntegrationRecord;

use crate::error::ApiError;
use crate::leadership::leads;
use crate::runtime::{Runtime, Shutdown};

/// Why the e-mail integration is disabled while no SMTP server is set.
pub const NO_SMTP: &str = "no SMTP server is configured (smtp.url)";

/// With an SMTP server: the e-mail integration, made (or enabled again)
/// now. Without: disabled if it exists, so its deliveries are recorded as
/// skipped rather than wait for a server.
pub async fn prepare(app: &Runtime) -> Result<Option<IntegrationRecord>, ApiError> {
    if app.mailer.is_none() {
        let found = app.store.find_mail_integration().await?;
        for r in found.iter().filter(|r| r.enabled) {
            app.store
                .set_integration_enabled(r.integration_id, false, NO_SMTP)
                .await?;
        }
        return Ok(None);
    }
    let mut record = app.store.mail_integration().await?;
    if !record.enabled && record.disabled_reason == NO_SMTP {
        app.store
            .set_integration_enabled(record.integration_id, true, "")
            .await?;
        record.enabled = true;
    }
    Ok(Some(record))
}

/// Prepares the e-mail integration, then queues re-notify rounds as they
/// come due, checking every `every`.
pub async fn renotify(app: Runtime, every: Duration, mut shutdown: Shutdown) {
    let mail = loop {
        match prepare(&app).await {
            Ok(Some(r)) => break r,
            Ok(None) => return,
            Err(e) => {
                tracing::warn!(error = %e, "the e-mail integration could not be prepared; will retry")
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = shutdown.changed() => return,
        }
    };
    loop {
        if leads(&app, "renotify").await {
            if let Err(e) = queue_due(&app, &mail).await {
                tracing::warn!(error = %e, "re-notify pass failed; will retry");
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(every) => {}
            _ = shutdown.changed() => return,
        }
    }
}

/// Queues every round due now; answers how many this process queued.
pub async fn queue_due(app: &Runtime, mail: &IntegrationRecord) -> Result<usize, ApiError> {
    let now_ms = app.clock.now_ms();
    let mut queued = 0;
    for due in app.store.due_rounds(now_ms.div_euclid(1000), 100).await? {
        if app
            .store
            .start_round(&due, mail.integration_id)
            .await?
            .is_some()
        {
            tracing::debug!(incident_id = %due.incident_id, round = due.round, "re-notify round queued");
            queued += 1;
        }
    }
    Ok(queued)
}
