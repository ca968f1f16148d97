//! What is due for a claim: each integration's room (how many more it may
//! lease) and its earliest due first attempts and retries within it.

use dutyhook_domain::ids::IntegrationId;
use dutyhook_domain::integration::IntegrationKind;

use crate::sql::Sql;
use crate::write_conn::WriteConn;
use crate::{ClaimBudget, Result};

fn queued_kinds() -> Vec<String> {
    IntegrationKind::QUEUED
        .iter()
        .map(|k| k.as_str().to_string())
        .collect()
}

/// `… FROM integrations i [LEFT JOIN the leases others hold, l] joins WHERE`
/// the integrations a claim may lease for; with a cluster cap, `l.n` is how
/// many leases of each other processes hold.
fn push_claimable(q: &mut Sql, wants: &ClaimBudget, now: i64, joins: &str) {
    q.push(" FROM integrations i");
    if wants.cluster_cap.is_some() {
        q.push(
            " LEFT JOIN (SELECT integration_id, COUNT(*) AS n FROM deliveries WHERE state = 'leased'",
        );
        if !wants.own.is_empty() {
            q.push(" AND id NOT IN ").list_i64(&wants.own);
        }
        q.push(" GROUP BY integration_id) l ON l.integration_id = i.id");
    }
    q.push(joins);
    q.push(" WHERE i.kind IN ").list_text(&queued_kinds());
    if !wants.exclude.is_empty() {
        q.push(" AND i.id NOT IN ").list_i64(&wants.exclude);
    }
    q.push(" AND i.id NOT IN (SELECT integration_id FROM circuits WHERE open_until > ")
        .i64(now)
        .push(")");
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

/// How many one integration may lease now, given the leases other
/// processes hold of it.
fn room(wants: &ClaimBudget, integration_id: i64, others: i64) -> i64 {
    let room = wants.room(IntegrationId(integration_id));
    match wants.cluster_cap {
        Some(cap) => cluster_room(
            room,
            cap,
            others,
            wants
                .held
                .get(&IntegrationId(integration_id))
                .copied()
                .unwrap_or(0),
        ),
        None => room,
    }
}

/// SQLite: the integrations and their rooms, then what is due within them.
pub(crate) async fn rooms_then_due(
    conn: &mut WriteConn<'_>,
    wants: &ClaimBudget,
    now: i64,
) -> Result<(Vec<Due>, Vec<(i64, i64)>)> {
    let mut q = Sql::on(conn, "SELECT i.id, ");
    q.push(if wants.cluster_cap.is_some() {
        "COALESCE(l.n, 0)"
    } else {
        "CAST(0 AS BIGINT)"
    });
    push_claimable(&mut q, wants, now, "");
    let mut rooms: Vec<(i64, i64)> = conn
        .fetch_all::<(i64, i64)>(&q)
        .await?
        .into_iter()
        .map(|(id, others)| (id, room(wants, id, others)))
        .collect();
    rooms.retain(|(_, room)| *room > 0);
    if rooms.is_empty() {
        return Ok((vec![], rooms));
    }
    let due = due(conn, &rooms, now, wants.limit).await?;
    Ok((due, rooms))
}

/// PostgreSQL: the same in one statement (a round trip is most of what a
/// statement costs there). Each integration's due rows come from a
/// `LATERAL` scan limited by its lane's room; the cluster's cap, which
/// needs the leases others hold, is applied to the rows read, so a claim
/// may read a few rows more than it leases when other processes hold
/// leases of the integration.
pub(crate) async fn due_with_rooms(
    conn: &mut WriteConn<'_>,
    wants: &ClaimBudget,
    now: i64,
) -> Result<(Vec<Due>, Vec<(i64, i64)>)> {
    let mut q = Sql::on(
        conn,
        "WITH lanes(id, room) AS (VALUES (CAST(0 AS BIGINT), CAST(0 AS BIGINT))",
    );
    for id in wants.lane_rooms.keys() {
        q.push(", (")
            .i64(id.0)
            .push(", ")
            .i64(wants.room(*id))
            .push(")");
    }
    q.push("), c AS (SELECT i.id, ");
    q.push(if wants.cluster_cap.is_some() {
        "COALESCE(l.n, 0) AS others"
    } else {
        "CAST(0 AS BIGINT) AS others"
    });
    q.push(", COALESCE(lanes.room, ")
        .i64(wants.limit.min(wants.lane_depth))
        .push(") AS room");
    push_claimable(&mut q, wants, now, " LEFT JOIN lanes ON lanes.id = i.id");
    q.push(") SELECT d.retry, d.next_at, d.id, c.id, c.others FROM c CROSS JOIN LATERAL (");
    for retry in [false, true] {
        if retry {
            q.push(" UNION ALL ");
        }
        q.push(&format!(
            "(SELECT CAST({} AS BIGINT) AS retry, next_at, id FROM deliveries WHERE integration_id = c.id AND state = 'pending' AND {} AND next_at <= ",
            retry as i64,
            if retry { "attempts > 0" } else { "attempts = 0" }
        ))
        .i64(now)
        .push(" ORDER BY next_at, id LIMIT c.room)");
    }
    q.push(") d WHERE c.room > 0");
    let rows: Vec<(i64, i64, i64, i64, i64)> = conn.fetch_all(&q).await?;
    let mut rooms: Vec<(i64, i64)> = vec![];
    let mut due = Vec::with_capacity(rows.len());
    for (retry, next_at, id, integration_id, others) in rows {
        if !rooms.iter().any(|(i, _)| *i == integration_id) {
            rooms.push((integration_id, room(wants, integration_id, others)));
        }
        due.push(Due {
            retry: retry != 0,
            next_at,
            id,
            integration_id,
        });
    }
    Ok((due, rooms))
}

/// A due delivery: a retry or a first attempt, when it came due, its id and
/// its integration. Sorted, first attempts come before retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Due {
    pub retry: bool,
    pub next_at: i64,
    pub id: i64,
    pub integration_id: i64,
}

/// Up to `room` (and `limit`) of the earliest due first attempts and as many
/// retries of each integration, in one statement. Each integration and kind
/// is a range scan of its own: a long backlog of one integration that is
/// excluded from this claim (its lane is full) costs nothing to skip.
async fn due(
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
                q.push(" AND state = 'pending' AND ").push(if retry {
                    "attempts > 0"
                } else {
                    "attempts = 0"
                });
                q.push(" AND next_at <= ").i64(now);
                q.push(" ORDER BY next_at, id LIMIT ").i64(limit.min(*room));
                q.push(&format!(") AS d{n}_{}", retry as i64));
            }
        }
        let rows: Vec<(i64, i64, i64, i64)> = conn.fetch_all(&q).await?;
        out.extend(
            rows.into_iter()
                .map(|(retry, next_at, id, integration_id)| Due {
                    retry: retry != 0,
                    next_at,
                    id,
                    integration_id,
                }),
        );
    }
    Ok(out)
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
