//! Custom action runs: written with the incident operation that changed
//! them, read per incident and one by one.

use dutyhook_domain::action_guard::{RateRule, COOLDOWN_STATUSES, UNCAPPED_STATUSES};
use dutyhook_domain::ids::{IncidentId, RunId};
use dutyhook_domain::run::{Run, RunStatus};
use sqlx::AnyPool;

use crate::sql::Sql;
use crate::write_conn::WriteConn;
use crate::Result;

/// Writes runs as they are now, one statement for all of them; a run kept
/// twice in a batch is written as it was last kept.
pub(crate) async fn upsert_runs(conn: &mut WriteConn<'_>, runs: &[Run]) -> Result<()> {
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
    q.push(" ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, token_hash = excluded.token_hash, deadline = excluded.deadline, doc = excluded.doc");
    conn.execute(&q).await?;
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
pub(crate) async fn load_runs(conn: &mut WriteConn<'_>, run_ids: &[RunId]) -> Result<Vec<Run>> {
    if run_ids.is_empty() {
        return Ok(vec![]);
    }
    let mut q = Sql::on(conn, SELECT_RUN);
    q.push("run_id IN ").list_text(run_ids);
    decode(conn.fetch_all(&q).await?)
}

pub(crate) async fn run_by_token(read: &AnyPool, token_hash: &str) -> Result<Option<Run>> {
    let mut q = Sql::new(SELECT_RUN);
    q.push("token_hash = ").text(token_hash);
    Ok(decode(q.query_as().fetch_all(read).await?)?.pop())
}

/// Runs running or awaiting approval past their deadline, oldest
/// deadline first.
pub(crate) async fn overdue_runs(read: &AnyPool, now_s: i64, limit: i64) -> Result<Vec<Run>> {
    let mut q = Sql::new(SELECT_RUN);
    q.push("status IN ").list_text(&[
        RunStatus::Running.as_str(),
        RunStatus::AwaitingApproval.as_str(),
    ]);
    q.push(" AND deadline > 0 AND deadline <= ").i64(now_s);
    q.push(" ORDER BY deadline LIMIT ").i64(limit);
    decode(q.query_as().fetch_all(read).await?)
}

/// Runs awaiting approval on any incident, oldest first.
pub(crate) async fn awaiting_runs(read: &AnyPool, limit: i64) -> Result<Vec<Run>> {
    let mut q = Sql::new(SELECT_RUN);
    q.push("status = ")
        .text(RunStatus::AwaitingApproval.as_str());
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

/// Creation times (ms) of the runs that count against `rule` for a new run
/// of `run.action_id` on `run.incident_id`: (this incident's, for the
/// cooldown; the action's, for the hourly cap).
async fn counted_runs(
    conn: &mut WriteConn<'_>,
    run: &Run,
    rule: &RateRule,
    now_ms: i64,
) -> Result<(Vec<i64>, Vec<i64>)> {
    let mut on_incident = vec![];
    if rule.cooldown_s > 0 {
        let mut q = Sql::on(
            conn,
            "SELECT created_ms FROM action_runs WHERE action_id = ",
        );
        q.i64(run.action_id)
            .push(" AND incident_id = ")
            .text(&run.incident_id);
        q.push(" AND created_ms > ")
            .i64(now_ms - rule.cooldown_s * 1000);
        q.push(" AND status IN ")
            .list_text(&COOLDOWN_STATUSES.map(RunStatus::as_str));
        let rows: Vec<(i64,)> = conn.fetch_all(&q).await?;
        on_incident = rows.into_iter().map(|(t,)| t).collect();
    }
    let mut of_action = vec![];
    if rule.max_runs_per_hour > 0 {
        let mut q = Sql::on(
            conn,
            "SELECT created_ms FROM action_runs WHERE action_id = ",
        );
        q.i64(run.action_id)
            .push(" AND created_ms > ")
            .i64(now_ms - 3_600_000);
        q.push(" AND status NOT IN ")
            .list_text(&UNCAPPED_STATUSES.map(RunStatus::as_str));
        let rows: Vec<(i64,)> = conn.fetch_all(&q).await?;
        of_action = rows.into_iter().map(|(t,)| t).collect();
    }
    Ok((on_incident, of_action))
}

/// Writes `run` unless `rule` forbids a run now; answers when one may
/// start instead. Runs in a writer transaction, which the writer
/// serialises (on PostgreSQL under its advisory lock, across processes),
/// so concurrent presses never both slip under the limit.
pub(crate) async fn reserve_run(
    conn: &mut WriteConn<'_>,
    run: &Run,
    rule: &RateRule,
    now_ms: i64,
) -> Result<Option<i64>> {
    let (on_incident, of_action) = counted_runs(conn, run, rule, now_ms).await?;
    if let Some(next) = rule.next_allowed(now_ms, &on_incident, &of_action) {
        return Ok(Some(next));
    }
    upsert_runs(conn, std::slice::from_ref(run)).await?;
    Ok(None)
}
