//! PostgreSQL: the deliveries of events inserted by the same statement, as
//! its `WITH` parts, where each delivery has a key of its own with nothing
//! queued on it (their subjects were created in this batch). Each takes its
//! event's `seq` from the events' part, by the event's id: the deliveries
//! need no round trip of their own after the events'.

use std::collections::HashSet;

use super::fifo::{lead_state, Fresh, FreshLease, NewDelivery};
use crate::sql::Sql;
use crate::{Result, StoreError};

/// At most this many deliveries go with their events (eight values a row).
pub(crate) const DELIVERIES_WITH_EVENTS: usize = 1000;

/// A row the statement answers: `(EVENT_ROW, seq, 0, 0, event_id)` for an
/// event, `(DELIVERY_ROW, id, event_seq, integration_id, '')` for a
/// delivery.
pub(crate) type Row = (i64, i64, i64, i64, String);
const EVENT_ROW: i64 = 0;
const DELIVERY_ROW: i64 = 1;

/// Whether `rows` may go with their events: each of a subject created in
/// this batch and of a key of its own, and not too many.
pub(crate) fn may_go_with_events(rows: &[NewDelivery]) -> bool {
    let mut keys = HashSet::with_capacity(rows.len());
    !rows.is_empty()
        && rows.len() <= DELIVERIES_WITH_EVENTS
        && rows
            .iter()
            .all(|d| d.subject_created && keys.insert((d.integration_id, d.subject_key.as_str())))
}

/// After `events`, the name of a part answering `seq, event_id`: the parts
/// that insert `rows` (`event_ids[i]` the id of `rows[i]`'s event; their
/// `event_seq` is not read) and make each its key's tail, and the final
/// `SELECT` of the events' and the deliveries' [`Row`]s.
pub(crate) fn push_after_events(
    q: &mut Sql,
    events: &str,
    rows: &[NewDelivery],
    event_ids: &[&str],
    lease: Option<&FreshLease>,
) -> Result<()> {
    let (state, until, owner) = lead_state(lease);
    q.with_part(|q| {
        q.push(
            "INSERT INTO deliveries (event_seq, integration_id, subject_key, state, next_at, created_at, lease_until, lease_owner) \
             SELECT e.seq, v.i, v.s, v.st, v.n, v.n, v.u, v.o FROM (VALUES ",
        );
        for (n, (d, event_id)) in rows.iter().zip(event_ids).enumerate() {
            q.row_start();
            q.i64(n as i64).push(", ").text(*event_id).push(", ");
            q.i64(d.integration_id)
                .push(", ")
                .text(d.subject_key.clone())
                .push(", ");
            q.text(state).push(", ").i64(d.at).push(", ");
            q.i64(until).push(", ").text(owner).row_end();
        }
        q.push(") AS v(ord, ev, i, s, st, n, u, o) JOIN ")
            .push(events)
            .push(" e ON e.event_id = v.ev ORDER BY v.ord RETURNING id, event_seq, integration_id, subject_key");
        Ok(())
    })?;
    let deliveries = q.last_part();
    q.with_part(|q| {
        q.push(
            "INSERT INTO delivery_tails (integration_id, subject_key, tail_id) SELECT integration_id, subject_key, id FROM ",
        )
        .push(&deliveries)
        .push(" ON CONFLICT (subject_key, integration_id) DO UPDATE SET tail_id = excluded.tail_id");
        Ok(())
    })?;
    q.push(&format!(
        "SELECT CAST({EVENT_ROW} AS BIGINT), seq, CAST(0 AS BIGINT), CAST(0 AS BIGINT), event_id FROM {events} \
         UNION ALL SELECT CAST({DELIVERY_ROW} AS BIGINT), id, event_seq, integration_id, '' FROM {deliveries}"
    ));
    Ok(())
}

/// Each event's id and seq, of the rows the statement answered.
pub(crate) fn event_seqs(answered: &[Row]) -> impl Iterator<Item = (&str, i64)> {
    (answered.iter())
        .filter(|r| r.0 == EVENT_ROW)
        .map(|r| (r.4.as_str(), r.1))
}

/// With `lease`, each of `rows` (whose `event_seq` is now set) as
/// [`Fresh`]: each leads its key. Fails unless the statement answered
/// every one of them.
pub(crate) fn stored(
    rows: &[NewDelivery],
    answered: &[Row],
    lease: Option<&FreshLease>,
) -> Result<Vec<Fresh>> {
    let ids: std::collections::HashMap<(i64, i64), i64> = answered
        .iter()
        .filter(|r| r.0 == DELIVERY_ROW)
        .map(|&(_, id, seq, integration_id, _)| ((seq, integration_id), id))
        .collect();
    let mut fresh = vec![];
    for d in rows {
        let id = *ids.get(&(d.event_seq, d.integration_id)).ok_or_else(|| {
            StoreError::Corrupt(format!("delivery of event {} was not stored", d.event_seq))
        })?;
        if lease.is_some() {
            fresh.push(Fresh {
                id,
                integration_id: d.integration_id,
                event_seq: d.event_seq,
                at: d.at,
            });
        }
    }
    Ok(fresh)
}
