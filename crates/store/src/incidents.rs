//! Incidents, their timeline and the outbox write: every change and the events
//! it causes commit together or not at all.

use async_trait::async_trait;
use dutyhook_domain::event::NewEvent;
use dutyhook_domain::incident::Incident;
use dutyhook_domain::recorder::Recorder;
use dutyhook_domain::severity::Progress;
use dutyhook_domain::timeline::TimelineEntry;
use dutyhook_domain::webhook::WebhookConfig;
use dutyhook_domain::DomainError;
use std::collections::HashMap;

use sqlx::AnyConnection;

use crate::backend::SqlStore;
use crate::deliveries::NewDelivery;
use crate::sql::{like_contains, Sql};
use crate::writer::{Answer, Effects, Job, MutateJob, Reply};
use crate::{IncidentFilter, IncidentOp, IncidentStore, Listing, Page, Result, StoreError};

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

/// Puts incidents in the order of `ids`; `NotFound` names the first missing.
fn in_order(found: Vec<Incident>, ids: &[String]) -> Result<Vec<Incident>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        match found.iter().find(|i| &i.incident_id == id) {
            Some(inc) => out.push(inc.clone()),
            None => return Err(DomainError::not_found("incident", id).into()),
        }
    }
    Ok(out)
}

/// Columns of `incidents` written from an [`Incident`].
const INCIDENT_COLS: &str =
    "id, num, channel_id, progress, severity, start_time, created_at, created_ms, updated_at, \
     snoozed_before, title, description, labels_text, group_key, doc";

/// Writes incidents, many per statement.
pub(crate) async fn upsert_incidents(
    conn: &mut AnyConnection,
    incidents: &[&Incident],
) -> Result<()> {
    // 14 values a row: well under both databases' limits on bound values.
    for chunk in incidents.chunks(500) {
        let mut q = Sql::on(
            conn,
            &format!("INSERT INTO incidents ({INCIDENT_COLS}) VALUES "),
        );
        for (i, inc) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
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
                .push(", ")
                .text(serde_json::to_string(inc)?)
                .push(")");
        }
        q.push(
            " ON CONFLICT (id) DO UPDATE SET channel_id = excluded.channel_id, progress = excluded.progress, \
             severity = excluded.severity, start_time = excluded.start_time, updated_at = excluded.updated_at, \
             snoozed_before = excluded.snoozed_before, title = excluded.title, description = excluded.description, \
             labels_text = excluded.labels_text, group_key = excluded.group_key, doc = excluded.doc",
        );
        q.query().execute(&mut *conn).await?;
    }
    Ok(())
}

pub(crate) async fn insert_timeline(
    conn: &mut AnyConnection,
    entries: &[TimelineEntry],
) -> Result<()> {
    for chunk in entries.chunks(1000) {
        let mut q = Sql::on(
            conn,
            "INSERT INTO timeline (incident_id, kind, person, created_at, detail) VALUES ",
        );
        for (i, t) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.text(&t.incident_id).push(", ").text(&t.kind).push(", ");
            q.opt_text(t.person.as_ref().map(serde_json::to_string).transpose()?)
                .push(", ");
            q.i64(t.created_at)
                .push(", ")
                .text(t.detail.to_string())
                .push(")");
        }
        q.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Inserts events (the outbox) and the deliveries they need: one per
/// subscribed webhook, with the subscription snapshot in force now.
pub(crate) async fn insert_events(conn: &mut AnyConnection, events: &[NewEvent]) -> Result<bool> {
    if events.is_empty() {
        return Ok(false);
    }
    let mut seqs: HashMap<String, i64> = HashMap::with_capacity(events.len());
    for chunk in events.chunks(1000) {
        let mut q = Sql::on(
            conn,
            "INSERT INTO events (event_id, event_type, subject_kind, subject_id, event_time, payload) VALUES ",
        );
        for (i, e) in chunk.iter().enumerate() {
            q.push(if i == 0 { "(" } else { ", (" });
            q.text(&e.event_id)
                .push(", ")
                .text(e.event_type.as_str())
                .push(", ");
            q.text(e.subject_kind.as_str())
                .push(", ")
                .text(&e.subject_id)
                .push(", ");
            q.i64(e.event_time_ms).push(", ").text(&e.payload).push(")");
        }
        q.push(" RETURNING seq, event_id");
        let rows: Vec<(i64, String)> = q.query_as().fetch_all(&mut *conn).await?;
        seqs.extend(rows.into_iter().map(|(seq, id)| (id, seq)));
    }
    let subscribers = subscribers(conn).await?;
    let mut fanout = vec![];
    for e in events {
        let seq = *seqs
            .get(&e.event_id)
            .ok_or_else(|| StoreError::Corrupt(format!("event {} was not stored", e.event_id)))?;
        for (integration_id, cfg) in &subscribers {
            if cfg.subscribes(e.event_type, e.channel_id) {
                fanout.push(NewDelivery {
                    event_seq: seq,
                    integration_id: *integration_id,
                    subject_key: e.subject_id.clone(),
                    at: e.event_time_ms,
                });
            }
        }
    }
    crate::deliveries::insert_deliveries(conn, &fanout).await?;
    Ok(!fanout.is_empty())
}

/// Enabled webhooks, read inside the transaction that fans out.
async fn subscribers(conn: &mut AnyConnection) -> Result<Vec<(i64, WebhookConfig)>> {
    let rows: Vec<(i64, String)> = sqlx::query_as(
        "SELECT id, config FROM integrations WHERE enabled = 1 AND kind IN ('incident_webhook', 'alert_webhook')",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut out = Vec::with_capacity(rows.len());
    for (id, config) in rows {
        match serde_json::from_str::<WebhookConfig>(&config) {
            Ok(cfg) => out.push((id, cfg)),
            Err(e) => {
                tracing::error!(integration_id = id, error = %e, "unreadable webhook config; skipped")
            }
        }
    }
    Ok(out)
}

/// Loads the incidents with these ids (missing ones are left out).
pub(crate) async fn load_incidents(
    conn: &mut AnyConnection,
    ids: &[String],
) -> Result<HashMap<String, Incident>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(500) {
        let mut q = Sql::on(conn, SELECT_INCIDENT);
        q.push(" WHERE i.id IN ").list_text(chunk);
        let rows: Vec<(String, String)> = q.query_as().fetch_all(&mut *conn).await?;
        for inc in decode(rows)? {
            out.insert(inc.incident_id.clone(), inc);
        }
    }
    Ok(out)
}

/// Runs the operations of a batch, in order, over the incidents as earlier
/// operations of the batch left them; then writes what the successful ones
/// changed. A failing operation is answered at once and leaves no trace.
pub(crate) async fn apply_mutations(
    conn: &mut AnyConnection,
    jobs: &[MutateJob],
    replies: &mut Vec<Reply>,
    effects: &mut Effects,
) -> Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<String> = jobs.iter().flat_map(|j| j.ids.iter().cloned()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut working = load_incidents(conn, &ids).await?;
    let mut changed: Vec<String> = vec![];
    let mut timeline = vec![];
    let mut events = vec![];
    let mut alert_moves = vec![];
    let mut closed_alerts_of = vec![];
    for job in jobs {
        let found: Result<Vec<Incident>> = job
            .ids
            .iter()
            .map(|id| {
                working
                    .get(id)
                    .cloned()
                    .ok_or_else(|| DomainError::not_found("incident", id).into())
            })
            .collect();
        let mut incidents = match found {
            Ok(v) => v,
            Err(e) => {
                job.answer.send(Err(e));
                continue;
            }
        };
        let mut rec = job.rec.clone();
        if let Err(e) = (job.op)(&mut incidents, &mut rec) {
            job.answer.send(Err(e.into()));
            continue;
        }
        for inc in incidents
            .iter()
            .filter(|i| rec.touched.contains(&i.incident_id))
        {
            if !changed.contains(&inc.incident_id) {
                changed.push(inc.incident_id.clone());
            }
            working.insert(inc.incident_id.clone(), inc.clone());
        }
        timeline.append(&mut rec.timeline);
        events.append(&mut rec.events);
        alert_moves.append(&mut rec.alert_moves);
        closed_alerts_of.append(&mut rec.closed_alerts_of);
        let answer = job.answer.clone();
        replies.push(Box::new(move || answer.send(Ok(incidents))));
    }
    let touched: Vec<&Incident> = changed.iter().filter_map(|id| working.get(id)).collect();
    upsert_incidents(conn, &touched).await?;
    insert_timeline(conn, &timeline).await?;
    crate::alerts::follow_incidents(conn, &alert_moves, &closed_alerts_of).await?;
    effects.events += events.len();
    effects.deliveries_moved |= insert_events(conn, &events).await?;
    Ok(())
}

fn push_filter(q: &mut Sql, f: &IncidentFilter) {
    q.push(" WHERE i.start_time >= ")
        .i64(f.start_time)
        .push(" AND i.start_time < ")
        .i64(f.end_time);
    if !f.progress.is_empty() {
        let p: Vec<String> = f
            .progress
            .iter()
            .map(|p: &Progress| p.as_str().to_string())
            .collect();
        q.push(" AND i.progress IN ").list_text(&p);
    }
    if !f.severities.is_empty() {
        q.push(" AND i.severity IN ").list_text(&f.severities);
    }
    if !f.channel_ids.is_empty() {
        q.push(" AND i.channel_id IN ").list_i64(&f.channel_ids);
    }
    if let Some(title) = &f.title {
        q.push(" AND LOWER(i.title) LIKE ")
            .text(like_contains(title))
            .push(" ESCAPE '\\'");
    }
    if let Some(text) = &f.query {
        let like = like_contains(text);
        q.push(" AND (i.id = ").text(text.to_ascii_lowercase());
        q.push(" OR i.num = ").text(text.to_ascii_uppercase());
        q.push(" OR LOWER(i.title) LIKE ")
            .text(like.clone())
            .push(" ESCAPE '\\'");
        q.push(" OR LOWER(i.description) LIKE ")
            .text(like.clone())
            .push(" ESCAPE '\\'");
        q.push(" OR LOWER(i.labels_text) LIKE ")
            .text(like)
            .push(" ESCAPE '\\')");
    }
}

#[async_trait]
impl IncidentStore for SqlStore {
    async fn mutate_incidents(
        &self,
        ids: &[String],
        rec: Recorder,
        op: IncidentOp,
    ) -> Result<Vec<Incident>> {
        let (answer, rx) = Answer::new();
        self.writer
            .send(Job::Mutate(Box::new(MutateJob {
                ids: ids.to_vec(),
                rec,
                op,
                answer,
            })))
            .await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn incident(&self, incident_id: &str) -> Result<Option<Incident>> {
        let mut q = Sql::new(SELECT_INCIDENT);
        q.push(" WHERE i.id = ").text(incident_id);
        let rows: Vec<(String, String)> = q.query_as().fetch_all(&self.read).await?;
        Ok(decode(rows)?.pop())
    }

    async fn incidents(&self, ids: &[String]) -> Result<Vec<Incident>> {
        let mut q = Sql::new(SELECT_INCIDENT);
        q.push(" WHERE i.id IN ").list_text(ids);
        let rows: Vec<(String, String)> = q.query_as().fetch_all(&self.read).await?;
        in_order(decode(rows)?, ids)
    }

    async fn list_incidents(
        &self,
        filter: &IncidentFilter,
        page: Page,
    ) -> Result<Listing<Incident>> {
        let mut q = Sql::new(SELECT_INCIDENT);
        push_filter(&mut q, filter);
        q.push(" ORDER BY i.start_time DESC, i.created_ms DESC, i.id DESC LIMIT ")
            .i64(page.limit)
            .push(" OFFSET ")
            .i64(page.offset());
        let rows: Vec<(String, String)> = q.query_as().fetch_all(&self.read).await?;
        let mut c = Sql::new("SELECT COUNT(*) FROM incidents i");
        push_filter(&mut c, filter);
        let (total,): (i64,) = c.query_as().fetch_one(&self.read).await?;
        Ok(Listing {
            items: decode(rows)?,
            total,
        })
    }

    async fn feed(
        &self,
        incident_id: &str,
        page: Page,
        asc: bool,
    ) -> Result<Listing<TimelineEntry>> {
        let mut q =
            Sql::new("SELECT kind, person, created_at, detail FROM timeline WHERE incident_id = ");
        q.text(incident_id).push(if asc {
            " ORDER BY id ASC"
        } else {
            " ORDER BY id DESC"
        });
        q.push(" LIMIT ")
            .i64(page.limit)
            .push(" OFFSET ")
            .i64(page.offset());
        let rows: Vec<(String, Option<String>, i64, String)> =
            q.query_as().fetch_all(&self.read).await?;
        let mut c = Sql::new("SELECT COUNT(*) FROM timeline WHERE incident_id = ");
        c.text(incident_id);
        let (total,): (i64,) = c.query_as().fetch_one(&self.read).await?;
        let items = rows
            .into_iter()
            .map(|(kind, person, created_at, detail)| {
                Ok(TimelineEntry {
                    incident_id: incident_id.to_string(),
                    kind,
                    person: person.map(|p| serde_json::from_str(&p)).transpose()?,
                    created_at,
                    detail: serde_json::from_str(&detail)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Listing { items, total })
    }

    async fn due_snoozes(&self, now_s: i64, limit: i64) -> Result<Vec<String>> {
        let mut q =
            Sql::new("SELECT id FROM incidents WHERE snoozed_before > 0 AND snoozed_before <= ");
        q.i64(now_s)
            .push(" AND progress <> 'Closed' ORDER BY snoozed_before LIMIT ")
            .i64(limit);
        let rows: Vec<(String,)> = q.query_as().fetch_all(&self.read).await?;
        Ok(rows.into_iter().map(|(id,)| id).collect())
    }
}
