//! Custom action runs: written with the incident operation that changed
//! them, read per incident and one by one.

use dutyhook_domain::ids::{IncidentId, RunId};
use dutyhook_domain::run::Run;
use sqlx::{AnyConnection, AnyPool};

use crate::sql::Sql;
use crate::Result;

/// Writes runs as they are now, one statement for all of them.
pub(crate) async fn upsert_runs(conn: &mut AnyConnection, runs: &[Run]) -> Result<()> {
    if runs.is_empty() {
        return Ok(());
    }
    let mut q = Sql::on(
        conn,
        "INSERT INTO action_runs (run_id, incident_id, action_id, status, created_ms, doc) VALUES ",
    );
    for (i, r) in runs.iter().enumerate() {
        q.push(if i == 0 { "(" } else { ", (" });
        q.text(&r.run_id).push(", ").text(&r.incident_id).push(", ");
        q.i64(r.action_id)
            .push(", ")
            .text(r.status.as_str())
            .push(", ");
        q.i64(r.created_ms)
            .push(", ")
            .text(serde_json::to_string(r)?)
            .push(")");
    }
    q.push(" ON CONFLICT (run_id) DO UPDATE SET status = excluded.status, doc = excluded.doc");
    q.query().execute(&mut *conn).await?;
    Ok(())
}

fn decode(docs: Vec<(String,)>) -> Result<Vec<Run>> {
    docs.into_iter()
        .map(|(doc,)| Ok(serde_json::from_str(&doc)?))
        .collect()
}

pub(crate) async fn incident_runs(read: &AnyPool, incident_id: &IncidentId) -> Result<Vec<Run>> {
    let mut q = Sql::new("SELECT doc FROM action_runs WHERE incident_id = ");
    q.text(incident_id)
        .push(" ORDER BY created_ms DESC, run_id DESC");
    decode(q.query_as().fetch_all(read).await?)
}

pub(crate) async fn run(read: &AnyPool, run_id: &RunId) -> Result<Option<Run>> {
    let mut q = Sql::new("SELECT doc FROM action_runs WHERE run_id = ");
    q.text(run_id);
    Ok(decode(q.query_as().fetch_all(read).await?)?.pop())
}
