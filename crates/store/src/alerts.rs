//! Alerts and their raw events, ingestion's write, alert sources' keys.

use std::collections::HashMap;

use async_trait::async_trait;
use dutyhook_domain::alert::{
    close_by_hand, group_key, ingest, Alert, AlertEvent, AlertIncident, IngestState, Source,
};
use dutyhook_domain::incident::Incident;
use dutyhook_domain::person::Person;
use dutyhook_domain::recorder::Recorder;
use dutyhook_domain::severity::{Progress, Status};
use dutyhook_domain::DomainError;
use serde_json::Value;
use sqlx::AnyConnection;

use crate::backend::SqlStore;
use crate::incidents::{insert_events, insert_timeline, load_incidents, upsert_incidents};
use crate::integrations::insert_integration;
use crate::sql::{now_s, Sql};
use crate::writer::{Answer, Effects, IngestJob, Job, Reply};
use crate::{AlertFilter, AlertStore, IntegrationRecord, Listing, Page, Result, StoreError};

const SELECT_ALERT: &str =
    "SELECT a.doc, a.incident_id, a.progress, a.close_time, COALESCE(i.title, '') \
     FROM alerts a LEFT JOIN incidents i ON i.id = a.incident_id";

type AlertRow = (String, String, String, i64, String);

/// The doc, with what SQL may have changed since it was written.
fn decode(rows: Vec<AlertRow>) -> Result<Vec<Alert>> {
    rows.into_iter()
        .map(|(doc, incident_id, progress, close_time, title)| {
            let mut a: Alert = serde_json::from_str(&doc)?;
            a.progress = Progress::parse(&progress).unwrap_or(a.progress);
            a.close_time = close_time;
            a.incident = (!incident_id.is_empty()).then_some(AlertIncident { incident_id, title });
            Ok(a)
        })
        .collect()
}

/// Alerts follow their incident: into a merge target, and closed with it.
pub(crate) async fn follow_incidents(
    conn: &mut AnyConnection,
    moves: &[(String, String)],
    closed: &[String],
) -> Result<()> {
    for (from, to) in moves {
        let mut q = Sql::new("UPDATE alerts SET incident_id = ");
        q.text(to).push(" WHERE incident_id = ").text(from);
        q.query().execute(&mut *conn).await?;
    }
    if !closed.is_empty() {
        let mut q = Sql::new("UPDATE alerts SET progress = 'Closed', close_time = ");
        q.i64(now_s())
            .push(" WHERE progress <> 'Closed' AND incident_id IN ")
            .list_text(closed);
        q.query().execute(&mut *conn).await?;
    }
    Ok(())
}

async fn upsert_alerts(conn: &mut AnyConnection, alerts: &[&Alert]) -> Result<()> {
    // A recovered alert is written before a new open one of the same key.
    let (closed, open): (Vec<&&Alert>, Vec<&&Alert>) = alerts.iter().partition(|a| !a.is_open());
    for group in [closed, open] {
        for chunk in group.chunks(500) {
            let mut q = Sql::on(conn, "INSERT INTO alerts (id, data_source_id, alert_key, channel_id, incident_id, progress, close_time, start_time, updated_at, doc) VALUES ");
            for (n, a) in chunk.iter().enumerate() {
                q.push(if n == 0 { "(" } else { ", (" });
                q.text(&a.alert_id)
                    .push(", ")
                    .i64(a.data_source_id)
                    .push(", ");
                q.text(&a.alert_key).push(", ").i64(a.channel_id).push(", ");
                q.text(a.incident.as_ref().map_or("", |i| i.incident_id.as_str()))
                    .push(", ");
                q.text(a.progress.as_str())
                    .push(", ")
                    .i64(a.close_time)
                    .push(", ");
                q.i64(a.start_time).push(", ").i64(a.updated_at).push(", ");
                q.text(serde_json::to_string(a)?).push(")");
            }
            q.push(" ON CONFLICT (id) DO UPDATE SET incident_id = excluded.incident_id, progress = excluded.progress, \
                    close_time = excluded.close_time, updated_at = excluded.updated_at, doc = excluded.doc");
            q.query().execute(&mut *conn).await?;
        }
    }
    Ok(())
}

async fn insert_raw(conn: &mut AnyConnection, raw: &[(String, Value)], at: i64) -> Result<()> {
    for chunk in raw.chunks(500) {
        let mut q = Sql::on(
            conn,
            "INSERT INTO alert_events (alert_id, created_at, body) VALUES ",
        );
        for (n, (id, body)) in chunk.iter().enumerate() {
            q.push(if n == 0 { "(" } else { ", (" });
            q.text(id)
                .push(", ")
                .i64(at)
                .push(", ")
                .text(body.to_string())
                .push(")");
        }
        q.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Writes what a batch of ingestion or closing changed, with its events;
/// answers whether deliveries were queued.
async fn write_state(
    conn: &mut AnyConnection,
    state: &IngestState,
    rec: &mut Recorder,
) -> Result<bool> {
    let alerts: Vec<&Alert> = state.changed_alerts.values().collect();
    upsert_alerts(conn, &alerts).await?;
    insert_raw(conn, &state.raw, rec.now_s()).await?;
    let incidents: Vec<&Incident> = state
        .changed_incidents
        .iter()
        .filter_map(|id| state.incidents.get(id))
        .collect();
    upsert_incidents(conn, &incidents).await?;
    insert_timeline(conn, &rec.timeline).await?;
    insert_events(conn, &rec.events).await
}

async fn open_alerts(
    conn: &mut AnyConnection,
    source_id: i64,
    keys: &[String],
) -> Result<Vec<Alert>> {
    let mut out = vec![];
    for chunk in keys.chunks(500) {
        let mut q = Sql::on(conn, SELECT_ALERT);
        q.push(" WHERE a.progress <> 'Closed' AND a.data_source_id = ")
            .i64(source_id);
        q.push(" AND a.alert_key IN ").list_text(chunk);
        let rows: Vec<AlertRow> = q.query_as().fetch_all(&mut *conn).await?;
        out.extend(decode(rows)?);
    }
    Ok(out)
}

/// Loads what a batch of ingestion jobs needs in a few statements: the open
/// alerts their keys name, the open incidents their grouping keys name, and
/// those incidents.
async fn load_state(conn: &mut AnyConnection, jobs: &[IngestJob]) -> Result<IngestState> {
    let mut state = IngestState::default();
    let mut keys: HashMap<i64, Vec<String>> = HashMap::new();
    let mut gkeys: HashMap<i64, Vec<String>> = HashMap::new();
    for j in jobs {
        let source = &j.source;
        keys.entry(source.integration_id)
            .or_default()
            .extend(j.events.iter().map(|e| e.alert_key.clone()));
        gkeys.entry(source.channel.channel_id).or_default().extend(
            j.events
                .iter()
                .filter(|e| e.status != Status::Ok)
                .filter_map(|e| group_key(&source.channel, &e.title, &e.description, &e.labels)),
        );
    }
    let mut incident_ids: Vec<String> = vec![];
    for (source_id, mut keys) in keys {
        keys.sort_unstable();
        keys.dedup();
        for a in open_alerts(conn, source_id, &keys).await? {
            if let Some(i) = &a.incident {
                incident_ids.push(i.incident_id.clone());
            }
            state
                .open
                .insert((a.data_source_id, a.alert_key.clone()), a);
        }
    }
    for (channel_id, mut gkeys) in gkeys {
        gkeys.sort_unstable();
        gkeys.dedup();
        for chunk in gkeys.chunks(500) {
            let mut q = Sql::on(
                conn,
                "SELECT id, group_key FROM incidents WHERE progress <> 'Closed' AND channel_id = ",
            );
            q.i64(channel_id)
                .push(" AND group_key IN ")
                .list_text(chunk);
            q.push(" ORDER BY created_ms, id");
            let rows: Vec<(String, String)> = q.query_as().fetch_all(&mut *conn).await?;
            for (id, g) in rows {
                incident_ids.push(id.clone());
                state.groups.insert((channel_id, g), id);
            }
        }
    }
    incident_ids.sort_unstable();
    incident_ids.dedup();
    state.incidents = load_incidents(conn, &incident_ids).await?;
    Ok(state)
}

/// Runs a batch of ingestion jobs in arrival order over one shared state and
/// writes the outcome with a handful of multi-row statements: on SQLite a
/// statement is a round trip, so a burst costs a few of them per batch
/// rather than ten per request.
pub(crate) async fn apply_ingests(
    conn: &mut AnyConnection,
    jobs: &[IngestJob],
    replies: &mut Vec<Reply>,
    effects: &mut Effects,
) -> Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let mut state = load_state(conn, jobs).await?;
    let mut all = Recorder::new(jobs[0].rec.now_ms, jobs[0].rec.ctx.clone());
    for job in jobs {
        let mut rec = job.rec.clone();
        for e in &job.events {
            ingest(&mut state, &job.source, e, &mut rec);
        }
        all.timeline.append(&mut rec.timeline);
        all.events.append(&mut rec.events);
        let keys: Vec<String> = job.events.iter().map(|e| e.alert_key.clone()).collect();
        let answer = job.answer.clone();
        replies.push(Box::new(move || answer.send(Ok(keys))));
    }
    effects.events += all.events.len();
    effects.deliveries_moved |= write_state(conn, &state, &mut all).await?;
    Ok(())
}

fn push_filter(q: &mut Sql, f: &AlertFilter) {
    q.push(" WHERE a.start_time >= ").i64(f.start_time);
    q.push(" AND a.start_time < ").i64(f.end_time);
    if !f.channel_ids.is_empty() {
        q.push(" AND a.channel_id IN ").list_i64(&f.channel_ids);
    }
    if let Some(p) = &f.progress {
        q.push(" AND a.progress = ").text(p.as_str());
    }
    if let Some(i) = &f.incident_id {
        q.push(" AND a.incident_id = ").text(i);
    }
}

#[async_trait]
impl AlertStore for SqlStore {
    async fn ingest_alerts(
        &self,
        source: Source,
        events: Vec<AlertEvent>,
        rec: Recorder,
    ) -> Result<Vec<String>> {
        let (answer, rx) = Answer::new();
        self.writer
            .send(Job::Ingest(Box::new(IngestJob {
                source,
                events,
                rec,
                answer,
            })))
            .await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn close_alerts(
        &self,
        ids: Vec<String>,
        by: Person,
        rec: Recorder,
    ) -> Result<Vec<Alert>> {
        self.writer
            .tx(move |c| {
                let (ids, by, mut rec) = (ids.clone(), by.clone(), rec.clone());
                Box::pin(async move {
                    let mut q = Sql::new(SELECT_ALERT);
                    q.push(" WHERE a.id IN ").list_text(&ids);
                    let rows: Vec<AlertRow> = q.query_as().fetch_all(&mut *c).await?;
                    let mut found: HashMap<String, Alert> = decode(rows)?
                        .into_iter()
                        .map(|a| (a.alert_id.clone(), a))
                        .collect();
                    if let Some(missing) = ids.iter().find(|id| !found.contains_key(*id)) {
                        return Err(DomainError::not_found("alert", missing).into());
                    }
                    let incident_ids: Vec<String> = found
                        .values()
                        .filter_map(|a| a.incident.as_ref().map(|i| i.incident_id.clone()))
                        .collect();
                    let mut state = IngestState {
                        incidents: load_incidents(c, &incident_ids).await?,
                        ..Default::default()
                    };
                    let mut out = vec![];
                    for id in &ids {
                        let mut a = found.remove(id).expect("checked above");
                        if a.is_open() {
                            let inc_id = a.incident.as_ref().map(|i| i.incident_id.clone());
                            let inc = inc_id.as_ref().and_then(|i| state.incidents.get_mut(i));
                            close_by_hand(&mut a, inc, &by, &mut rec);
                            if let Some(i) = inc_id {
                                state.incident_changed(&i);
                            }
                            state.changed_alerts.insert(a.alert_id.clone(), a.clone());
                        }
                        out.push(a);
                    }
                    write_state(c, &state, &mut rec).await?;
                    Ok(out)
                })
            })
            .await
    }

    async fn alert(&self, alert_id: &str) -> Result<Option<Alert>> {
        let mut q = Sql::new(SELECT_ALERT);
        q.push(" WHERE a.id = ").text(alert_id);
        let rows: Vec<AlertRow> = q.query_as().fetch_all(&self.read).await?;
        Ok(decode(rows)?.pop())
    }

    async fn alert_events(&self, alert_id: &str, limit: i64) -> Result<Vec<Value>> {
        let mut q = Sql::new("SELECT body FROM alert_events WHERE alert_id = ");
        q.text(alert_id).push(" ORDER BY id DESC LIMIT ").i64(limit);
        let rows: Vec<(String,)> = q.query_as().fetch_all(&self.read).await?;
        rows.into_iter()
            .map(|(b,)| Ok(serde_json::from_str(&b)?))
            .collect()
    }

    async fn list_alerts(&self, filter: &AlertFilter, page: Page) -> Result<Listing<Alert>> {
        let mut q = Sql::new(SELECT_ALERT);
        push_filter(&mut q, filter);
        q.push(" ORDER BY a.start_time DESC, a.id DESC LIMIT ")
            .i64(page.limit);
        q.push(" OFFSET ").i64(page.offset());
        let rows: Vec<AlertRow> = q.query_as().fetch_all(&self.read).await?;
        let mut c = Sql::new("SELECT COUNT(*) FROM alerts a");
        push_filter(&mut c, filter);
        let (total,): (i64,) = c.query_as().fetch_one(&self.read).await?;
        Ok(Listing {
            items: decode(rows)?,
            total,
        })
    }

    async fn recent_alerts(&self, incident_id: &str, limit: i64) -> Result<Vec<Alert>> {
        let mut q = Sql::new(SELECT_ALERT);
        q.push(" WHERE a.incident_id = ").text(incident_id);
        q.push(" ORDER BY a.updated_at DESC, a.id DESC LIMIT ")
            .i64(limit);
        let rows: Vec<AlertRow> = q.query_as().fetch_all(&self.read).await?;
        decode(rows)
    }

    async fn create_alert_source(&self, r: &IntegrationRecord, key_hash: &str) -> Result<i64> {
        let r = self.sealed(r)?;
        let key_hash = key_hash.to_string();
        self.writer
            .tx(move |c| {
                let (r, key_hash) = (r.clone(), key_hash.clone());
                Box::pin(async move {
                    let id = insert_integration(c, &r).await?;
                    let mut q =
                        Sql::new("INSERT INTO source_keys (key_hash, integration_id) VALUES (");
                    q.text(&key_hash).push(", ").i64(id).push(")");
                    q.query().execute(&mut *c).await?;
                    Ok(id)
                })
            })
            .await
    }

    async fn alert_source_by_key(&self, key_hash: &str) -> Result<Option<i64>> {
        let mut q = Sql::new("SELECT integration_id FROM source_keys WHERE key_hash = ");
        q.text(key_hash);
        let row: Option<(i64,)> = q.query_as().fetch_optional(&self.read).await?;
        Ok(row.map(|(id,)| id))
    }
}
