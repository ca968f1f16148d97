//! Incidents, their timeline and the outbox write: every change and the events
//! it causes commit together or not at all.

use async_trait::async_trait;
use dutyhook_domain::event::NewEvent;
use dutyhook_domain::incident::Incident;
use dutyhook_domain::recorder::Recorder;
use dutyhook_domain::severity::Progress;
use dutyhook_domain::timeline::TimelineEntry;
use dutyhook_domain::webhook::{WebhookConfig, WebhookKind};
use dutyhook_domain::DomainError;
use sqlx::{Any, Transaction};

use crate::backend::SqlStore;
use crate::sql::{like_contains, Sql};
use crate::{IncidentFilter, IncidentOp, IncidentStore, Listing, Page, Result};

const SELECT_INCIDENT: &str = "SELECT i.doc, COALESCE(c.name, '') FROM incidents i LEFT JOIN channels c ON c.id = i.channel_id";

fn decode(rows: Vec<(String, String)>) -> Result<Vec<Incident>> {
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

async fn upsert(tx: &mut Transaction<'_, Any>, inc: &Incident) -> Result<()> {
    let mut q = Sql::new(
        "INSERT INTO incidents (id, num, channel_id, progress, severity, start_time, created_at, created_ms, updated_at, \
         snoozed_before, title, description, labels_text, doc) VALUES (",
    );
    q.text(&inc.incident_id)
        .push(", ")
        .text(inc.num())
        .push(", ")
        .i64(inc.channel_id)
        .push(", ");
    q.text(inc.progress.as_str())
        .push(", ")
        .text(inc.incident_severity.as_str())
        .push(", ");
    q.i64(inc.start_time)
        .push(", ")
        .i64(inc.created_at)
        .push(", ")
        .i64(inc.created_ms)
        .push(", ")
        .i64(inc.updated_at)
        .push(", ");
    q.i64(inc.snoozed_before)
        .push(", ")
        .text(&inc.title)
        .push(", ")
        .text(&inc.description)
        .push(", ");
    q.text(inc.labels_text()).push(", ").text(serde_json::to_string(inc)?).push(
        ") ON CONFLICT (id) DO UPDATE SET channel_id = excluded.channel_id, progress = excluded.progress, \
         severity = excluded.severity, start_time = excluded.start_time, updated_at = excluded.updated_at, \
         snoozed_before = excluded.snoozed_before, title = excluded.title, description = excluded.description, \
         labels_text = excluded.labels_text, doc = excluded.doc",
    );
    q.query().execute(&mut **tx).await?;
    Ok(())
}

async fn insert_timeline(tx: &mut Transaction<'_, Any>, t: &TimelineEntry) -> Result<()> {
    let mut q =
        Sql::new("INSERT INTO timeline (incident_id, kind, person, created_at, detail) VALUES (");
    q.text(&t.incident_id).push(", ").text(&t.kind).push(", ");
    q.opt_text(t.person.as_ref().map(serde_json::to_string).transpose()?)
        .push(", ");
    q.i64(t.created_at)
        .push(", ")
        .text(t.detail.to_string())
        .push(")");
    q.query().execute(&mut **tx).await?;
    Ok(())
}

/// Inserts an event; answers the deliveries it needs (one per subscribed
/// integration), to be written with [`insert_deliveries`] in the same
/// transaction: the subscription snapshot is the one in force at commit.
pub(crate) async fn insert_event(
    tx: &mut Transaction<'_, Any>,
    e: &NewEvent,
    subscribers: &[(i64, WebhookConfig)],
    deliveries: &mut Vec<(i64, i64, String, i64)>,
) -> Result<()> {
    let mut q = Sql::new("INSERT INTO events (event_id, event_type, subject_kind, subject_id, event_time, payload) VALUES (");
    q.text(&e.event_id)
        .push(", ")
        .text(e.event_type.as_str())
        .push(", ")
        .text(e.subject_kind.as_str());
    q.push(", ")
        .text(&e.subject_id)
        .push(", ")
        .i64(e.event_time_ms)
        .push(", ")
        .text(&e.payload)
        .push(") RETURNING seq");
    let (seq,): (i64,) = q.query_as().fetch_one(&mut **tx).await?;
    for (integration_id, cfg) in subscribers {
        if cfg.subscribes(e.event_type, e.channel_id) {
            deliveries.push((seq, *integration_id, e.subject_id.clone(), e.event_time_ms));
        }
    }
    Ok(())
}

/// `(event_seq, integration_id, subject_key, created_at)` rows, many per statement.
pub(crate) async fn insert_deliveries(
    tx: &mut Transaction<'_, Any>,
    rows: &[(i64, i64, String, i64)],
) -> Result<()> {
    for chunk in rows.chunks(1000) {
        let mut q = Sql::new("INSERT INTO deliveries (event_seq, integration_id, subject_key, state, next_at, created_at) VALUES ");
        for (i, (seq, integration_id, subject, at)) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            q.push("(")
                .i64(*seq)
                .push(", ")
                .i64(*integration_id)
                .push(", ")
                .text(subject.clone());
            q.push(", 'pending', ")
                .i64(*at)
                .push(", ")
                .i64(*at)
                .push(")");
        }
        q.query().execute(&mut **tx).await?;
    }
    Ok(())
}

/// Enabled webhooks of `kind`, read inside the transaction that fans out.
pub(crate) async fn subscribers(
    tx: &mut Transaction<'_, Any>,
    kind: WebhookKind,
) -> Result<Vec<(i64, WebhookConfig)>> {
    let mut q = Sql::new("SELECT id, config FROM integrations WHERE enabled = 1 AND kind = ");
    q.text(kind.integration_kind());
    let rows: Vec<(i64, String)> = q.query_as().fetch_all(&mut **tx).await?;
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
        mut rec: Recorder,
        op: IncidentOp,
    ) -> Result<(Vec<Incident>, Recorder)> {
        let mut tx = self.write.begin().await?;
        let mut incidents = if ids.is_empty() {
            vec![]
        } else {
            let mut q = Sql::new(SELECT_INCIDENT);
            q.push(" WHERE i.id IN ")
                .list_text(ids)
                .push(self.backend.lock_rows());
            let rows: Vec<(String, String)> = q.query_as().fetch_all(&mut *tx).await?;
            in_order(decode(rows)?, ids)?
        };
        op(&mut incidents, &mut rec)?;
        for inc in incidents
            .iter()
            .filter(|i| rec.touched.contains(&i.incident_id))
        {
            upsert(&mut tx, inc).await?;
        }
        for t in &rec.timeline {
            insert_timeline(&mut tx, t).await?;
        }
        let subscribers = if rec.events.is_empty() {
            vec![]
        } else {
            subscribers(&mut tx, WebhookKind::Incident).await?
        };
        let mut deliveries = vec![];
        for e in &rec.events {
            insert_event(&mut tx, e, &subscribers, &mut deliveries).await?;
        }
        insert_deliveries(&mut tx, &deliveries).await?;
        tx.commit().await?;
        if !rec.events.is_empty() {
            self.notify.notify_waiters();
        }
        Ok((incidents, rec))
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
