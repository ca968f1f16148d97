//! What `/metrics` reads of the queue: pending deliveries and the age of the
//! oldest, overall and per webhook, and how many integrations are disabled.

use std::collections::HashMap;

use dutyhook_domain::ids::IntegrationId;
use dutyhook_domain::integration::IntegrationKind;
use sqlx::AnyPool;

use super::fifo::OPEN;
use crate::sql::Sql;
use crate::types::DeliveryStats;
use crate::Result;

pub(crate) async fn delivery_stats(read: &AnyPool) -> Result<DeliveryStats> {
    let mut open = Sql::new("SELECT COUNT(*), MIN(created_at) FROM deliveries WHERE ");
    open.push(OPEN);
    let (pending, oldest): (i64, Option<i64>) = open.query_as().fetch_one(read).await?;
    let integrations: Vec<(i64, i64, String)> =
        sqlx::query_as("SELECT id, enabled, kind FROM integrations")
            .fetch_all(read)
            .await?;
    let webhooks: Vec<i64> = integrations
        .iter()
        .filter(|(_, _, kind)| IntegrationKind::QUEUED.iter().any(|k| k.as_str() == kind))
        .map(|(id, _, _)| *id)
        .collect();
    // One index seek per webhook (deliveries_open), then their times: a
    // GROUP BY would read every open delivery.
    let mut heads = vec![];
    for id in &webhooks {
        let mut q = Sql::new("SELECT MIN(id) FROM deliveries WHERE integration_id = ");
        q.i64(*id).push(" AND ").push(OPEN);
        let (head,): (Option<i64>,) = q.query_as().fetch_one(read).await?;
        heads.extend(head);
    }
    let mut oldest_of: HashMap<i64, i64> = HashMap::new();
    for chunk in heads.chunks(500) {
        let mut q = Sql::new("SELECT integration_id, created_at FROM deliveries WHERE id IN ");
        q.list_i64(chunk);
        let rows: Vec<(i64, i64)> = q.query_as().fetch_all(read).await?;
        oldest_of.extend(rows);
    }
    Ok(DeliveryStats {
        pending,
        oldest_pending_at: oldest.unwrap_or(0),
        oldest_pending_by_integration: webhooks
            .iter()
            .map(|id| (IntegrationId(*id), oldest_of.get(id).copied().unwrap_or(0)))
            .collect(),
        disabled_integrations: integrations.iter().filter(|(_, e, _)| *e == 0).count() as i64,
    })
}
