//! Which process of a cluster runs a background role.

use crate::runtime::Runtime;

/// Whether this process runs `role` now: one process of a PostgreSQL cluster
/// at a time; whoever holds it keeps it until its session ends.
pub async fn leads(app: &Runtime, role: &str) -> bool {
    match app.store.try_lead(role).await {
        Ok(lead) => lead,
        Err(e) => {
            tracing::warn!(error = %e, role, "cannot tell who runs this background role");
            false
        }
    }
}
