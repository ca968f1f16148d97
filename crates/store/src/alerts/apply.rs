//! Alert ingestion in a write batch: the events of every request loaded,
//! grouped and written together, in arrival order.

use std::collections::HashMap;

use dutyhook_domain::alert::{group_key, ingest, IngestState};
use dutyhook_domain::ids::{ChannelId, IncidentId, IntegrationId};
use dutyhook_domain::recorder::Recorder;
use dutyhook_domain::severity::Status;

use super::rows::{open_alerts, write_state};
use crate::incidents::rows::load_incidents;
use crate::sql::Sql;
use crate::subscribers::Subscribers;
use crate::write_conn::WriteConn;
use crate::writer::jobs::{Effects, IngestJob, Reply};
use crate::Result;

/// Loads what a batch of ingestion jobs needs in a few statements: the open
/// alerts their keys name, the open incidents their grouping keys name, and
/// those incidents.
pub(crate) async fn load_state(
    conn: &mut WriteConn<'_>,
    jobs: &[IngestJob],
) -> Result<IngestState> {
    let mut state = IngestState::default();
    let mut keys: HashMap<IntegrationId, Vec<String>> = HashMap::new();
    let mut gkeys: HashMap<ChannelId, Vec<String>> = HashMap::new();
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
    let mut incident_ids: Vec<IncidentId> = vec![];
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
            let rows: Vec<(String, String)> = conn.fetch_all(&q).await?;
            for (id, g) in rows {
                let id = IncidentId::from(id);
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
    conn: &mut WriteConn<'_>,
    jobs: &[IngestJob],
    replies: &mut Vec<Reply>,
    effects: &mut Effects,
    subscribers: &mut Subscribers,
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
        rec.settle_all(state.incidents.values_mut());
        all.timeline.append(&mut rec.timeline);
        all.events.append(&mut rec.events);
        let keys: Vec<String> = job.events.iter().map(|e| e.alert_key.clone()).collect();
        let answer = job.answer.clone();
        replies.push(Box::new(move || answer.send(Ok(keys))));
    }
    effects.events += all.events.len();
    effects.deliveries_moved |=
        write_state(conn, &state, &mut all, subscribers, &mut effects.leasing).await?;
    Ok(())
}
