//! Alert rows: reading them, and writing what ingestion or an incident
//! operation changed, with the events it causes.

use dutyhook_domain::alert::{Alert, AlertIncident, IngestState};
use dutyhook_domain::ids::{AlertId, IncidentId, IntegrationId};
use dutyhook_domain::incident::Incident;
use dutyhook_domain::recorder::Recorder;
use dutyhook_domain::severity::Progress;
use serde_json::Value;

use crate::incidents::rows::{write, Written};
use crate::queue::fifo::Leasing;
use crate::sql::{now_s, Sql};
use crate::subscribers::Subscribers;
use crate::write_conn::WriteConn;
use crate::Result;

pub(crate) const SELECT_ALERT: &str =
    "SELECT a.doc, a.incident_id, a.progress, a.close_time, COALESCE(i.title, '') \
     FROM alerts a LEFT JOIN incidents i ON i.id = a.incident_id";

pub(crate) type AlertRow = (String, String, String, i64, String);

/// The doc, with what SQL may have changed since it was written.
pub(crate) fn decode(rows: Vec<AlertRow>) -> Result<Vec<Alert>> {
    rows.into_iter()
        .map(|(doc, incident_id, progress, close_time, title)| {
            let mut a: Alert = serde_json::from_str(&doc)?;
            a.progress = Progress::parse(&progress).unwrap_or(a.progress);
            a.close_time = close_time;
            a.incident = (!incident_id.is_empty()).then(|| AlertIncident {
                incident_id: incident_id.into(),
                title,
            });
            Ok(a)
        })
        .collect()
}

/// Alerts follow their incident: into a merge target, and closed with it.
pub(crate) async fn follow_incidents(
    conn: &mut WriteConn<'_>,
    moves: &[(IncidentId, IncidentId)],
    closed: &[IncidentId],
) -> Result<()> {
    for (from, to) in moves {
        let mut q = Sql::new("UPDATE alerts SET incident_id = ");
        q.text(to).push(" WHERE incident_id = ").text(from);
        conn.execute(&q).await?;
    }
    if !closed.is_empty() {
        let mut q = Sql::new("UPDATE alerts SET progress = 'Closed', close_time = ");
        q.i64(now_s())
            .push(" WHERE progress <> 'Closed' AND incident_id IN ")
            .list_text(closed);
        conn.execute(&q).await?;
    }
    Ok(())
}

pub(crate) async fn upsert_alerts(conn: &mut WriteConn<'_>, alerts: &[&Alert]) -> Result<()> {
    // A recovered alert is written before a new open one of the same key.
    let (closed, open): (Vec<&&Alert>, Vec<&&Alert>) = alerts.iter().partition(|a| !a.is_open());
    for group in [closed, open] {
        for chunk in group.chunks(500) {
            let mut q = Sql::on(conn, "INSERT INTO alerts (id, data_source_id, alert_key, channel_id, incident_id, progress, close_time, start_time, updated_at, severity, doc) VALUES ");
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
                q.text(a.alert_severity.as_str()).push(", ");
                q.text(serde_json::to_string(a)?).push(")");
            }
            q.push(" ON CONFLICT (id) DO UPDATE SET incident_id = excluded.incident_id, progress = excluded.progress, \
                    close_time = excluded.close_time, updated_at = excluded.updated_at, severity = excluded.severity, doc = excluded.doc");
            conn.execute(&q).await?;
        }
    }
    Ok(())
}

pub(crate) async fn insert_raw(
    conn: &mut WriteConn<'_>,
    raw: &[(AlertId, Value)],
    at: i64,
) -> Result<()> {
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
        conn.execute(&q).await?;
    }
    Ok(())
}

/// Writes what a batch of ingestion or closing changed, with its events;
/// answers whether deliveries were queued.
pub(crate) async fn write_state(
    conn: &mut WriteConn<'_>,
    state: &IngestState,
    rec: &mut Recorder,
    subscribers: &mut Subscribers,
    leasing: &mut Leasing,
) -> Result<bool> {
    let alerts: Vec<&Alert> = state.changed_alerts.values().collect();
    upsert_alerts(conn, &alerts).await?;
    insert_raw(conn, &state.raw, rec.now_s()).await?;
    let incidents: Vec<&Incident> = state
        .changed_incidents
        .iter()
        .filter_map(|id| state.incidents.get(id))
        .collect();
    let written = Written {
        incidents: &incidents,
        timeline: &rec.timeline,
        events: &rec.events,
        created: None,
        docs: None,
    };
    write(conn, written, subscribers, leasing).await
}

pub(crate) async fn open_alerts(
    conn: &mut WriteConn<'_>,
    source_id: IntegrationId,
    keys: &[String],
) -> Result<Vec<Alert>> {
    let mut out = vec![];
    for chunk in keys.chunks(500) {
        let mut q = Sql::on(conn, SELECT_ALERT);
        q.push(" WHERE a.progress <> 'Closed' AND a.data_source_id = ")
            .i64(source_id);
        q.push(" AND a.alert_key IN ").list_text(chunk);
        let rows: Vec<AlertRow> = conn.fetch_all(&q).await?;
        out.extend(decode(rows)?);
    }
    Ok(out)
}
