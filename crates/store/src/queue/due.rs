//! What is due for a claim: the earliest due heads of each integration
//! within its room, read from each integration's own index, and which of
//! them the claim leases.

use std::collections::HashMap;

use crate::sql::Sql;
use crate::write_conn::WriteConn;
use crate::Result;

/// A due delivery: a retry or a first attempt, when it came due, its id and
/// its integration. Sorted, first attempts come before retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Due {
    retry: bool,
    next_at: i64,
    id: i64,
    integration_id: i64,
}

impl Due {
    /// A first attempt due at `next_at`.
    pub(crate) fn first(next_at: i64, id: i64, integration_id: i64) -> Due {
        Due {
            retry: false,
            next_at,
            id,
            integration_id,
        }
    }
}

/// A row of the due query: retry (0 or 1), next_at, id, integration_id.
pub(crate) type DueRow = (i64, i64, i64, i64);

impl From<DueRow> for Due {
    fn from((retry, next_at, id, integration_id): DueRow) -> Due {
        Due {
            retry: retry != 0,
            next_at,
            id,
            integration_id,
        }
    }
}

/// SQLite: up to `room` (and `limit`) of the earliest due first attempts
/// and as many retries of each integration, in one statement. Each
/// integration and kind is a range scan of its own: a long backlog of one
/// integration that is excluded from this claim (its lane is full) costs
/// nothing to skip.
pub(crate) async fn due(
    conn: &mut WriteConn<'_>,
    integrations: &[(i64, i64)],
    now: i64,
    limit: i64,
) -> Result<Vec<Due>> {
    let mut out = vec![];
    // Two selects per integration; SQLite allows 500 in one compound select.
    for chunk in integrations.chunks(100) {
        let mut q = Sql::on(conn, "");
        for (n, (integration_id, room)) in chunk.iter().enumerate() {
            for retry in [false, true] {
                if n > 0 || retry {
                    q.push(" UNION ALL ");
                }
                q.push(&format!(
                    "SELECT * FROM (SELECT CAST({} AS BIGINT), next_at, id, integration_id FROM deliveries WHERE integration_id = ",
                    retry as i64
                ))
                .i64(*integration_id);
                q.push(" AND state = 'pending' AND ").push(kind(retry));
                q.push(" AND next_at <= ").i64(now);
                q.push(" ORDER BY next_at, id LIMIT ").i64(limit.min(*room));
                q.push(&format!(") AS d{n}_{}", retry as i64));
            }
        }
        let rows: Vec<DueRow> = conn.fetch_all(&q).await?;
        out.extend(rows.into_iter().map(Due::from));
    }
    Ok(out)
}

/// PostgreSQL: the due query's rows of the earliest due first attempts (or
/// retries) of each integration of `source` (a table of `id` and `room`),
/// up to its room: one statement whatever the number of integrations, so
/// that it is parsed once and planned in a fraction of the time (planning
/// a compound select of two selects per integration took 1.4 ms for 10
/// integrations, this 0.3 ms).
pub(crate) fn due_lateral(q: &mut Sql, retry: bool, now: i64, source: &str) {
    q.push(&format!(
        "SELECT CAST({} AS BIGINT), d.next_at, d.id, d.integration_id FROM {source} CROSS JOIN LATERAL (SELECT next_at, id, integration_id FROM deliveries WHERE integration_id = {source}.id AND state = 'pending' AND {} AND next_at <= ",
        retry as i64,
        kind(retry)
    ))
    .i64(now)
    .push(&format!(" ORDER BY next_at, id LIMIT {source}.room) AS d"));
}

fn kind(retry: bool) -> &'static str {
    if retry {
        "attempts > 0"
    } else {
        "attempts = 0"
    }
}

/// What a claim leases of the due deliveries: the earliest first attempts,
/// then retries, which always get a share (an eighth of the limit at least)
/// so that neither can starve the other. First attempts and retries share
/// each integration's room (its lane's, and under a cluster cap the cap's).
pub(crate) fn pick(mut due: Vec<Due>, rooms: &[(i64, i64)], limit: i64) -> Vec<i64> {
    due.sort_unstable();
    let limit = limit.max(0) as usize;
    let mut room: HashMap<i64, i64> = rooms.iter().copied().collect();
    let firsts = due.iter().filter(|d| !d.retry).count().min(limit);
    let retries = (limit - firsts).max((limit / 8).max(1));
    let mut picked = Vec::with_capacity(firsts + retries);
    let (mut taken_first, mut taken_retry) = (0, 0);
    for d in &due {
        let taken = if d.retry {
            &mut taken_retry
        } else {
            &mut taken_first
        };
        if *taken >= if d.retry { retries } else { firsts } {
            continue;
        }
        let r = room.entry(d.integration_id).or_insert(0);
        if *r <= 0 {
            continue;
        }
        *r -= 1;
        *taken += 1;
        picked.push(d.id);
    }
    picked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(retry: bool, next_at: i64, id: i64, integration_id: i64) -> Due {
        Due {
            retry,
            next_at,
            id,
            integration_id,
        }
    }

    #[test]
    fn first_attempts_go_first_and_retries_keep_an_eighth() {
        let mut all: Vec<Due> = (0..20).map(|i| due(true, i, 100 + i, 1)).collect();
        all.extend((0..20).map(|i| due(false, 50 + i, i, 1)));
        let picked = pick(all, &[(1, 100)], 16);
        assert_eq!(picked.len(), 16 + 2, "16 first attempts and 2 retries");
        assert_eq!(picked[..16], (0..16).collect::<Vec<i64>>()[..]);
        assert_eq!(picked[16..], [100, 101], "the oldest retries");
        let only_retries: Vec<Due> = (0..20).map(|i| due(true, i, i, 1)).collect();
        assert_eq!(pick(only_retries, &[(1, 100)], 16).len(), 16);
    }

    #[test]
    fn first_attempts_and_retries_share_each_integrations_room() {
        let mut all: Vec<Due> = (0..5).map(|i| due(false, i, i, 1)).collect();
        all.extend((0..5).map(|i| due(true, i, 10 + i, 1)));
        all.extend((0..5).map(|i| due(true, i, 20 + i, 2)));
        let picked = pick(all, &[(1, 6), (2, 2)], 100);
        assert_eq!(picked, vec![0, 1, 2, 3, 4, 10, 20, 21]);
    }
}
