//! How an integration's pushes have been going, read from its history and
//! its circuit: what the console shows instead of a bare "Enabled".

use sqlx::AnyPool;

use crate::sql::Sql;
use crate::types::{DeliveryHealth, FAILURE_STREAK_CAP};
use crate::Result;

pub(crate) async fn health(
    read: &AnyPool,
    integration_id: i64,
    now_ms: i64,
) -> Result<DeliveryHealth> {
    // The circuit first: it opens after the failure that opened it is
    // recorded and closes before the success that closed it is, so reading
    // it first never shows it open beside a history that disagrees.
    let mut circuit = Sql::new("SELECT open_until FROM circuits WHERE integration_id = ");
    circuit
        .i64(integration_id)
        .push(" AND open_until > ")
        .i64(now_ms);
    let open: Option<(i64,)> = circuit.query_as().fetch_optional(read).await?;
    let newest = |success: bool| {
        let mut q = Sql::new(
            "SELECT started_at, error_class, error FROM attempts WHERE test = 0 AND integration_id = ",
        );
        q.i64(integration_id)
            .push(" AND success = ")
            .i64(success as i64)
            .push(" ORDER BY started_at DESC LIMIT 1");
        q
    };
    let ok: Option<(i64, String, String)> = newest(true).query_as().fetch_optional(read).await?;
    let failed: Option<(i64, String, String)> =
        newest(false).query_as().fetch_optional(read).await?;
    let last_success_at = ok.map_or(0, |(at, _, _)| at);
    let mut streak = Sql::new(
        "SELECT COUNT(*) FROM (SELECT 1 FROM attempts WHERE test = 0 AND success = 0 AND integration_id = ",
    );
    streak
        .i64(integration_id)
        .push(" AND started_at > ")
        .i64(last_success_at)
        .push(" LIMIT ")
        .i64(FAILURE_STREAK_CAP)
        .push(") AS failures");
    let (failure_streak,): (i64,) = streak.query_as().fetch_one(read).await?;
    let mut since = Sql::new(
        "SELECT started_at FROM attempts WHERE test = 0 AND success = 0 AND integration_id = ",
    );
    since
        .i64(integration_id)
        .push(" AND started_at > ")
        .i64(last_success_at)
        .push(" ORDER BY started_at LIMIT 1");
    let failing_since: Option<(i64,)> = since.query_as().fetch_optional(read).await?;
    let mut skipped =
        Sql::new("SELECT COUNT(*) FROM deliveries WHERE state = 'skipped' AND integration_id = ");
    skipped.i64(integration_id);
    let (skipped,): (i64,) = skipped.query_as().fetch_one(read).await?;
    let (last_failure_at, last_error_class, last_error) = failed.unwrap_or_default();
    Ok(DeliveryHealth {
        last_success_at,
        last_failure_at,
        failure_streak,
        last_error_class,
        last_error,
        circuit_open_until: open.map_or(0, |(until,)| until),
        failing_since: failing_since.map_or(0, |(at,)| at),
        skipped,
    })
}
