//! One claimed delivery of the e-mail integration: who is told (from the
//! event, the channel's settings and each person's choice), the mail sent
//! through the SMTP server, retried as a webhook push is, and on success a
//! timeline record saying who was mailed, written with the attempt.

use std::time::Duration;

use dutyhook_domain::event::EventType;
use dutyhook_domain::ids::{ChannelId, IncidentId, PersonId};
use dutyhook_domain::integration::MailConfig;
use dutyhook_domain::notify::{audience, notified_detail, Occasion, Recipient, NOTIFIED};
use dutyhook_domain::severity::Progress;
use dutyhook_domain::timeline::TimelineEntry;
use dutyhook_domain::webhook::RetryPolicy;
use dutyhook_store::{ClaimedDelivery, Completion, DeliveryResolution, IntegrationRecord};
use rand::Rng;
use serde_json::Value;

use super::Inner;
use crate::attempt_record::{attempt_record, Attempt};
use crate::mail::render;
use crate::now_ms;
use crate::retry::{decide, Decision, Outcome};

/// Whom a mail goes to, and the team's name when the team is among them.
struct Addressed {
    to: Vec<Recipient>,
    team_name: Option<String>,
}

impl Inner {
    pub(super) async fn mail_attempt(
        &self,
        d: &ClaimedDelivery,
        integration: &IntegrationRecord,
        cfg: &MailConfig,
    ) -> Completion {
        let later = |ms: i64| Self::release(d, now_ms() + ms);
        let Some(mailer) = self.mailer.get().cloned() else {
            // This process has no SMTP server: one that has may take it.
            return later(60_000);
        };
        let payload: Value = match serde_json::from_str(&d.event.payload) {
            Ok(v) => v,
            Err(_) => {
                return Completion::Skip {
                    delivery_id: d.delivery_id,
                }
            }
        };
        let occasion = match self.store.round_of(d.delivery_id).await {
            Ok(Some(round)) => Occasion::Renotify { round },
            Ok(None) => Occasion::Event(d.event.event_type),
            Err(_) => return later(1_000),
        };
        let addressed = match self.addressed(occasion, &payload, d.event.event_time).await {
            Ok(Some(a)) => a,
            // Nobody to tell (or acknowledged since the round began).
            Ok(None) => {
                return Completion::Skip {
                    delivery_id: d.delivery_id,
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "reading who to mail failed");
                return later(1_000);
            }
        };
        let mail = render::compose(occasion, &payload);
        let timeout = Duration::from_millis(cfg.timeout_ms.max(1_000) as u64);
        let sent = mailer.send(&addressed.to, &mail, timeout).await;
        let attempt_no = d.attempts + 1;
        let outcome = match sent.class {
            None => Outcome::Success,
            Some(class) => Outcome::Failed {
                class,
                status: sent.code,
                retry_after: None,
            },
        };
        let jitter = rand::thread_rng().gen_range(-1.0..=1.0);
        let resolution = match decide(
            RetryPolicy::Backoff,
            attempt_no as u32,
            outcome,
            self.cfg.schedule,
            jitter,
        ) {
            Decision::Done => DeliveryResolution::Done,
            Decision::RetryAfter(after) => {
                DeliveryResolution::RetryAt(now_ms() + after.as_millis() as i64)
            }
            Decision::GiveUp | Decision::GiveUpAndDisable => DeliveryResolution::Failed,
        };
        if sent.success {
            tracing::debug!(event_id = %d.event.event_id, to = addressed.to.len(), "mailed");
        } else {
            tracing::warn!(event_id = %d.event.event_id, attempt = attempt_no, error = %sent.error, "mail failed");
        }
        if resolution == DeliveryResolution::Failed {
            self.invoker
                .metrics()
                .record_given_up(integration.kind.as_str());
        }
        let note = sent.success.then(|| {
            let round = match occasion {
                Occasion::Renotify { round } => Some(round),
                Occasion::Event(_) => None,
            };
            Box::new(TimelineEntry {
                incident_id: IncidentId::from(d.event.subject_id.clone()),
                kind: NOTIFIED.into(),
                person: None,
                created_at: now_ms(),
                detail: notified_detail(&addressed.to, round, addressed.team_name.as_deref()),
            })
        });
        Completion::Attempt {
            delivery_id: d.delivery_id,
            resolution,
            record: Box::new(attempt_record(
                Attempt {
                    integration,
                    event: &d.event,
                    delivery_id: d.delivery_id,
                    attempt: attempt_no,
                    test: false,
                },
                sent,
            )),
            note,
        }
    }

    /// The recipients of a mail on `occasion`, or `None` when nobody is to
    /// be told.
    async fn addressed(
        &self,
        occasion: Occasion,
        payload: &Value,
        event_time: i64,
    ) -> dutyhook_store::Result<Option<Addressed>> {
        let incident = &payload["incident"];
        let id = IncidentId::from(
            incident["incident_id"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        );
        if let Occasion::Renotify { .. } = occasion {
            let current = self.store.incident(&id).await?;
            if current.is_none_or(|i| i.progress != Progress::Triggered) {
                return Ok(None);
            }
        }
        let added = match occasion {
            Occasion::Event(EventType::i_a_rspd) => self.added_by(&id, event_time).await?,
            _ => vec![],
        };
        let channel_id = ChannelId(incident["channel_id"].as_i64().unwrap_or(0));
        let channel = match channel_id.0 {
            0 => None,
            _ => self.store.channel(channel_id).await?,
        };
        let notify = channel.as_ref().map(|c| c.notify).unwrap_or_default();
        let wanted = audience(occasion, incident, &added, &notify);
        let team_id = channel
            .as_ref()
            .map(|c| c.team_id)
            .filter(|t| wanted.team && *t > 0);
        let people: Vec<PersonId> = wanted.people;
        let to = self.store.mail_recipients(&people, team_id).await?;
        if to.is_empty() {
            return Ok(None);
        }
        let team_name = match team_id {
            Some(t) => self.store.team(t).await?.map(|t| t.team_name),
            None => None,
        };
        Ok(Some(Addressed { to, team_name }))
    }
}

impl Inner {
    /// The people the `i_a_rspd` of `event_time` added: its timeline
    /// record, the newest of that type written by then.
    async fn added_by(
        &self,
        id: &IncidentId,
        event_time: i64,
    ) -> dutyhook_store::Result<Vec<PersonId>> {
        let kinds = [EventType::i_a_rspd.as_str().to_string()];
        let page = dutyhook_store::Page { p: 1, limit: 20 };
        let records = self.store.feed(id, &kinds, page, false).await?;
        Ok(records
            .items
            .iter()
            .find(|r| r.created_at <= event_time)
            .and_then(|r| r.detail["to"].as_array())
            .into_iter()
            .flatten()
            .filter_map(Value::as_i64)
            .map(PersonId)
            .collect())
    }
}
