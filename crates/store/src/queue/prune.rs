//! Pruning finished deliveries and the key tails nobody queues behind, a
//! small write at a time: the queue's writes go on between the chunks
//! instead of waiting for one long statement (a single `DELETE … WHERE NOT
//! EXISTS` over 600,000 tails held the writer for over a second).

use super::fifo::{OPEN, OPEN_STATES};
use crate::sql::Sql;
use crate::store::SqlStore;
use crate::Result;

/// Rows per write: a few milliseconds of the writer each.
pub(crate) const CHUNK: i64 = 1000;

/// Between two writes of a prune: what the prune takes of the writer stays
/// a few per cent. Written back to back, the walk over 600,000 tails took
/// a tenth of the writer for eight seconds and 20 % of the pushes of a
/// 10-webhook load (measured second by second in a 100,000-create run).
pub(crate) const PAUSE: std::time::Duration = std::time::Duration::from_millis(25);

/// Deletes the tails of keys with nothing unfinished; answers how many.
/// Walks the tails by key, reading on the read pool and deleting only
/// what is still finished when the delete runs.
pub(crate) async fn prune_tails(store: &SqlStore, chunk: i64) -> Result<u64> {
    let mut after: Option<(String, i64)> = None;
    let mut pruned = 0;
    loop {
        let mut q = Sql::new(
            "SELECT t.subject_key, t.integration_id, d.state FROM delivery_tails t \
             LEFT JOIN deliveries d ON d.id = t.tail_id",
        );
        // Row values: both databases walk the primary key from the cursor.
        if let Some((s, i)) = &after {
            q.push(" WHERE (t.subject_key, t.integration_id) > (")
                .text(s.as_str());
            q.push(", ").i64(*i).push(")");
        }
        q.push(" ORDER BY t.subject_key, t.integration_id LIMIT ")
            .i64(chunk);
        let rows: Vec<(String, i64, Option<String>)> = q.query_as().fetch_all(&store.read).await?;
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            break;
        };
        after = Some((last.0.clone(), last.1));
        let any_finished = rows
            .iter()
            .any(|(_, _, state)| !state.as_deref().is_some_and(|s| OPEN_STATES.contains(&s)));
        if any_finished {
            // The page's key range, so the delete searches the primary key
            // (a list of keys would make it read every tail); what became
            // open meanwhile stays.
            let mut del =
                Sql::new("DELETE FROM delivery_tails WHERE (subject_key, integration_id) >= (");
            del.text(first.0.as_str()).push(", ").i64(first.1);
            del.push(") AND (subject_key, integration_id) <= (")
                .text(last.0.as_str());
            del.push(", ").i64(last.1).push(")");
            del.push(
                " AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = delivery_tails.tail_id AND ",
            )
            .push(OPEN)
            .push(")");
            pruned += store.exec_outside_kept(del).await?;
        }
        if (rows.len() as i64) < chunk {
            break;
        }
        tokio::time::sleep(PAUSE).await;
    }
    Ok(pruned)
}

/// Deletes finished deliveries created before `before_ms`, oldest first.
/// Ids grow with creation, so the walk stops at the first young one
/// instead of reading the rest of the table.
pub(crate) async fn prune_deliveries(store: &SqlStore, before_ms: i64, chunk: i64) -> Result<u64> {
    let mut first_young = Sql::new("SELECT id FROM deliveries WHERE created_at >= ");
    first_young.i64(before_ms).push(" ORDER BY id LIMIT 1");
    let upper: Option<(i64,)> = first_young.query_as().fetch_optional(&store.read).await?;
    let upper = upper.map_or(i64::MAX, |(id,)| id);
    let (mut from, mut pruned) = (0i64, 0u64);
    loop {
        let mut q =
            Sql::new("DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE id > ");
        q.i64(from).push(" AND id < ").i64(upper);
        q.push(" AND state IN ('done', 'failed', 'skipped') AND created_at < ")
            .i64(before_ms);
        q.push(" ORDER BY id LIMIT ")
            .i64(chunk)
            .push(") RETURNING id");
        let ids: Vec<i64> = store
            .writer
            .tx_outside_kept(move |c| {
                let q = q.clone();
                Box::pin(async move {
                    let rows: Vec<(i64,)> = q.query_as().fetch_all(&mut *c).await?;
                    Ok(rows.into_iter().map(|(id,)| id).collect())
                })
            })
            .await?;
        pruned += ids.len() as u64;
        match ids.iter().max() {
            Some(max) if ids.len() as i64 == chunk => from = *max,
            _ => break,
        }
        tokio::time::sleep(PAUSE).await;
    }
    Ok(pruned)
}
