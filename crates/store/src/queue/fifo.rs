//! Order per (integration, subject): only the oldest unfinished delivery of
//! a key is `pending` (or `leased`); later ones are `waiting`, each pointing
//! to the next of its key (`next_id`), and `delivery_tails` holds each key's
//! newest, which a new delivery queues behind. Settling a head promotes its
//! successor. Claims therefore read heads only, however long the queue
//! behind them, and the order holds across processes because it lives in
//! the database.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::sql::{padded, Sql};
use crate::topology::Backend;
use crate::write_conn::WriteConn;
use crate::{Result, StoreError, StoredEvent};

/// A delivery to create with its event.
pub(crate) struct NewDelivery {
    pub event_seq: i64,
    pub integration_id: i64,
    pub subject_key: String,
    pub at: i64,
    /// Its subject was created in this very batch: nothing of its key can
    /// be queued before it, so its key's tail is not looked up.
    pub subject_created: bool,
}

/// A lease new deliveries take as they are inserted, where the batch's
/// claim will hand them out (see `claim::claim`).
#[derive(Debug, Clone)]
pub(crate) struct FreshLease {
    pub until: i64,
    pub owner: String,
}

/// A delivery leased as it was inserted: the batch's claim hands it out if
/// its integration has room, else makes it `pending`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Fresh {
    pub id: i64,
    pub integration_id: i64,
    pub event_seq: i64,
    pub at: i64,
}

/// New deliveries leased as they are inserted in a batch, and the lease.
#[derive(Debug, Default)]
pub(crate) struct Leasing {
    /// None: inserted `pending`, for the claim to find.
    pub lease: Option<FreshLease>,
    pub fresh: Vec<Fresh>,
    /// The events of `fresh` by their `seq`, as the batch stored them: the
    /// claim hands them out without reading them back.
    pub events: HashMap<i64, Arc<StoredEvent>>,
}

/// Six values a row: well under both databases' limits on bound values.
const DELIVERIES_PER_STATEMENT: usize = 1000;

/// Whether a delivery is unfinished: the condition of the index
/// `deliveries_open`, in its words, so that a query saying it can use the
/// index (comparisons rather than `IN`: see migration 0024). The one table
/// with a `state` column a query names must be `deliveries`.
pub(crate) const OPEN: &str = "(state = 'waiting' OR state = 'pending' OR state = 'leased')";
/// The states of [`OPEN`], for rows already read.
pub(crate) const OPEN_STATES: [&str; 3] = ["waiting", "pending", "leased"];

/// `WITH v(i, s) AS (VALUES ($1, $2), …)` for (integration, subject) keys.
pub(crate) fn keys_cte(q: &mut Sql, keys: &[(i64, &str)]) {
    q.push("WITH v(i, s) AS (VALUES ");
    for (n, (i, s)) in keys.iter().enumerate() {
        q.push(if n == 0 { "(" } else { ", (" });
        q.i64(*i).push(", ").text(*s).push(")");
    }
    q.push(") ");
}

/// Inserts deliveries, in order: each is `pending` when nothing of its key is
/// unfinished, else `waiting`, linked from the key's newest delivery (its
/// `next_id`) and made the key's tail. Answers their ids, in order.
pub(crate) async fn insert_deliveries(
    conn: &mut WriteConn<'_>,
    rows: &[NewDelivery],
) -> Result<Vec<i64>> {
    Ok(insert_leasing(conn, rows, None).await?.0)
}

/// As [`insert_deliveries`]; with `lease`, those that lead their key are
/// `leased` under it instead of `pending`, and answered as [`Fresh`] too.
pub(crate) async fn insert_leasing(
    conn: &mut WriteConn<'_>,
    rows: &[NewDelivery],
    lease: Option<&FreshLease>,
) -> Result<(Vec<i64>, Vec<Fresh>)> {
    if rows.is_empty() {
        return Ok((vec![], vec![]));
    }
    let mut tails = open_tails(conn, rows).await?;
    // Each a key of its own, none queued behind: no delivery links to
    // another, and each is its key's new tail. On PostgreSQL the tails are
    // then written by the same statement: one round trip instead of two.
    let unlinked = tails.is_empty() && {
        let mut seen = HashSet::with_capacity(rows.len());
        rows.iter()
            .all(|d| seen.insert((d.integration_id, d.subject_key.as_str())))
    };
    let tails_with_rows = unlinked && conn.postgres() && rows.len() <= DELIVERIES_PER_STATEMENT;
    let ids = insert_rows(conn, rows, &tails, tails_with_rows, lease).await?;
    let mut in_order = Vec::with_capacity(rows.len());
    let mut fresh = vec![];
    let mut links: Vec<(i64, i64)> = vec![];
    for d in rows {
        let id = *ids.get(&(d.event_seq, d.integration_id)).ok_or_else(|| {
            StoreError::Corrupt(format!("delivery of event {} was not stored", d.event_seq))
        })?;
        match tails.insert((d.integration_id, d.subject_key.clone()), id) {
            Some(prev) => links.push((prev, id)),
            None if lease.is_some() => fresh.push(Fresh {
                id,
                integration_id: d.integration_id,
                event_seq: d.event_seq,
                at: d.at,
            }),
            None => {}
        }
        in_order.push(id);
    }
    link(conn, &links).await?;
    if !tails_with_rows {
        write_tails(conn, &tails).await?;
    }
    Ok((in_order, fresh))
}

/// The unfinished tail of each key of `rows`: what a new delivery queues
/// behind. Keys of subjects created in this batch have none.
async fn open_tails(
    conn: &mut WriteConn<'_>,
    rows: &[NewDelivery],
) -> Result<HashMap<(i64, String), i64>> {
    let mut keys: Vec<(i64, &str)> = rows
        .iter()
        .filter(|d| !d.subject_created)
        .map(|d| (d.integration_id, d.subject_key.as_str()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let mut tails = HashMap::new();
    for chunk in keys.chunks(1000) {
        let mut q = Sql::on(conn, "");
        keys_cte(&mut q, chunk);
        q.push(
            "SELECT t.integration_id, t.subject_key, t.tail_id FROM v \
                JOIN delivery_tails t ON t.integration_id = v.i AND t.subject_key = v.s \
                JOIN deliveries d ON d.id = t.tail_id WHERE ",
        )
        .push(OPEN);
        let found: Vec<(i64, String, i64)> = conn.fetch_all(&q).await?;
        tails.extend(found.into_iter().map(|(i, s, t)| ((i, s), t)));
    }
    Ok(tails)
}

/// The rows themselves (with their keys' tails when `tails_with_rows`, as
/// a `WITH` part); answers each one's id by (event, integration).
async fn insert_rows(
    conn: &mut WriteConn<'_>,
    rows: &[NewDelivery],
    tails: &HashMap<(i64, String), i64>,
    tails_with_rows: bool,
    lease: Option<&FreshLease>,
) -> Result<HashMap<(i64, i64), i64>> {
    let mut busy: HashSet<(i64, &str)> = tails.keys().map(|(i, s)| (*i, s.as_str())).collect();
    let mut ids = HashMap::with_capacity(rows.len());
    for chunk in rows.chunks(DELIVERIES_PER_STATEMENT) {
        let mut q = Sql::on(conn, "");
        if tails_with_rows {
            q.with_part(|q| {
                push_rows(q, chunk, &mut busy, lease);
                q.push(" RETURNING id, event_seq, integration_id, subject_key");
                Ok(())
            })?;
            q.with_part(|q| {
                q.push(
                    "INSERT INTO delivery_tails (integration_id, subject_key, tail_id) \
                     SELECT integration_id, subject_key, id FROM w0 \
                     ON CONFLICT (subject_key, integration_id) DO UPDATE SET tail_id = excluded.tail_id",
                );
                Ok(())
            })?;
            q.push("SELECT id, event_seq, integration_id FROM w0");
        } else {
            push_rows(&mut q, chunk, &mut busy, lease);
            if let Some(rowids) = conn.inserted_rowids(&q)? {
                let keys = chunk.iter().map(|d| (d.event_seq, d.integration_id));
                ids.extend(keys.zip(rowids));
                continue;
            }
            q.push(" RETURNING id, event_seq, integration_id");
        }
        let found: Vec<(i64, i64, i64)> = conn.fetch_all(&q).await?;
        ids.extend(found.into_iter().map(|(id, seq, i)| ((seq, i), id)));
    }
    Ok(ids)
}

/// `INSERT INTO deliveries … VALUES …` for `rows`: the first of a key not
/// in `busy` leads (`pending`, or `leased` under `lease`), the rest queue
/// behind it (`waiting`).
fn push_rows<'r>(
    q: &mut Sql,
    rows: &'r [NewDelivery],
    busy: &mut HashSet<(i64, &'r str)>,
    lease: Option<&FreshLease>,
) {
    q.push(
        "INSERT INTO deliveries (event_seq, integration_id, subject_key, state, next_at, created_at, lease_until, lease_owner) VALUES ",
    );
    for d in rows {
        let leads = busy.insert((d.integration_id, d.subject_key.as_str()));
        let (state, until, owner) = match leads {
            true => lead_state(lease),
            false => ("waiting", 0, ""),
        };
        q.row_start();
        q.i64(d.event_seq)
            .push(", ")
            .i64(d.integration_id)
            .push(", ");
        q.text(d.subject_key.clone())
            .push(", ")
            .text(state)
            .push(", ");
        q.i64(d.at).push(", ").i64(d.at).push(", ");
        q.i64(until).push(", ").text(owner).row_end();
    }
}

/// The state, lease end and owner of a delivery that leads its key:
/// `leased` under `lease`, else `pending`.
pub(crate) fn lead_state(lease: Option<&FreshLease>) -> (&'static str, i64, &str) {
    match lease {
        Some(l) => ("leased", l.until, l.owner.as_str()),
        None => ("pending", 0, ""),
    }
}

/// Points each `prev` delivery at its `next`.
async fn link(conn: &mut WriteConn<'_>, links: &[(i64, i64)]) -> Result<()> {
    for chunk in links.chunks(500) {
        let mut q = Sql::on(conn, "UPDATE deliveries SET next_id = CASE id");
        for (prev, next) in padded(chunk) {
            q.push(" WHEN ").i64(*prev).push(" THEN ").i64(*next);
        }
        let prevs: Vec<i64> = chunk.iter().map(|(p, _)| *p).collect();
        q.push(" ELSE next_id END WHERE id IN ").list_i64(&prevs);
        conn.execute(&q).await?;
    }
    Ok(())
}

/// Makes each key's newest delivery its tail.
async fn write_tails(conn: &mut WriteConn<'_>, tails: &HashMap<(i64, String), i64>) -> Result<()> {
    let tails: Vec<(&(i64, String), &i64)> = tails.iter().collect();
    for chunk in tails.chunks(1000) {
        let mut q = Sql::on(
            conn,
            "INSERT INTO delivery_tails (integration_id, subject_key, tail_id) VALUES ",
        );
        for ((i, s), t) in chunk {
            q.row_start();
            q.i64(*i)
                .push(", ")
                .text(s.clone())
                .push(", ")
                .i64(**t)
                .row_end();
        }
        q.push(
            " ON CONFLICT (subject_key, integration_id) DO UPDATE SET tail_id = excluded.tail_id",
        );
        conn.execute(&q).await?;
    }
    Ok(())
}

/// Deliveries for disabled integrations: `skipped` from the start, outside
/// every key's chain (they wait for nothing and nothing waits for them).
pub(crate) async fn insert_skipped(conn: &mut WriteConn<'_>, rows: &[NewDelivery]) -> Result<()> {
    for chunk in rows.chunks(1000) {
        let mut q = Sql::on(
            conn,
            "INSERT INTO deliveries (event_seq, integration_id, subject_key, state, next_at, created_at) VALUES ",
        );
        for (i, d) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.i64(d.event_seq).push(", ").i64(d.integration_id);
            q.push(", ")
                .text(d.subject_key.clone())
                .push(", 'skipped', ");
            q.i64(d.at).push(", ").i64(d.at).push(")");
        }
        conn.execute(&q).await?;
    }
    Ok(())
}

/// `UPDATE deliveries SET <set>, next_at = CASE id … END WHERE id IN (…)`.
pub(crate) async fn update_with_next_at(
    conn: &mut WriteConn<'_>,
    set: &str,
    rows: &[(i64, i64)],
    extra_where: &str,
) -> Result<()> {
    for chunk in rows.chunks(500) {
        let mut q = Sql::on(conn, "UPDATE deliveries SET ");
        q.push(set).push(", next_at = CASE id");
        for (id, at) in padded(chunk) {
            q.push(" WHEN ").i64(*id).push(" THEN ").i64(*at);
        }
        q.push(" ELSE next_at END WHERE id IN ");
        let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
        q.list_i64(&ids).push(extra_where);
        conn.execute(&q).await?;
    }
    Ok(())
}

/// Marks deliveries done, failed or skipped and, in the same statement,
/// promotes the next delivery of each one's key (its `next_id`, if waiting)
/// to head. Skipped ones made no attempt.
pub(crate) async fn settle_finished(
    conn: &mut WriteConn<'_>,
    finished: &[(i64, End)],
) -> Result<()> {
    if conn.one_at_a_time(finished.len()) {
        return settle_each(conn, finished).await;
    }
    for chunk in finished.chunks(SETTLED_PER_STATEMENT) {
        let mut q = Sql::on(conn, "");
        push_settle(&mut q, conn.backend(), chunk);
        conn.execute(&q).await?;
    }
    Ok(())
}

/// How many deliveries one settling statement takes.
pub(crate) const SETTLED_PER_STATEMENT: usize = 1000;

/// As [`settle_finished`], a delivery at a time, each with two statements
/// that find their rows by key (`WriteConn::one_at_a_time`). The one
/// statement for all (`push_settle`) tests each row against lists after
/// `IN`, and SQLite builds a temporary b-tree for each such list on every
/// run: seven a batch, ~12,000 instructions each, more than a batch's few
/// deliveries cost one at a time.
async fn settle_each(conn: &mut WriteConn<'_>, finished: &[(i64, End)]) -> Result<()> {
    for &(id, end) in finished {
        // The next of its key, if waiting, leads it now; settling the
        // delivery itself leaves its `next_id` as it was.
        let mut promote = Sql::on(
            conn,
            "UPDATE deliveries SET state = 'pending' WHERE id = (SELECT next_id FROM deliveries WHERE id = ",
        );
        promote.i64(id).push(") AND state = 'waiting'");
        conn.execute(&promote).await?;
        let mut settle = Sql::on(conn, "UPDATE deliveries SET state = ");
        settle
            .text(end.state())
            .push(", attempts = attempts + ")
            .i64(i64::from(end != End::Skipped))
            .push(", lease_until = 0 WHERE id = ")
            .i64(id);
        conn.execute(&settle).await?;
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
pub(crate) enum End {
    Done,
    Failed,
    Skipped,
}

impl End {
    fn state(self) -> &'static str {
        match self {
            End::Done => "done",
            End::Failed => "failed",
            End::Skipped => "skipped",
        }
    }
}

pub(crate) fn finished(done: &[i64], failed: &[i64], skipped: &[i64]) -> Vec<(i64, End)> {
    done.iter()
        .map(|id| (*id, End::Done))
        .chain(failed.iter().map(|id| (*id, End::Failed)))
        .chain(skipped.iter().map(|id| (*id, End::Skipped)))
        .collect()
}

/// The `UPDATE` of [`settle_finished`] for one chunk.
pub(crate) fn push_settle(q: &mut Sql, backend: Backend, chunk: &[(i64, End)]) {
    let of = |end: End| -> Vec<i64> {
        chunk
            .iter()
            .filter(|(_, e)| *e == end)
            .map(|(id, _)| *id)
            .collect()
    };
    let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
    let attempted: Vec<i64> = chunk
        .iter()
        .filter(|(_, e)| *e != End::Skipped)
        .map(|(id, _)| *id)
        .collect();
    let among = |q: &mut Sql, ids: &[i64]| match backend {
        // One array each, bound as one value and made once a run: a list
        // after `IN` is an array PostgreSQL builds again for every row the
        // `CASE`s test (at 10 webhooks ~110 rows a batch, and five lists
        // of up to 256 values), and its text, a statement of its own,
        // varied with the number of deliveries.
        Backend::Postgres => {
            q.push(" = ANY(")
                .array_once_i64(ids.iter().copied())
                .push(")");
        }
        Backend::Sqlite => {
            q.push(" IN ").list_i64(ids);
        }
    };
    // A row of the chunk in neither of the first two lists failed: the third
    // list is the whole chunk.
    q.push("UPDATE deliveries SET state = CASE");
    let (done, skipped) = (of(End::Done), of(End::Skipped));
    for (list, end) in [
        (&done, End::Done),
        (&skipped, End::Skipped),
        (&ids, End::Failed),
    ] {
        q.push(" WHEN id");
        among(q, list);
        q.push(&format!(" THEN '{}'", end.state()));
    }
    q.push(" WHEN state = 'waiting' THEN 'pending' ELSE state END");
    q.push(", attempts = CASE WHEN id");
    among(q, &attempted);
    q.push(" THEN attempts + 1 ELSE attempts END");
    q.push(", lease_until = CASE WHEN id");
    among(q, &ids);
    q.push(" THEN 0 ELSE lease_until END");
    // One IN over a union, not an OR of two: each side stays an index lookup.
    q.push(" WHERE id IN (SELECT next_id FROM deliveries WHERE next_id > 0 AND id");
    among(q, &ids);
    match backend {
        Backend::Postgres => {
            q.push(" UNION ALL SELECT unnest(")
                .array_i64(ids.iter().copied())
                .push("))");
        }
        Backend::Sqlite => {
            q.push(" UNION ALL VALUES ");
            for (n, id) in padded(&ids).enumerate() {
                q.push(if n == 0 { "(" } else { ", (" }).i64(*id).push(")");
            }
            q.push(")");
        }
    }
}
