//! What e-mail notifications need from the database: the built-in e-mail
//! integration, who may be mailed, and re-notify rounds (each queued once,
//! with its delivery, in one transaction).

use async_trait::async_trait;
use dutyhook_domain::ids::{ChannelId, DeliveryId, IncidentId, IntegrationId, PersonId};
use dutyhook_domain::integration::{IntegrationConfig, IntegrationKind, MailConfig};
use dutyhook_domain::notify::{ChannelNotify, Recipient};

use crate::queue::fifo::{insert_deliveries, NewDelivery};
use crate::sql::Sql;
use crate::store::SqlStore;
use crate::write_conn::WriteConn;
use crate::{DeliveryStore, IntegrationRecord, IntegrationStore, Page, Result};

/// The name the e-mail integration is shown by.
pub const MAIL_INTEGRATION_NAME: &str = "E-mail";

/// A round due: the incident, its channel, and the round's number (from 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DueRound {
    pub incident_id: IncidentId,
    pub channel_id: ChannelId,
    pub round: i64,
}

#[async_trait]
pub trait NotifyStore: Send + Sync {
    /// The e-mail integration, if it was ever made.
    async fn find_mail_integration(&self) -> Result<Option<IntegrationRecord>>;
    /// The e-mail integration, made on first use.
    async fn mail_integration(&self) -> Result<IntegrationRecord>;
    /// Turns a person's mail off (or on again).
    async fn set_mail_off(&self, person_id: PersonId, off: bool) -> Result<()>;
    /// Of `people` and, with `team_id`, that team's members: the active
    /// ones who want mail and have an address, each once, in that order.
    async fn mail_recipients(
        &self,
        people: &[PersonId],
        team_id: Option<i64>,
    ) -> Result<Vec<Recipient>>;
    /// Rounds due by `now_s`: unacknowledged (`Triggered`), unsnoozed
    /// incidents of channels that re-notify, the next round of each.
    async fn due_rounds(&self, now_s: i64, limit: i64) -> Result<Vec<DueRound>>;
    /// Queues `round` of the incident to the e-mail integration, due now,
    /// unless somebody already did (then `None`).
    async fn start_round(
        &self,
        due: &DueRound,
        integration_id: IntegrationId,
    ) -> Result<Option<DeliveryId>>;
    /// The re-notify round a delivery is, if it is one.
    async fn round_of(&self, delivery_id: DeliveryId) -> Result<Option<i64>>;
}

#[async_trait]
impl NotifyStore for SqlStore {
    async fn find_mail_integration(&self) -> Result<Option<IntegrationRecord>> {
        let found = self
            .list_integrations(&[IntegrationKind::Mail], Page { p: 1, limit: 1 })
            .await?;
        Ok(found.items.into_iter().next())
    }

    async fn mail_integration(&self) -> Result<IntegrationRecord> {
        if let Some(r) = self.find_mail_integration().await? {
            return Ok(r);
        }
        let record = IntegrationRecord {
            integration_id: IntegrationId(0),
            kind: IntegrationKind::Mail,
            name: MAIL_INTEGRATION_NAME.into(),
            team_id: 0,
            enabled: true,
            disabled_reason: String::new(),
            config: IntegrationConfig::Mail(MailConfig::default()),
            secret: String::new(),
            previous_secret: String::new(),
            previous_secret_until: 0,
            created_at: 0,
            updated_at: 0,
        };
        // Two processes starting at once: one makes it (a unique index
        // holds one per installation), the other finds it.
        if let Err(e) = self.create_integration(&record).await {
            tracing::debug!(error = %e, "the e-mail integration was made by another process");
        }
        self.find_mail_integration().await?.ok_or_else(|| {
            crate::StoreError::Corrupt("the e-mail integration was not stored".into())
        })
    }

    async fn set_mail_off(&self, person_id: PersonId, off: bool) -> Result<()> {
        let mut q = Sql::new("UPDATE people SET mail_off = ");
        q.i64(off as i64).push(" WHERE id = ").i64(person_id);
        if self.exec(q).await? == 0 {
            return Err(dutyhook_domain::DomainError::not_found("person", person_id).into());
        }
        Ok(())
    }

    async fn mail_recipients(
        &self,
        people: &[PersonId],
        team_id: Option<i64>,
    ) -> Result<Vec<Recipient>> {
        let mut wanted: Vec<PersonId> = people.to_vec();
        if let Some(team) = team_id.filter(|t| *t > 0) {
            let mut q = Sql::new("SELECT person_id FROM team_members WHERE team_id = ");
            q.i64(team).push(" ORDER BY position");
            let rows: Vec<(i64,)> = q.query_as().fetch_all(&self.read).await?;
            wanted.extend(rows.into_iter().map(|(id,)| PersonId(id)));
        }
        let mut seen = std::collections::HashSet::new();
        wanted.retain(|id| seen.insert(*id));
        if wanted.is_empty() {
            return Ok(vec![]);
        }
        let mut q = Sql::new("SELECT id, name, email FROM people WHERE active = 1 AND mail_off = 0 AND email <> '' AND id IN ");
        q.list_i64(&wanted.iter().map(|p| p.0).collect::<Vec<_>>());
        let rows: Vec<(i64, String, String)> = q.query_as().fetch_all(&self.read).await?;
        Ok(wanted
            .iter()
            .filter_map(|id| rows.iter().find(|(pid, _, _)| *pid == id.0))
            .map(|(id, name, email)| Recipient {
                person_id: PersonId(*id),
                person_name: name.clone(),
                email: email.clone(),
            })
            .collect())
    }

    async fn due_rounds(&self, now_s: i64, limit: i64) -> Result<Vec<DueRound>> {
        let channels: Vec<(i64, String)> =
            sqlx::query_as("SELECT id, notify FROM channels WHERE notify <> '{}'")
                .fetch_all(&self.read)
                .await?;
        let mut due = vec![];
        for (channel_id, notify) in channels {
            let Ok(notify) = serde_json::from_str::<ChannelNotify>(&notify) else {
                continue;
            };
            if notify.renotify_minutes <= 0 {
                continue;
            }
            let mut q = Sql::new(
                "SELECT i.id, i.start_time, (SELECT COUNT(*) FROM renotify_rounds r WHERE r.incident_id = i.id) \
                 FROM incidents i WHERE i.progress = 'Triggered' AND i.channel_id = ",
            );
            q.i64(channel_id)
                .push(" AND i.start_time <= ")
                .i64(now_s - notify.renotify_minutes * 60)
                .push(" AND i.snoozed_before <= ")
                .i64(now_s)
                .push(" ORDER BY i.start_time LIMIT ")
                .i64(limit);
            let rows: Vec<(String, i64, i64)> = q.query_as().fetch_all(&self.read).await?;
            for (id, start, done) in rows {
                let round = done + 1;
                if notify
                    .round_due_at(start, round)
                    .is_some_and(|at| at <= now_s)
                {
                    due.push(DueRound {
                        incident_id: IncidentId::from(id),
                        channel_id: ChannelId(channel_id),
                        round,
                    });
                }
            }
        }
        Ok(due)
    }

    async fn start_round(
        &self,
        due: &DueRound,
        integration_id: IntegrationId,
    ) -> Result<Option<DeliveryId>> {
        // The queue's time, not the clock rounds are counted by.
        let now_ms = crate::sql::now_ms();
        let due = due.clone();
        let started = self
            .writer
            .tx_outside_kept(move |c| {
                let due = due.clone();
                Box::pin(async move {
                    let mut taken = Sql::new(
                        "INSERT INTO renotify_rounds (incident_id, round, delivery_id, created_at) VALUES (",
                    );
                    taken.text(due.incident_id.as_str()).push(", ").i64(due.round);
                    taken.push(", 0, ").i64(now_ms / 1000);
                    taken.push(") ON CONFLICT (incident_id, round) DO NOTHING");
                    if taken.query().execute(&mut *c).await?.rows_affected() == 0 {
                        return Ok(None);
                    }
                    // The round's mail is about the incident as it is when
                    // sent; it rides on the incident's newest event, in its
                    // key's order.
                    let mut newest =
                        Sql::new("SELECT MAX(seq) FROM events WHERE subject_id = ");
                    newest.text(due.incident_id.as_str());
                    let (seq,): (Option<i64>,) = newest.query_as().fetch_one(&mut *c).await?;
                    let Some(event_seq) = seq else {
                        return Ok(None);
                    };
                    let ids = insert_deliveries(
                        &mut WriteConn::Sqlx(&mut *c),
                        &[NewDelivery {
                            event_seq,
                            integration_id: integration_id.into(),
                            subject_key: due.incident_id.to_string(),
                            at: now_ms,
                            subject_created: false,
                        }],
                    )
                    .await?;
                    let mut link = Sql::new("UPDATE renotify_rounds SET delivery_id = ");
                    link.i64(ids[0]).push(" WHERE incident_id = ");
                    link.text(due.incident_id.as_str())
                        .push(" AND round = ")
                        .i64(due.round);
                    link.query().execute(&mut *c).await?;
                    Ok(Some(DeliveryId(ids[0])))
                })
            })
            .await?;
        if started.is_some() {
            self.claim_now().await?;
        }
        Ok(started)
    }

    async fn round_of(&self, delivery_id: DeliveryId) -> Result<Option<i64>> {
        let mut q = Sql::new("SELECT round FROM renotify_rounds WHERE delivery_id = ");
        q.i64(delivery_id.0);
        let row: Option<(i64,)> = q.query_as().fetch_optional(&self.read).await?;
        Ok(row.map(|(r,)| r))
    }
}
