//! Incidents, their timeline and the outbox write: every change and the events
//! it causes commit together or not at all.

pub(crate) mod apply;
pub(crate) mod rows;

use async_trait::async_trait;
use dutyhook_domain::ids::{IncidentId, RunId};
use dutyhook_domain::incident::Incident;
use dutyhook_domain::recorder::Recorder;
use dutyhook_domain::severity::Progress;
use dutyhook_domain::timeline::TimelineEntry;
use dutyhook_domain::DomainError;

use self::rows::{decode, SELECT_INCIDENT};
use crate::sql::{like_contains, Sql};
use crate::store::SqlStore;
use crate::writer::{Answer, Job, MutateJob, Step};
use crate::{IncidentFilter, IncidentOp, IncidentStore, Listing, Page, Result, StoreError};

/// Puts incidents in the order of `ids`; `NotFound` names the first missing.
fn in_order(found: Vec<Incident>, ids: &[IncidentId]) -> Result<Vec<Incident>> {
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        match found.iter().find(|i| &i.incident_id == id) {
            Some(inc) => out.push(inc.clone()),
            None => return Err(DomainError::not_found("incident", id).into()),
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
    if !f.team_ids.is_empty() {
        q.push(" AND i.channel_id IN (SELECT id FROM channels WHERE team_id IN ")
            .list_i64(&f.team_ids)
            .push(")");
    }
    if !f.creator_ids.is_empty() {
        q.push(" AND i.creator_id IN ").list_i64(&f.creator_ids);
    }
    if !f.closer_ids.is_empty() {
        q.push(" AND i.closer_id IN ").list_i64(&f.closer_ids);
    }
    if !f.incident_ids.is_empty() {
        q.push(" AND i.id IN ").list_text(&f.incident_ids);
    }
    if !f.nums.is_empty() {
        q.push(" AND i.num IN ").list_text(&f.nums);
    }
    if let Some(key) = &f.group_key {
        q.push(" AND i.group_key = ").text(key);
    }
    if let Some(title) = &f.same_title {
        q.push(" AND LOWER(i.title) = ").text(title.to_lowercase());
    }
    if let Some(id) = &f.before {
        q.push(" AND i.id <> ").text(id);
        q.push(" AND i.created_ms <= (SELECT created_ms FROM incidents WHERE id = ")
            .text(id)
            .push(")");
    }
    match f.snoozed {
        Some(true) => q.push(" AND i.snoozed_before > 0"),
        Some(false) => q.push(" AND i.snoozed_before = 0"),
        None => q,
    };
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
        ids: &[IncidentId],
        rec: Recorder,
        op: IncidentOp,
    ) -> Result<Vec<Incident>> {
        let (op, rec) = apply::step(ids, op, rec)?;
        let (answer, rx) = Answer::new();
        self.writer
            .send(Job::Mutate(Box::new(MutateJob {
                ids: ids.to_vec(),
                run: None,
                rec,
                op,
                answer,
            })))
            .await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn mutate_run(
        &self,
        incident_id: &IncidentId,
        run_id: &RunId,
        rec: Recorder,
        op: IncidentOp,
    ) -> Result<Incident> {
        let (answer, rx) = Answer::new();
        self.writer
            .send(Job::Mutate(Box::new(MutateJob {
                ids: vec![incident_id.clone()],
                run: Some(run_id.clone()),
                rec,
                op: Step::Run(op),
                answer,
            })))
            .await?;
        let mut incidents = rx.await.map_err(|_| StoreError::Closed)??;
        incidents
            .pop()
            .ok_or_else(|| DomainError::not_found("incident", incident_id).into())
    }

    async fn incident(&self, incident_id: &IncidentId) -> Result<Option<Incident>> {
        let mut q = Sql::new(SELECT_INCIDENT);
        q.push(" WHERE i.id = ").text(incident_id);
        let rows: Vec<(String, String)> = q.query_as().fetch_all(&self.read).await?;
        Ok(decode(rows)?.pop())
    }

    async fn incidents(&self, ids: &[IncidentId]) -> Result<Vec<Incident>> {
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
        q.push(if filter.asc {
            " ORDER BY i.start_time ASC, i.created_ms ASC, i.id ASC LIMIT "
        } else {
            " ORDER BY i.start_time DESC, i.created_ms DESC, i.id DESC LIMIT "
        })
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
        incident_id: &IncidentId,
        kinds: &[String],
        page: Page,
        asc: bool,
    ) -> Result<Listing<TimelineEntry>> {
        let only_kinds = |q: &mut Sql| {
            if !kinds.is_empty() {
                q.push(" AND kind IN ").list_text(kinds);
            }
        };
        let mut q =
            Sql::new("SELECT kind, person, created_at, detail FROM timeline WHERE incident_id = ");
        q.text(incident_id);
        only_kinds(&mut q);
        q.push(if asc {
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
        only_kinds(&mut c);
        let (total,): (i64,) = c.query_as().fetch_one(&self.read).await?;
        let items = rows
            .into_iter()
            .map(|(kind, person, created_at, detail)| {
                Ok(TimelineEntry {
                    incident_id: incident_id.clone(),
                    kind,
                    person: person.map(|p| serde_json::from_str(&p)).transpose()?,
                    created_at,
                    detail: serde_json::from_str(&detail)?,
                })
            })
            .collect::<Result<_>>()?;
        Ok(Listing { items, total })
    }

    async fn remove_incidents(&self, ids: &[IncidentId]) -> Result<()> {
        let ids = ids.to_vec();
        self.writer
            .tx_outside_kept(move |c| {
                let ids = ids.clone();
                Box::pin(async move {
                    let mut q = Sql::on(c, "SELECT id FROM incidents WHERE id IN ");
                    q.list_text(&ids);
                    let found: Vec<(String,)> = q.query_as().fetch_all(&mut *c).await?;
                    if let Some(missing) = ids.iter().find(|id| !found.iter().any(|(f,)| f == id.as_str())) {
                        return Err(DomainError::not_found("incident", missing).into());
                    }
                    let mut q = Sql::on(
                        c,
                        "DELETE FROM alert_events WHERE alert_id IN (SELECT id FROM alerts WHERE incident_id IN ",
                    );
                    q.list_text(&ids).push(")");
                    q.query().execute(&mut *c).await?;
                    for (table, column) in [
                        ("alerts", "incident_id"),
                        ("action_runs", "incident_id"),
                        ("timeline", "incident_id"),
                        ("incidents", "id"),
                    ] {
                        let mut q = Sql::on(c, &format!("DELETE FROM {table} WHERE {column} IN "));
                        q.list_text(&ids);
                        q.query().execute(&mut *c).await?;
                    }
                    Ok(())
                })
            })
            .await
    }

    async fn due_snoozes(&self, now_s: i64, limit: i64) -> Result<Vec<IncidentId>> {
        let mut q =
            Sql::new("SELECT id FROM incidents WHERE snoozed_before > 0 AND snoozed_before <= ");
        q.i64(now_s)
            .push(" AND progress <> 'Closed' ORDER BY snoozed_before LIMIT ")
            .i64(limit);
        let rows: Vec<(String,)> = q.query_as().fetch_all(&self.read).await?;
        Ok(rows.into_iter().map(|(id,)| IncidentId::from(id)).collect())
    }
}
