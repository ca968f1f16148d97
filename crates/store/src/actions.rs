//! Custom actions: their channels (under the per-channel limit) and the
//! results kept for idempotent triggers.

use std::collections::BTreeMap;

use async_trait::async_trait;
use dutyhook_domain::action_guard::RateRule;
use dutyhook_domain::ids::{ChannelId, IncidentId, IntegrationId, PersonId, RunId};
use dutyhook_domain::integration::IntegrationKind;
use dutyhook_domain::run::Run;
use dutyhook_domain::DomainError;
use sqlx::AnyConnection;

use crate::integrations::{insert_integration, update_integration_row};
use crate::sql::Sql;
use crate::store::SqlStore;
use crate::write_conn::WriteConn;
use crate::{ActionStore, IntegrationRecord, PressSlot, Result, StoreError};

/// Refuses a save that would give a channel a second action of the same
/// name, or more actions than `per_channel`. Runs inside the saving
/// transaction, which the writer serialises (PostgreSQL: under its advisory
/// lock), so two concurrent saves cannot both slip under the limit.
async fn check_channels(
    c: &mut AnyConnection,
    integration_id: IntegrationId,
    name: &str,
    channel_ids: &[ChannelId],
    per_channel: usize,
) -> Result<()> {
    let mut q = Sql::new(
        "SELECT ac.channel_id, i.name, COALESCE(ch.name, '') FROM action_channels ac \
         JOIN integrations i ON i.id = ac.integration_id \
         LEFT JOIN channels ch ON ch.id = ac.channel_id WHERE ac.channel_id IN (",
    );
    for (n, id) in channel_ids.iter().enumerate() {
        if n > 0 {
            q.push(", ");
        }
        q.i64(*id);
    }
    q.push(") AND ac.integration_id <> ").i64(integration_id);
    let rows: Vec<(i64, String, String)> = q.query_as().fetch_all(&mut *c).await?;
    let wanted = name.trim().to_lowercase();
    if let Some((channel, _, channel_name)) = rows
        .iter()
        .find(|(_, other, _)| other.trim().to_lowercase() == wanted)
    {
        return Err(StoreError::Conflict(format!(
            "name: channel {channel} ({channel_name:?}) already has a custom action named {name:?}"
        )));
    }
    let mut counts: BTreeMap<i64, (usize, &str)> = BTreeMap::new();
    for (channel, _, channel_name) in &rows {
        counts.entry(*channel).or_insert((0, channel_name)).0 += 1;
    }
    let full: Vec<String> = counts
        .iter()
        .filter(|(_, (n, _))| n + 1 > per_channel)
        .map(|(id, (_, name))| format!("{id} ({name:?})"))
        .collect();
    if !full.is_empty() {
        return Err(DomainError::LimitExceeded(format!(
            "channel_ids: a channel holds at most {per_channel} custom actions; full: channel {}",
            full.join(", channel ")
        ))
        .into());
    }
    Ok(())
}

async fn bind_channels(
    c: &mut AnyConnection,
    integration_id: IntegrationId,
    channel_ids: &[ChannelId],
) -> Result<()> {
    let mut q = Sql::new("DELETE FROM action_channels WHERE integration_id = ");
    q.i64(integration_id);
    q.query().execute(&mut *c).await?;
    let mut q = Sql::new("INSERT INTO action_channels (channel_id, integration_id) VALUES ");
    for (n, id) in channel_ids.iter().enumerate() {
        q.push(if n == 0 { "(" } else { ", (" });
        q.i64(*id).push(", ").i64(integration_id).push(")");
    }
    q.query().execute(&mut *c).await?;
    Ok(())
}

#[async_trait]
impl ActionStore for SqlStore {
    async fn save_action(
        &self,
        r: &IntegrationRecord,
        channel_ids: &[ChannelId],
        per_channel: usize,
    ) -> Result<IntegrationId> {
        let r = self.sealed(r)?;
        let channel_ids = channel_ids.to_vec();
        self.writer
            .tx(move |c| {
                let (r, channel_ids) = (r.clone(), channel_ids.clone());
                Box::pin(async move {
                    let (id, name) = (r.record.integration_id, &r.record.name);
                    check_channels(c, id, name, &channel_ids, per_channel).await?;
                    let id = if id.get() == 0 {
                        insert_integration(c, &r).await?
                    } else {
                        update_integration_row(c, &r).await?;
                        r.record.integration_id
                    };
                    bind_channels(c, id, &channel_ids).await?;
                    Ok(id)
                })
            })
            .await
    }

    async fn channel_actions(&self, channel_id: ChannelId) -> Result<Vec<(IntegrationId, String)>> {
        let mut q = Sql::new(
            "SELECT i.id, i.name FROM action_channels ac JOIN integrations i ON i.id = ac.integration_id \
             WHERE i.kind = ",
        );
        q.text(IntegrationKind::CustomAction.as_str())
            .push(" AND ac.channel_id = ")
            .i64(channel_id)
            .push(" ORDER BY i.id");
        let rows: Vec<(i64, String)> = q.query_as().fetch_all(&self.read).await?;
        Ok(rows
            .into_iter()
            .map(|(id, name)| (IntegrationId(id), name))
            .collect())
    }

    async fn begin_press(
        &self,
        person_id: PersonId,
        key: &str,
        fingerprint: &str,
        now_ms: i64,
        window_ms: i64,
    ) -> Result<PressSlot> {
        let key = key.to_string();
        let fingerprint = fingerprint.to_string();
        self.writer
            .tx_outside_kept(move |c| {
                let (key, fingerprint) = (key.clone(), fingerprint.clone());
                Box::pin(async move {
                    let mut q = Sql::new("DELETE FROM press_keys WHERE created_at < ");
                    q.i64(now_ms - window_ms);
                    q.query().execute(&mut *c).await?;
                    let mut q =
                        Sql::new("SELECT fingerprint, result FROM press_keys WHERE person_id = ");
                    q.i64(person_id)
                        .push(" AND idempotency_key = ")
                        .text(&key);
                    let row: Option<(String, Option<String>)> =
                        q.query_as().fetch_optional(&mut *c).await?;
                    Ok(match row {
                        Some((f, _)) if f != fingerprint => PressSlot::Mismatch,
                        Some((_, Some(result))) => PressSlot::Done(result),
                        Some((_, None)) => PressSlot::Running,
                        None => {
                            let mut q = Sql::new("INSERT INTO press_keys (person_id, idempotency_key, fingerprint, created_at) VALUES (");
                            q.i64(person_id).push(", ").text(&key).push(", ");
                            q.text(&fingerprint).push(", ").i64(now_ms).push(")");
                            q.query().execute(&mut *c).await?;
                            PressSlot::Fresh
                        }
                    })
                })
            })
            .await
    }

    async fn finish_press(
        &self,
        person_id: PersonId,
        key: &str,
        result: Option<&str>,
    ) -> Result<()> {
        let mut q = match result {
            Some(result) => {
                let mut q = Sql::new("UPDATE press_keys SET result = ");
                q.text(result);
                q
            }
            None => Sql::new("DELETE FROM press_keys"),
        };
        q.push(" WHERE person_id = ")
            .i64(person_id)
            .push(" AND idempotency_key = ")
            .text(key);
        self.exec_outside_kept(q).await?;
        Ok(())
    }

    async fn incident_runs(&self, incident_id: &IncidentId) -> Result<Vec<Run>> {
        crate::runs::incident_runs(&self.read, incident_id).await
    }

    async fn run(&self, run_id: &RunId) -> Result<Option<Run>> {
        crate::runs::run(&self.read, run_id).await
    }

    async fn run_by_token(&self, token_hash: &str) -> Result<Option<Run>> {
        crate::runs::run_by_token(&self.read, token_hash).await
    }

    async fn awaiting_runs(&self, limit: i64) -> Result<Vec<Run>> {
        crate::runs::awaiting_runs(&self.read, limit).await
    }

    async fn reserve_run(&self, run: &Run, rule: RateRule, now_ms: i64) -> Result<Option<i64>> {
        let run = run.clone();
        self.writer
            .tx_outside_kept(move |c| {
                let run = run.clone();
                Box::pin(async move {
                    crate::runs::reserve_run(&mut WriteConn::Sqlx(&mut *c), &run, &rule, now_ms)
                        .await
                })
            })
            .await
    }

    async fn overdue_runs(&self, now_s: i64, limit: i64) -> Result<Vec<Run>> {
        crate::runs::overdue_runs(&self.read, now_s, limit).await
    }
}
