//! Which integrations a claim may lease for and how much room each has:
//! its lane's, and under a cluster's cap what the other processes' leases
//! leave of it. On PostgreSQL the integrations, the other processes'
//! leases and what is due come back in one statement (one round trip, not
//! two); on SQLite a round trip costs nothing, and the due query is built
//! from the rooms.

use dutyhook_domain::ids::IntegrationId;
use dutyhook_domain::integration::IntegrationKind;

use super::due::{due, due_lateral, pick, Due, DueRow};
use super::fifo::Fresh;
use crate::sql::Sql;
use crate::topology::Backend;
use crate::write_conn::WriteConn;
use crate::{ClaimBudget, Result};

/// The ids a claim leases: the due heads within each integration's room,
/// `fresh` among them as first attempts due when they were made.
pub(crate) async fn due_within_rooms(
    conn: &mut WriteConn<'_>,
    wants: &ClaimBudget,
    owner: &str,
    now: i64,
    fresh: &[Fresh],
) -> Result<Vec<i64>> {
    let backend = conn.backend();
    let (rooms, mut candidates) = if backend == Backend::Postgres {
        let (others, due) = claimable_and_due(conn, wants, owner, now).await?;
        (rooms(wants, &others), due)
    } else {
        let mut q = Sql::on(conn, "");
        claimable(&mut q, backend, wants, owner, now);
        let others: Vec<(i64, i64)> = conn.fetch_all(&q).await?;
        let rooms = rooms(wants, &others);
        let due = if rooms.is_empty() {
            vec![]
        } else {
            due(conn, &rooms, now, wants.limit).await?
        };
        (rooms, due)
    };
    if rooms.is_empty() {
        return Ok(vec![]);
    }
    candidates.extend(
        fresh
            .iter()
            .map(|f| Due::first(f.at, f.id, f.integration_id)),
    );
    Ok(pick(candidates, &rooms, wants.limit))
}

/// The first column of a row of `claimable_and_due` that is an integration
/// and the leases others hold of it.
const INTEGRATION_ROW: i64 = 2;

/// PostgreSQL: the claimable integrations with the leases other processes
/// hold of each, and the due heads of each up to its lane's room and what
/// the others leave of the cluster's cap (ours may leave less: `pick` keeps
/// to it), in one statement.
/// The rooms of lanes go as arrays, so that the statement's text does not
/// change with them.
async fn claimable_and_due(
    conn: &mut WriteConn<'_>,
    wants: &ClaimBudget,
    owner: &str,
    now: i64,
) -> Result<(Vec<(i64, i64)>, Vec<Due>)> {
    let lanes: Vec<(i64, i64)> = (wants.lane_rooms.keys())
        .map(|id| (id.get(), wants.room(*id).max(0)))
        .collect();
    let beyond_lanes = wants.limit.min(wants.lane_depth).max(0);
    let mut q = Sql::on(conn, "WITH r AS (");
    claimable(&mut q, Backend::Postgres, wants, owner, now);
    // Under the cap, no more than the other processes' leases leave of
    // it: a bound only (ours are not counted here), which spares reading
    // heads that `pick` would leave out.
    let lane = |q: &mut Sql| {
        q.push("COALESCE(b.room, ").i64(beyond_lanes).push(")");
    };
    q.push("), v AS (SELECT r.id, CASE WHEN r.others = 0 THEN ");
    lane(&mut q);
    q.push(" ELSE LEAST(");
    lane(&mut q);
    q.push(", GREATEST(")
        .i64(wants.cluster_cap.unwrap_or(0))
        .push(" - r.others, 0)) END AS room FROM r LEFT JOIN unnest(")
        .array_i64(lanes.iter().map(|(id, _)| *id))
        .push(", ")
        .array_i64(lanes.iter().map(|(_, room)| *room))
        .push(") AS b(id, room) ON b.id = r.id)");
    // The integrations' rows first, told apart from the due query's rows
    // (retry 0 or 1) by their first column.
    q.push(" SELECT CAST(")
        .push(&INTEGRATION_ROW.to_string())
        .push(" AS BIGINT), r.others, CAST(0 AS BIGINT), r.id FROM r");
    for retry in [false, true] {
        q.push(" UNION ALL ");
        due_lateral(&mut q, retry, now, "v");
    }
    let rows: Vec<DueRow> = conn.fetch_all(&q).await?;
    let mut others = vec![];
    let mut due = Vec::with_capacity(rows.len());
    for row in rows {
        match row {
            (INTEGRATION_ROW, n, _, id) => others.push((id, n)),
            row => due.push(Due::from(row)),
        }
    }
    Ok((others, due))
}

/// `SELECT id, others`: the integrations that may be claimed for (queued
/// kinds, not excluded, circuit closed) and, under a cluster cap, how many
/// leases other processes (not `owner`) hold of each.
fn claimable(q: &mut Sql, backend: Backend, wants: &ClaimBudget, owner: &str, now: i64) {
    q.push("SELECT i.id, ");
    match wants.cluster_cap {
        Some(_) => {
            // Ours are this process's to count (`held`): those it pushed,
            // with the outcome on its way, take no room, and those this
            // batch leased as it inserted them are no one else's either.
            q.push("COALESCE(l.n, 0) AS others FROM integrations i LEFT JOIN (SELECT integration_id, COUNT(*) AS n FROM deliveries WHERE state = 'leased' AND lease_owner <> ")
                .text(owner);
            q.push(" GROUP BY integration_id) l ON l.integration_id = i.id");
        }
        None => {
            q.push("CAST(0 AS BIGINT) AS others FROM integrations i");
        }
    }
    q.push(" WHERE ").one_of(
        backend,
        "i.kind",
        &IntegrationKind::QUEUED.map(IntegrationKind::as_str),
    );
    if !wants.exclude.is_empty() {
        q.push(" AND i.id NOT IN ").list_i64(&wants.exclude);
    }
    // Not `NOT IN (SELECT …)`: SQLite would build a temporary b-tree of the
    // open circuits for every claim, where this is a key lookup.
    q.push(" AND NOT EXISTS (SELECT 1 FROM circuits c WHERE c.integration_id = i.id AND c.open_until > ")
        .i64(now)
        .push(")");
}

/// Each claimable integration's room, of those with any.
fn rooms(wants: &ClaimBudget, others: &[(i64, i64)]) -> Vec<(i64, i64)> {
    let held = |id| wants.held.get(&IntegrationId(id)).copied().unwrap_or(0);
    others
        .iter()
        .map(|&(id, others)| {
            let room = wants.room(IntegrationId(id));
            let room = match wants.cluster_cap {
                Some(cap) => cluster_room(room, cap, others, held(id)),
                None => room,
            };
            (id, room)
        })
        .filter(|(_, room)| *room > 0)
        .collect()
}

/// How many deliveries of one integration a claim may lease under the
/// cluster's cap, given the leases other processes hold (`others`) and ours
/// not yet pushed out (`held`).
///
/// Alone on the integration, our lanes are the cap and we may claim ahead
/// (`limit`): nothing else is in flight. Otherwise all leases stay within the
/// cap. Why that holds the cap in flight: a process claims ahead only when no
/// one else holds a lease; anyone claiming after it counts all its leases,
/// and its pushes in flight never exceed its leases.
pub(crate) fn cluster_room(limit: i64, cap: i64, others: i64, held: i64) -> i64 {
    if others == 0 {
        limit
    } else {
        limit.min(cap - others - held)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alone_a_process_claims_ahead_and_with_others_all_leases_stay_in_the_cap() {
        assert_eq!(cluster_room(512, 16, 0, 30), 512, "alone: the lanes limit");
        assert_eq!(cluster_room(512, 16, 4, 5), 7);
        assert_eq!(cluster_room(3, 16, 4, 5), 3);
        assert!(cluster_room(512, 16, 20, 0) <= 0, "others over the cap");
    }
}
