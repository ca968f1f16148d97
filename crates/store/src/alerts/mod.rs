//! Alerts and their raw events, ingestion's write, alert sources' keys.

pub(crate) mod apply;
pub(crate) mod rows;

use std::collections::HashMap;

use async_trait::async_trait;
use dutyhook_domain::alert::{close_by_hand, move_by_hand, Alert, AlertEvent, IngestState, Source};
use dutyhook_domain::ids::{AlertId, IncidentId, IntegrationId};
use dutyhook_domain::person::Person;
use dutyhook_domain::recorder::Recorder;
use dutyhook_domain::DomainError;
use serde_json::Value;

use self::rows::{decode, write_state, AlertRow, SELECT_ALERT};
use crate::incidents::rows::load_incidents;
use crate::integrations::insert_integration;
use crate::queue::fifo::Leasing;
use crate::sql::{like_contains, Sql};
use crate::store::SqlStore;
use crate::subscribers::Subscribers;
use crate::write_conn::WriteConn;
use crate::writer::{Answer, IngestJob, Job};
use crate::{
    AlertEventFilter, AlertFilter, AlertStore, IntegrationRecord, Listing, Page, Result, StoreError,
};

fn push_filter(q: &mut Sql, f: &AlertFilter) {
    let time = if f.by_updated_at {
        "a.updated_at"
    } else {
        "a.start_time"
    };
    q.push(" WHERE ").push(time).push(" >= ").i64(f.start_time);
    q.push(" AND ").push(time).push(" < ").i64(f.end_time);
    if !f.severities.is_empty() {
        q.push(" AND a.severity IN ").list_text(&f.severities);
    }
    if !f.source_ids.is_empty() {
        q.push(" AND a.data_source_id IN ").list_i64(&f.source_ids);
    }
    if !f.alert_ids.is_empty() {
        q.push(" AND a.id IN ").list_text(&f.alert_ids);
    }
    if !f.alert_keys.is_empty() {
        q.push(" AND a.alert_key IN ").list_text(&f.alert_keys);
    }
    if !f.channel_ids.is_empty() {
        q.push(" AND a.channel_id IN ").list_i64(&f.channel_ids);
    }
    if let Some(p) = &f.progress {
        q.push(" AND a.progress = ").text(p.as_str());
    }
    if let Some(i) = &f.incident_id {
        q.push(" AND a.incident_id = ").text(i);
    }
    if let Some(text) = &f.query {
        // The document holds the title, description, labels and key.
        q.push(" AND LOWER(a.doc) LIKE ")
            .text(like_contains(text))
            .push(" ESCAPE '\\'");
    }
}

/// The alerts with these ids, by id; `NotFound` naming the first missing.
async fn every_alert(
    c: &mut sqlx::AnyConnection,
    ids: &[AlertId],
) -> Result<HashMap<AlertId, Alert>> {
    let mut q = Sql::new(SELECT_ALERT);
    q.push(" WHERE a.id IN ").list_text(ids);
    let rows: Vec<AlertRow> = q.query_as().fetch_all(&mut *c).await?;
    let found: HashMap<AlertId, Alert> = decode(rows)?
        .into_iter()
        .map(|a| (a.alert_id.clone(), a))
        .collect();
    if let Some(missing) = ids.iter().find(|id| !found.contains_key(*id)) {
        return Err(DomainError::not_found("alert", missing).into());
    }
    Ok(found)
}

/// A raw event as kept, with its row's number as its `event_id` (24 hex
/// digits, as ids have).
fn raw_event(id: i64, body: &str) -> Result<Value> {
    let mut v: Value = serde_json::from_str(body)?;
    if let Value::Object(m) = &mut v {
        m.insert("event_id".into(), Value::from(format!("{id:024x}")));
    }
    Ok(v)
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

    async fn move_alerts(
        &self,
        ids: Vec<AlertId>,
        to: IncidentId,
        by: Person,
        rec: Recorder,
    ) -> Result<()> {
        self.writer
            .tx_outside_kept(move |c| {
                let (ids, to, by, mut rec) = (ids.clone(), to.clone(), by.clone(), rec.clone());
                Box::pin(async move {
                    let mut found = every_alert(c, &ids).await?;
                    let mut incident_ids: Vec<IncidentId> = found
                        .values()
                        .filter_map(|a| a.incident.as_ref().map(|i| i.incident_id.clone()))
                        .collect();
                    incident_ids.push(to.clone());
                    let mut state = IngestState {
                        incidents: load_incidents(&mut WriteConn::Sqlx(&mut *c), &incident_ids)
                            .await?,
                        ..Default::default()
                    };
                    let mut target = state
                        .incidents
                        .remove(&to)
                        .ok_or_else(|| DomainError::not_found("incident", &to))?;
                    if target.is_closed() {
                        return Err(DomainError::invalid(
                            "incident_id",
                            format!(
                                "incident {to} is Closed: reopen it before moving alerts into it"
                            ),
                        )
                        .into());
                    }
                    for id in &ids {
                        let mut a = found.remove(id).expect("checked above");
                        let from = a.incident.as_ref().map(|i| i.incident_id.clone());
                        let source = from.as_ref().and_then(|i| state.incidents.get_mut(i));
                        move_by_hand(&mut a, source, &mut target, &by, &mut rec);
                        if let Some(i) = from {
                            state.incident_changed(&i);
                        }
                        state.changed_alerts.insert(a.alert_id.clone(), a);
                    }
                    state.incidents.insert(to.clone(), target);
                    state.incident_changed(&to);
                    write_by_hand(c, &state, &mut rec).await?;
                    Ok(())
                })
            })
            .await
    }

    async fn close_alerts(
        &self,
        ids: Vec<AlertId>,
        by: Person,
        rec: Recorder,
    ) -> Result<Vec<Alert>> {
        self.writer
            .tx_outside_kept(move |c| {
                let (ids, by, mut rec) = (ids.clone(), by.clone(), rec.clone());
                Box::pin(async move {
                    let mut found = every_alert(c, &ids).await?;
                    let incident_ids: Vec<IncidentId> = found
                        .values()
                        .filter_map(|a| a.incident.as_ref().map(|i| i.incident_id.clone()))
                        .collect();
                    let mut state = IngestState {
                        incidents: load_incidents(&mut WriteConn::Sqlx(&mut *c), &incident_ids)
                            .await?,
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
                    write_by_hand(c, &state, &mut rec).await?;
                    Ok(out)
                })
            })
            .await
    }

    async fn alert(&self, alert_id: &AlertId) -> Result<Option<Alert>> {
        let mut q = Sql::new(SELECT_ALERT);
        q.push(" WHERE a.id = ").text(alert_id);
        let rows: Vec<AlertRow> = q.query_as().fetch_all(&self.read).await?;
        Ok(decode(rows)?.pop())
    }

    async fn alert_events(&self, alert_id: &AlertId, limit: i64) -> Result<Vec<Value>> {
        let mut q = Sql::new("SELECT id, body FROM alert_events WHERE alert_id = ");
        q.text(alert_id).push(" ORDER BY id DESC LIMIT ").i64(limit);
        let rows: Vec<(i64, String)> = q.query_as().fetch_all(&self.read).await?;
        rows.into_iter()
            .map(|(id, body)| raw_event(id, &body))
            .collect()
    }

    async fn list_alert_events(
        &self,
        filter: &AlertEventFilter,
        page: Page,
    ) -> Result<Listing<(Alert, Value)>> {
        let push_filter = |q: &mut Sql| {
            q.push(" WHERE e.created_at >= ").i64(filter.start_time);
            q.push(" AND e.created_at < ").i64(filter.end_time);
            if !filter.source_ids.is_empty() {
                q.push(" AND a.data_source_id IN ")
                    .list_i64(&filter.source_ids);
            }
            if !filter.channel_ids.is_empty() {
                q.push(" AND a.channel_id IN ")
                    .list_i64(&filter.channel_ids);
            }
        };
        let mut q = Sql::new(
            "SELECT e.id, e.body, a.doc, a.incident_id, a.progress, a.close_time, COALESCE(i.title, '') \
             FROM alert_events e JOIN alerts a ON a.id = e.alert_id LEFT JOIN incidents i ON i.id = a.incident_id",
        );
        push_filter(&mut q);
        q.push(if filter.asc {
            " ORDER BY e.id ASC"
        } else {
            " ORDER BY e.id DESC"
        });
        q.push(" LIMIT ").i64(page.limit);
        q.push(" OFFSET ").i64(page.offset());
        type Row = (i64, String, String, String, String, i64, String);
        let rows: Vec<Row> = q.query_as().fetch_all(&self.read).await?;
        let mut c =
            Sql::new("SELECT COUNT(*) FROM alert_events e JOIN alerts a ON a.id = e.alert_id");
        push_filter(&mut c);
        let (total,): (i64,) = c.query_as().fetch_one(&self.read).await?;
        let mut items = Vec::with_capacity(rows.len());
        for (id, body, doc, incident_id, progress, close_time, title) in rows {
            let alert = decode(vec![(doc, incident_id, progress, close_time, title)])?.remove(0);
            items.push((alert, raw_event(id, &body)?));
        }
        Ok(Listing { items, total })
    }

    async fn alert_event_counts(&self, ids: &[IncidentId]) -> Result<HashMap<IncidentId, i64>> {
        let mut counts = HashMap::new();
        for chunk in ids.chunks(500) {
            let mut q = Sql::new("SELECT incident_id, doc FROM alerts WHERE incident_id IN ");
            q.list_text(chunk);
            let rows: Vec<(String, String)> = q.query_as().fetch_all(&self.read).await?;
            for (incident_id, doc) in rows {
                let n = serde_json::from_str::<Value>(&doc)?["event_cnt"]
                    .as_i64()
                    .unwrap_or(0);
                *counts.entry(IncidentId::from(incident_id)).or_insert(0) += n;
            }
        }
        Ok(counts)
    }

    async fn list_alerts(&self, filter: &AlertFilter, page: Page) -> Result<Listing<Alert>> {
        let mut q = Sql::new(SELECT_ALERT);
        push_filter(&mut q, filter);
        let column = if filter.order_by_updated {
            "a.updated_at"
        } else {
            "a.start_time"
        };
        let dir = if filter.asc { " ASC" } else { " DESC" };
        q.push(" ORDER BY ").push(column).push(dir);
        q.push(", a.id").push(dir).push(" LIMIT ").i64(page.limit);
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

    async fn recent_alerts(&self, incident_id: &IncidentId, limit: i64) -> Result<Vec<Alert>> {
        let mut q = Sql::new(SELECT_ALERT);
        q.push(" WHERE a.incident_id = ").text(incident_id);
        q.push(" ORDER BY a.updated_at DESC, a.id DESC LIMIT ")
            .i64(limit);
        let rows: Vec<AlertRow> = q.query_as().fetch_all(&self.read).await?;
        decode(rows)
    }

    async fn create_alert_source(
        &self,
        r: &IntegrationRecord,
        key_hash: &str,
    ) -> Result<IntegrationId> {
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

    async fn alert_source_by_key(&self, key_hash: &str) -> Result<Option<IntegrationId>> {
        let mut q = Sql::new("SELECT integration_id FROM source_keys WHERE key_hash = ");
        q.text(key_hash);
        let row: Option<(i64,)> = q.query_as().fetch_optional(&self.read).await?;
        Ok(row.map(|(id,)| IntegrationId(id)))
    }
}

/// Writes what a change by hand (alerts moved or closed) did, in a generic
/// job: its subscriptions are read afresh, not kept.
async fn write_by_hand(
    c: &mut sqlx::AnyConnection,
    state: &IngestState,
    rec: &mut Recorder,
) -> Result<bool> {
    write_state(
        &mut WriteConn::Sqlx(c),
        state,
        rec,
        &mut Subscribers::default(),
        &mut Leasing::default(),
    )
    .await
}
