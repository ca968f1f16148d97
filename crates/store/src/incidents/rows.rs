//! Incident rows: reading them, and writing them with their timeline and
//! their events (the outbox), each event with a delivery per subscribed
//! webhook.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use dutyhook_domain::event::{NewEvent, SubjectKind};
use dutyhook_domain::ids::{EventId, IncidentId};
use dutyhook_domain::incident::Incident;
use dutyhook_domain::timeline::TimelineEntry;

use crate::queue::fifo::{insert_leasing, Fresh, Leasing, NewDelivery};
use crate::queue::with_events;
use crate::sql::Sql;
use crate::subscribers::Subscribers;
use crate::write_conn::WriteConn;
use crate::{Result, StoreError, StoredEvent};

pub(crate) const SELECT_INCIDENT: &str = "SELECT i.doc, COALESCE(c.name, '') FROM incidents i LEFT JOIN channels c ON c.id = i.channel_id";

pub(crate) fn decode(rows: Vec<(String, String)>) -> Result<Vec<Incident>> {
    rows.into_iter()
        .map(|(doc, channel_name)| {
            let mut inc: Incident = serde_json::from_str(&doc)?;
            inc.channel_name = channel_name;
            Ok(inc)
        })
        .collect()
}

/// Columns of `incidents` written from an [`Incident`].
pub(crate) const INCIDENT_COLS: &str =
    "id, num, channel_id, progress, severity, start_time, created_at, created_ms, updated_at, \
     snoozed_before, title, description, labels_text, group_key, creator_id, closer_id, doc";

/// Writes incidents, many per statement.
pub(crate) async fn upsert_incidents(
    conn: &mut WriteConn<'_>,
    incidents: &[&Incident],
    docs: Option<&Docs>,
) -> Result<()> {
    for chunk in incidents.chunks(INCIDENTS_PER_STATEMENT) {
        let mut q = Sql::on(conn, "");
        push_incidents(&mut q, chunk, docs)?;
        conn.execute(&q).await?;
    }
    Ok(())
}

// 17 values a row: well under both databases' limits on bound values.
const INCIDENTS_PER_STATEMENT: usize = 500;
pub(crate) const TIMELINE_PER_STATEMENT: usize = 1000;
const EVENTS_PER_STATEMENT: usize = 1000;

/// `INSERT INTO incidents … ON CONFLICT … DO UPDATE` for `incidents`.
fn push_incidents(q: &mut Sql, incidents: &[&Incident], docs: Option<&Docs>) -> Result<()> {
    q.push(&format!("INSERT INTO incidents ({INCIDENT_COLS}) VALUES "));
    for inc in incidents {
        q.row_start();
        q.text(&inc.incident_id)
            .push(", ")
            .text(inc.num())
            .push(", ");
        q.i64(inc.channel_id)
            .push(", ")
            .text(inc.progress.as_str())
            .push(", ");
        q.text(inc.incident_severity.as_str())
            .push(", ")
            .i64(inc.start_time)
            .push(", ");
        q.i64(inc.created_at)
            .push(", ")
            .i64(inc.created_ms)
            .push(", ");
        q.i64(inc.updated_at)
            .push(", ")
            .i64(inc.snoozed_before)
            .push(", ");
        q.text(&inc.title)
            .push(", ")
            .text(&inc.description)
            .push(", ");
        q.text(inc.labels_text())
            .push(", ")
            .text(&inc.group_key)
            .push(", ");
        let person_id =
            |p: &Option<dutyhook_domain::person::Person>| p.as_ref().map_or(0, |p| p.person_id.0);
        q.i64(person_id(&inc.creator))
            .push(", ")
            .i64(person_id(&inc.closer))
            .push(", ");
        match docs.and_then(|d| d.get(&inc.incident_id)) {
            Some(doc) => q.text(&**doc),
            None => q.text(serde_json::to_string(inc)?),
        }
        .row_end();
    }
    q.push(
        " ON CONFLICT (id) DO UPDATE SET channel_id = excluded.channel_id, progress = excluded.progress, \
         severity = excluded.severity, start_time = excluded.start_time, updated_at = excluded.updated_at, \
         snoozed_before = excluded.snoozed_before, title = excluded.title, description = excluded.description, \
         labels_text = excluded.labels_text, group_key = excluded.group_key, closer_id = excluded.closer_id, \
         doc = excluded.doc",
    );
    Ok(())
}

pub(crate) async fn insert_timeline(
    conn: &mut WriteConn<'_>,
    entries: &[TimelineEntry],
) -> Result<()> {
    for chunk in entries.chunks(TIMELINE_PER_STATEMENT) {
        let mut q = Sql::on(conn, "");
        push_timeline(&mut q, chunk)?;
        conn.execute(&q).await?;
    }
    Ok(())
}

pub(crate) fn push_timeline(q: &mut Sql, entries: &[TimelineEntry]) -> Result<()> {
    q.push("INSERT INTO timeline (incident_id, kind, person, created_at, detail) VALUES ");
    for t in entries {
        q.row_start();
        q.text(&t.incident_id).push(", ").text(&t.kind).push(", ");
        q.opt_text(t.person.as_ref().map(serde_json::to_string).transpose()?)
            .push(", ");
        q.i64(t.created_at)
            .push(", ")
            .text(t.detail.to_string())
            .row_end();
    }
    Ok(())
}

/// What an operation changed: incidents, their timeline and their events.
#[derive(Default, Clone, Copy)]
pub(crate) struct Written<'a> {
    pub incidents: &'a [&'a Incident],
    pub timeline: &'a [TimelineEntry],
    pub events: &'a [NewEvent],
    /// Incidents created by this batch: no delivery of theirs can be queued
    /// yet, so their deliveries need not look for one to queue behind.
    pub created: Option<&'a HashSet<IncidentId>>,
    /// Documents already serialised for some of `incidents`.
    pub docs: Option<&'a Docs>,
}

/// Incidents' stored documents, by incident.
pub(crate) type Docs = HashMap<IncidentId, Arc<str>>;

/// Writes incidents, timeline and events (the outbox), then the events'
/// deliveries: one per subscribed webhook, with the subscription snapshot
/// in force now. Answers whether deliveries were queued.
///
/// On PostgreSQL the three go in one statement when each fits one (the
/// incidents and timeline as data-modifying `WITH` parts of the events'
/// `INSERT`): each statement is a round trip, and a batch's round trips,
/// not the server's work, were what its time went to. The deliveries go
/// in it too where each is of a subject created in the batch, on a key of
/// its own (`queue::with_events`).
pub(crate) async fn write(
    conn: &mut WriteConn<'_>,
    w: Written<'_>,
    subscribers: &mut Subscribers,
    leasing: &mut Leasing,
) -> Result<bool> {
    let together = conn.postgres()
        && !w.events.is_empty()
        && w.incidents.len() <= INCIDENTS_PER_STATEMENT
        && w.timeline.len() <= TIMELINE_PER_STATEMENT
        && w.events.len() <= EVENTS_PER_STATEMENT;
    let mut fanned = fan(conn, &w, subscribers).await?;
    let mut seqs: HashMap<EventId, i64> = HashMap::with_capacity(w.events.len());
    if together {
        let mut q = Sql::on(conn, "");
        if !w.incidents.is_empty() {
            q.with_part(|q| push_incidents(q, w.incidents, w.docs))?;
        }
        if !w.timeline.is_empty() {
            q.with_part(|q| push_timeline(q, w.timeline))?;
        }
        if with_events::may_go_with_events(&fanned.queued) {
            q.with_part(|q| {
                push_events(q, w.events);
                q.push(RETURNING_SEQ);
                Ok(())
            })?;
            let events = q.last_part();
            let lease = leasing.lease.as_ref();
            // Their events' seqs are not known yet: each takes its own in
            // the statement.
            with_events::push_after_events(
                &mut q,
                &events,
                &fanned.queued,
                &fanned.queued_events,
                lease,
            )?;
            let answered: Vec<with_events::Row> = conn.fetch_all(&q).await?;
            seqs.extend(
                with_events::event_seqs(&answered)
                    .map(|(id, seq)| (EventId::from(id.to_string()), seq)),
            );
            all_stored(&w, &seqs)?;
            fanned.number(&seqs);
            let fresh = with_events::stored(&fanned.queued, &answered, lease)?;
            return queued(conn, w, &seqs, fanned, fresh, leasing).await;
        }
        push_events(&mut q, w.events);
        q.push(RETURNING_SEQ);
        let rows: Vec<(i64, String)> = conn.fetch_all(&q).await?;
        seqs.extend(rows.into_iter().map(|(seq, id)| (EventId::from(id), seq)));
    } else {
        upsert_incidents(conn, w.incidents, w.docs).await?;
        insert_timeline(conn, w.timeline).await?;
        for chunk in w.events.chunks(EVENTS_PER_STATEMENT) {
            let mut q = Sql::on(conn, "");
            push_events(&mut q, chunk);
            if let Some(rowids) = conn.inserted_rowids(&q)? {
                seqs.extend(
                    chunk
                        .iter()
                        .zip(rowids)
                        .map(|(e, seq)| (e.event_id.clone(), seq)),
                );
                continue;
            }
            q.push(RETURNING_SEQ);
            let rows: Vec<(i64, String)> = conn.fetch_all(&q).await?;
            seqs.extend(rows.into_iter().map(|(seq, id)| (EventId::from(id), seq)));
        }
    }
    all_stored(&w, &seqs)?;
    fanned.number(&seqs);
    let (_, fresh) = insert_leasing(conn, &fanned.queued, leasing.lease.as_ref()).await?;
    queued(conn, w, &seqs, fanned, fresh, leasing).await
}

/// Fails unless every event of `w` has its seq.
fn all_stored(w: &Written<'_>, seqs: &HashMap<EventId, i64>) -> Result<()> {
    match w.events.iter().find(|e| !seqs.contains_key(&e.event_id)) {
        Some(e) => Err(StoreError::Corrupt(format!(
            "event {} was not stored",
            e.event_id
        ))),
        None => Ok(()),
    }
}

/// What an events `INSERT` answers where it answers rows.
const RETURNING_SEQ: &str = " RETURNING seq, event_id";

/// `INSERT INTO events …` for `events`.
fn push_events(q: &mut Sql, events: &[NewEvent]) {
    q.push("INSERT INTO events (event_id, event_type, subject_kind, subject_id, event_time, payload) VALUES ");
    for e in events {
        q.row_start();
        q.text(&e.event_id)
            .push(", ")
            .text(e.event_type.as_str())
            .push(", ");
        q.text(e.subject_kind.as_str())
            .push(", ")
            .text(&e.subject_id)
            .push(", ");
        q.i64(e.event_time_ms).push(", ").text(&e.payload).row_end();
    }
}

/// The deliveries of a batch's events, each beside its event's id: those
/// to queue and, for disabled integrations, those to record as skipped.
/// Their `event_seq` is 0 until [`Fanned::number`].
#[derive(Default)]
struct Fanned<'w> {
    queued: Vec<NewDelivery>,
    queued_events: Vec<&'w str>,
    skipped: Vec<NewDelivery>,
    skipped_events: Vec<&'w str>,
}

/// A delivery of each of `w`'s events per integration subscribed to it,
/// per the subscriptions in force now.
async fn fan<'w>(
    conn: &mut WriteConn<'_>,
    w: &Written<'w>,
    subscribers: &mut Subscribers,
) -> Result<Fanned<'w>> {
    let mut fanned = Fanned::default();
    if w.events.is_empty() {
        return Ok(fanned);
    }
    let subscribers = subscribers.get(conn).await?;
    for e in w.events {
        let subject_created = e.subject_kind == SubjectKind::Incident
            && w.created.is_some_and(|c| c.contains(e.subject_id.as_str()));
        for (integration_id, cfg, enabled) in subscribers.iter() {
            if cfg.subscribes(e.event_type, e.channel_id) {
                let (rows, events) = match enabled {
                    true => (&mut fanned.queued, &mut fanned.queued_events),
                    false => (&mut fanned.skipped, &mut fanned.skipped_events),
                };
                rows.push(NewDelivery {
                    event_seq: 0,
                    integration_id: *integration_id,
                    subject_key: e.subject_id.clone(),
                    at: e.event_time_ms,
                    subject_created,
                });
                events.push(e.event_id.as_str());
            }
        }
    }
    Ok(fanned)
}

impl Fanned<'_> {
    /// Gives each delivery its event's seq in `seqs`.
    fn number(&mut self, seqs: &HashMap<EventId, i64>) {
        let rows = (self.queued.iter_mut().zip(&self.queued_events))
            .chain(self.skipped.iter_mut().zip(&self.skipped_events));
        for (d, event_id) in rows {
            if let Some(&seq) = seqs.get(*event_id) {
                d.event_seq = seq;
            }
        }
    }
}

/// Once `fanned`'s deliveries to queue are stored (`fresh` of them leased
/// as they were): keeps the events of the fresh ones for the claim, and
/// records the skipped ones. Answers whether deliveries were queued.
async fn queued(
    conn: &mut WriteConn<'_>,
    w: Written<'_>,
    seqs: &HashMap<EventId, i64>,
    fanned: Fanned<'_>,
    fresh: Vec<Fresh>,
    leasing: &mut Leasing,
) -> Result<bool> {
    let fresh_seqs: HashSet<i64> = fresh.iter().map(|f| f.event_seq).collect();
    for e in w.events {
        match seqs.get(&e.event_id) {
            Some(&seq) if fresh_seqs.contains(&seq) => {
                leasing
                    .events
                    .entry(seq)
                    .or_insert_with(|| Arc::new(stored(seq, e)));
            }
            _ => {}
        }
    }
    leasing.fresh.extend(fresh);
    crate::queue::fifo::insert_skipped(conn, &fanned.skipped).await?;
    Ok(!fanned.queued.is_empty())
}

/// `e` as the events table holds it under `seq`.
fn stored(seq: i64, e: &NewEvent) -> StoredEvent {
    StoredEvent {
        seq,
        event_id: e.event_id.clone(),
        event_type: e.event_type,
        subject_kind: e.subject_kind,
        subject_id: e.subject_id.clone(),
        event_time: e.event_time_ms,
        payload: e.payload.clone(),
    }
}

/// Loads the incidents with these ids (missing ones are left out).
pub(crate) async fn load_incidents(
    conn: &mut WriteConn<'_>,
    ids: &[IncidentId],
) -> Result<HashMap<IncidentId, Incident>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut q = Sql::on(conn, SELECT_INCIDENT);
        q.push(" WHERE i.id IN ").list_text(chunk);
        let rows: Vec<(String, String)> = conn.fetch_all(&q).await?;
        for inc in decode(rows)? {
            out.insert(inc.incident_id.clone(), inc);
        }
    }
    Ok(out)
}
