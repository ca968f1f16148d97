//! Incident operations in a write batch: run in order over the incidents as
//! earlier operations of the batch left them, then written together.

use std::collections::{HashMap, HashSet};

use dutyhook_domain::ids::{IncidentId, RunId};
use dutyhook_domain::incident::Incident;
use dutyhook_domain::recorder::Recorder;
use dutyhook_domain::run::Run;
use dutyhook_domain::DomainError;

use super::rows::{load_incidents, write, Docs, Written};
use crate::runs::{load_runs, upsert_runs};
use crate::subscribers::Subscribers;
use crate::write_conn::WriteConn;
use crate::writer::jobs::{Effects, Made, MutateJob, Reply, Step};
use crate::{IncidentOp, Result};

/// Runs the operations of a batch, in order, over the incidents as earlier
/// operations of the batch left them; then writes what the successful ones
/// changed. A failing operation is answered at once and leaves no trace.
pub(crate) async fn apply_mutations(
    conn: &mut WriteConn<'_>,
    jobs: &[MutateJob],
    replies: &mut Vec<Reply>,
    effects: &mut Effects,
    subscribers: &mut Subscribers,
) -> Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let mut ids: Vec<IncidentId> = jobs.iter().flat_map(|j| j.ids.iter().cloned()).collect();
    ids.sort_unstable();
    ids.dedup();
    let mut working = load_incidents(conn, &ids).await?;
    let run_ids: Vec<RunId> = jobs.iter().filter_map(|j| j.run.clone()).collect();
    let stored_runs = load_runs(conn, &run_ids).await?;
    let mut changed: Vec<IncidentId> = vec![];
    let mut timeline = vec![];
    let mut events = vec![];
    let mut alert_moves = vec![];
    let mut closed_alerts_of = vec![];
    let mut runs: Vec<Run> = vec![];
    let mut docs = Docs::new();
    for job in jobs {
        let Some((incidents, mut rec)) = run_step(job, &working, &runs, &stored_runs) else {
            continue;
        };
        let made_docs = match &job.op {
            Step::Made(made) => Some(&made.docs),
            Step::Run(_) => None,
        };
        for (i, inc) in incidents.iter().enumerate() {
            if !rec.touched.contains(&inc.incident_id) {
                continue;
            }
            if !changed.contains(&inc.incident_id) {
                changed.push(inc.incident_id.clone());
            }
            // A document serialised by the caller holds only until an
            // operation of the batch changes its incident again.
            match made_docs.and_then(|d| d.get(i)) {
                Some(doc) => docs.insert(inc.incident_id.clone(), doc.clone()),
                None => docs.remove(&inc.incident_id),
            };
            working.insert(inc.incident_id.clone(), inc.clone());
        }
        timeline.append(&mut rec.timeline);
        events.append(&mut rec.events);
        alert_moves.append(&mut rec.alert_moves);
        closed_alerts_of.append(&mut rec.closed_alerts_of);
        runs.append(&mut rec.runs);
        let answer = job.answer.clone();
        replies.push(Box::new(move || answer.send(Ok(incidents))));
    }
    let touched: Vec<&Incident> = changed.iter().filter_map(|id| working.get(id)).collect();
    // An operation touches the incidents it asked for or ones it created.
    let created: HashSet<IncidentId> = changed
        .iter()
        .filter(|id| ids.binary_search(id).is_err())
        .cloned()
        .collect();
    let written = Written {
        incidents: &touched,
        timeline: &timeline,
        events: &events,
        created: Some(&created),
        docs: Some(&docs),
    };
    effects.deliveries_moved |= write(conn, written, subscribers, &mut effects.leasing).await?;
    effects.events += events.len();
    upsert_runs(conn, &runs).await?;
    crate::alerts::rows::follow_incidents(conn, &alert_moves, &closed_alerts_of).await?;
    Ok(())
}

/// Runs `job`'s operation over the incidents as earlier operations of the
/// batch left them (`working`, `runs`) or as stored, and settles what it
/// recorded; or takes what its caller made. Answers a failing one itself,
/// with `None`.
fn run_step(
    job: &MutateJob,
    working: &HashMap<IncidentId, Incident>,
    runs: &[Run],
    stored_runs: &[Run],
) -> Option<(Vec<Incident>, Recorder)> {
    let mut rec = job.rec.clone();
    let op = match &job.op {
        Step::Made(made) => return Some((made.incidents.clone(), rec)),
        Step::Run(op) => op,
    };
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
            return None;
        }
    };
    if let Some(run_id) = &job.run {
        // As an earlier operation of this batch left it, else as stored.
        let current = match runs.iter().rev().find(|r| &r.run_id == run_id) {
            Some(r) => Some(r.clone()),
            None => stored_runs.iter().find(|r| &r.run_id == run_id).cloned(),
        };
        match current {
            Some(r) => rec.runs = vec![r],
            None => {
                job.answer
                    .send(Err(DomainError::not_found("run", run_id).into()));
                return None;
            }
        }
    }
    if let Err(e) = run_settled(op, &mut incidents, &mut rec) {
        job.answer.send(Err(e));
        return None;
    }
    Some((incidents, rec))
}

/// Runs `op` over `incidents` and settles what it recorded: where the
/// writer runs it and where its caller does, the same way.
fn run_settled(op: &IncidentOp, incidents: &mut Vec<Incident>, rec: &mut Recorder) -> Result<()> {
    op(incidents, rec)?;
    rec.settle(incidents.iter_mut());
    Ok(())
}

/// A job for `op` over the stored incidents `ids`. One that reads none (a
/// creation) is run here, by the caller, rather than on the writer's
/// thread, which every job of every caller waits for.
pub(crate) fn step(
    ids: &[IncidentId],
    op: IncidentOp,
    mut rec: Recorder,
) -> Result<(Step, Recorder)> {
    if !ids.is_empty() {
        return Ok((Step::Run(op), rec));
    }
    let mut made = vec![];
    run_settled(&op, &mut made, &mut rec)?;
    Ok((Step::Made(Made::new(made)?), rec))
}
