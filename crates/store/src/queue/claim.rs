//! Claiming due deliveries in a write batch: the heads of each integration
//! within its room, first attempts before retries (which always get a
//! share), leased to this process in one statement that also brings back
//! their events.

use std::collections::HashMap;
use std::sync::Arc;

use dutyhook_domain::ids::{DeliveryId, IntegrationId};

use super::due::Due;
use crate::sql::Sql;
use crate::topology::Backend;
use crate::types::{stored_event_type, stored_subject_kind};
use crate::write_conn::WriteConn;
use crate::{ClaimBudget, ClaimedDelivery, Result, StoreError, StoredEvent};

/// Leases due heads within `wants` (the claimer's budget, read before the
/// batch began): first attempts before retries, each from its own index, so
/// a backlog of retries never holds back fresh events.
pub(crate) async fn claim(
    conn: &mut WriteConn<'_>,
    backend: Backend,
    wants: &ClaimBudget,
    owner: &str,
) -> Result<Vec<ClaimedDelivery>> {
    let now = crate::sql::now_ms();
    if wants.limit <= 0 {
        return Ok(vec![]);
    }
    let (candidates, rooms) = match backend {
        Backend::Postgres => super::due::due_with_rooms(conn, wants, now).await?,
        Backend::Sqlite => super::due::rooms_then_due(conn, wants, now).await?,
    };
    let ids = pick(candidates, &rooms, wants.limit);
    if ids.is_empty() {
        return Ok(vec![]);
    }
    // The events come back with their deliveries: one round trip, not two.
    let mut q = Sql::on(
        conn,
        "UPDATE deliveries SET state = 'leased', lease_until = ",
    );
    q.i64(now + wants.lease_ms);
    q.push(", lease_owner = ").text(owner);
    q.push(" WHERE id IN (SELECT id FROM deliveries WHERE state = 'pending' AND id IN ")
        .list_i64(&ids);
    q.push(crate::dialect::skip_locked(backend));
    q.push(") RETURNING id, integration_id, attempts, event_seq");
    for col in [
        "event_id",
        "event_type",
        "subject_kind",
        "subject_id",
        "event_time",
        "payload",
    ] {
        q.push(&format!(
            ", (SELECT {col} FROM events WHERE events.seq = deliveries.event_seq) AS {col}"
        ));
    }
    let mut rows: Vec<LeasedRow> = conn.fetch_all(&q).await?;
    rows.sort_unstable_by_key(|r| r.id);
    // Fan-out leases one event to several integrations: they share it.
    let mut events: HashMap<i64, Arc<StoredEvent>> = HashMap::with_capacity(rows.len());
    rows.into_iter()
        .map(|r| {
            let event = match events.get(&r.event_seq) {
                Some(e) => e.clone(),
                None => {
                    let e = Arc::new(r.event()?);
                    events.insert(r.event_seq, e.clone());
                    e
                }
            };
            Ok(ClaimedDelivery {
                delivery_id: DeliveryId(r.id),
                integration_id: IntegrationId(r.integration_id),
                attempts: r.attempts,
                event,
            })
        })
        .collect()
}

row_struct! {
    /// A delivery as the claim leased it, with its event (NULL if the event is
    /// missing, which a foreign key forbids).
    pub(crate) struct LeasedRow {
        id: i64,
        integration_id: i64,
        attempts: i64,
        event_seq: i64,
        event_id: Option<String>,
        event_type: Option<String>,
        subject_kind: Option<String>,
        subject_id: Option<String>,
        event_time: Option<i64>,
        payload: Option<String>,
    }
}

impl LeasedRow {
    fn event(&self) -> Result<StoredEvent> {
        let missing = || {
            StoreError::Corrupt(format!(
                "delivery {}: event {} is missing",
                self.id, self.event_seq
            ))
        };
        Ok(StoredEvent {
            seq: self.event_seq,
            event_id: self.event_id.clone().ok_or_else(missing)?.into(),
            event_type: stored_event_type(self.event_type.as_deref().ok_or_else(missing)?)?,
            subject_kind: stored_subject_kind(self.subject_kind.as_deref().ok_or_else(missing)?)?,
            subject_id: self.subject_id.clone().ok_or_else(missing)?,
            event_time: self.event_time.ok_or_else(missing)?,
            payload: self.payload.clone().ok_or_else(missing)?,
        })
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
