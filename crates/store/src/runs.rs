//! Custom action runs: written with the incident operation that changed
//! them, read per incident and one by one.

use dutyhook_domain::ids::{IncidentId, RunId};
use dutyhook_domain::run::{Run, RunStatus};
use sqlx::{AnyConnection, AnyPool};

use crate::sql::Sql;
use crate::Result;

/// Writes runs as they are now, one statement for all of them; a run kept
/// twice in a batch is written as it was last kept.
pub(crate) async fn upsert_runs(conn: &mut AnyConnection, runs: &[Run]) -> Result<()> {
    let mut last: Vec<&Run> = vec![];
    for r in runs.iter().rev() {
        if !last.iter().any(|l| l.run_id == r.run_id) {
            last.push(r);
        }
    }
    if last.is_empty() {
        return Ok(());
    }
    let mut q = Sql::on(
        conn,
        "INSERT INTO action_runs (run_id, incident_id, action_id, status, created_ms, token_hash, deadline, doc) VALUES ",
    );
    for (i, r) in last.iter().enumerate() {
        q.push(if i == 0 { "(" } else { ", (" });
        q.text(&r.run_id).push(", ").text(&r.incident_id).push(", ");
        q.i64(r.action_id)
            .push(", ")
            .text(r.status.as_str())
            .push(", ");
        q.i64(r.created_ms)
            .push(", ")
            .text(&r.token_hash)
            .push(", ");
        q.i64(r.deadline)
            .push(", ")
            .text(serde_json::to_string(r)?)
            .push(")");
    }
    q.push(" ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, deadline = excluded.deadline, doc = excluded.doc");
    q.query().execute(&mut *conn).await?;
    Ok(())
}

fn decode(rows: Vec<(String, String)>) -> Result<Vec<Run>> {
    rows.into_iter()
        .map(|(doc, token_hash)| {
            let mut run: Run = serde_json::from_str(&doc)?;
            run.token_hash = token_hash;
            Ok(run)
        })
        .collect()
}

const SELECT_RUN: &str = "SELECT doc, token_hash FROM action_runs WHERE ";

/// The runs a write batch changes, read in the writer's transaction with
/// one statement.
pub(crate) async fn load_runs(conn: &mut AnyConnection, run_ids: &[RunId]) -> Result<Vec<Run>> {
    if run_ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Sql::on(conn, SELECT_RUN);
    q.push("run_id IN ").list_text(run_ids);
    decode(q.query_as().fetch_all(&mut *conn).await?)
}

pub(crate) async fn run_by_token(read: &AnyPool, token_hash: &str) -> Result<Option<Run>> {
    let mut q = Sql::new(SELECT_RUN);
    q.push("token_hash = ").text(token_hash);
    Ok(decode(q.query_as().fetch_all(read).await?)?.pop())
}

/// Runs still running past their deadline, oldest deadline first.
pub(crate) async fn overdue_runs(read: &AnyPool, now_s: i64, limit: i64) -> Result<Vec<Run>> {
    let mut q = Sql::new(SELECT_RUN);
    q.push("status = ").text(RunStatus::Running.as_str());
    q.push(" AND deadline > 0 AND deadline <= ").i64(now_s);
    q.push(" ORDER BY deadline LIMIT ").i64(limit);
    decode(q.query_as().fetch_all(read).await?)
}

pub(crate) async fn incident_runs(read: &AnyPool, incident_id: &IncidentId) -> Result<Vec<Run>> {
    let mut q = Sql::new(SELECT_RUN);
    q.push("incident_id = ")
        .text(incident_id)
        .push(" ORDER BY created_ms DESC, run_id DESC");
    decode(q.query_as().fetch_all(read).await?)
}

pub(crate) async fn run(read: &AnyPool, run_id: &RunId) -> Result<Option<Run>> {
    let mut q = Sql::new(SELECT_RUN);
    q.push("run_id = ").text(run_id);
    Ok(decode(q.query_as().fetch_all(read).await?)?.pop())
}
