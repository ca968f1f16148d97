//! Telling people by e-mail: who is told of which event, a channel's
//! re-notify rounds, and what the timeline says of a mail sent. Pure: the
//! people behind the ids are looked up by whoever sends.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::event::EventType;
use crate::ids::PersonId;
use crate::DomainError;

/// The events the e-mail integration is given; the others never mail.
pub const MAIL_EVENTS: [EventType; 4] = [
    EventType::i_new,
    EventType::i_assign,
    EventType::i_a_rspd,
    EventType::i_storm,
];

/// Most re-notify rounds a channel may ask for.
pub const MAX_ROUNDS: i64 = 3;

/// The timeline type of a notification sent.
pub const NOTIFIED: &str = "i_notify";

/// What a channel tells people beyond the responders' assignment mails.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChannelNotify {
    /// Mail the channel's team when an incident opens (`i_new`) or storms
    /// (`i_storm`).
    #[serde(default)]
    pub team: bool,
    /// Minutes an incident may stay unacknowledged before the next
    /// re-notify round; 0 = never re-notify.
    #[serde(default)]
    pub renotify_minutes: i64,
    /// How many rounds (1 to 3); the first mails the responders, later
    /// ones the responders and the channel's team.
    #[serde(default)]
    pub renotify_rounds: i64,
}

impl ChannelNotify {
    pub fn validate(&self) -> Result<ChannelNotify, DomainError> {
        if !(0..=1440).contains(&self.renotify_minutes) {
            return Err(DomainError::invalid(
                "notify.renotify_minutes",
                "must be from 0 (never) to 1440 minutes",
            ));
        }
        let rounds = match (self.renotify_minutes, self.renotify_rounds) {
            (0, _) => 0,
            (_, 0) => 1,
            (_, r) if (1..=MAX_ROUNDS).contains(&r) => r,
            _ => {
                return Err(DomainError::invalid(
                    "notify.renotify_rounds",
                    format!("must be from 1 to {MAX_ROUNDS}"),
                ))
            }
        };
        Ok(ChannelNotify {
            renotify_rounds: rounds,
            ..*self
        })
    }

    /// When round `round` (from 1) is due for an incident triggered at
    /// `start_s`, if the channel has such a round.
    pub fn round_due_at(&self, start_s: i64, round: i64) -> Option<i64> {
        (self.renotify_minutes > 0 && (1..=self.renotify_rounds).contains(&round))
            .then(|| start_s + round * self.renotify_minutes * 60)
    }
}

/// Who a mail goes to: people by id, and whether the channel's team too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Audience {
    pub people: Vec<PersonId>,
    pub team: bool,
}

impl Audience {
    pub fn is_empty(&self) -> bool {
        self.people.is_empty() && !self.team
    }
}

/// Why a mail is sent: an event, or a re-notify round of an unacknowledged
/// incident.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Occasion {
    Event(EventType),
    Renotify { round: i64 },
}

/// Who is told on `occasion`, from the incident as the payload carries it
/// (`responders`, `assigned_to`), the people an `i_a_rspd` added (its
/// timeline record says; the payload holds only all responders) and the
/// channel's settings.
pub fn audience(
    occasion: Occasion,
    incident: &Value,
    added: &[PersonId],
    channel: &ChannelNotify,
) -> Audience {
    let responders = person_ids(incident, "responders", |_| true);
    match occasion {
        Occasion::Event(EventType::i_assign) => Audience {
            people: ids_at(&incident["assigned_to"]["person_ids"]),
            team: false,
        },
        Occasion::Event(EventType::i_a_rspd) => Audience {
            people: added.to_vec(),
            team: false,
        },
        Occasion::Event(EventType::i_new | EventType::i_storm) => Audience {
            people: vec![],
            team: channel.team,
        },
        Occasion::Event(_) => Audience::default(),
        Occasion::Renotify { round } => {
            let waiting = person_ids(incident, "responders", |r| {
                r["acknowledged_at"].as_i64().unwrap_or(0) == 0
            });
            let team = round > 1 || responders.is_empty();
            Audience {
                people: waiting,
                team,
            }
        }
    }
}

fn ids_at(v: &Value) -> Vec<PersonId> {
    v.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_i64)
        .map(PersonId)
        .collect()
}

fn person_ids(incident: &Value, key: &str, keep: impl Fn(&Value) -> bool) -> Vec<PersonId> {
    incident[key]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| keep(r))
        .filter_map(|r| r["person_id"].as_i64())
        .map(PersonId)
        .collect()
}

/// Someone a mail went to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recipient {
    pub person_id: PersonId,
    pub person_name: String,
    pub email: String,
}

/// The timeline record's detail of a mail sent: to whom, and the round
/// and team when it was a re-notify.
pub fn notified_detail(to: &[Recipient], round: Option<i64>, team: Option<&str>) -> Value {
    let mut detail = json!({
        "via": "email",
        "to": to.iter().map(|r| json!({"person_id": r.person_id, "person_name": r.person_name})).collect::<Vec<_>>(),
    });
    if let Some(r) = round {
        detail["round"] = json!(r);
    }
    if let Some(t) = team {
        detail["team_name"] = json!(t);
    }
    detail
}

#[cfg(test)]
mod tests {
    use super::*;

    fn incident() -> Value {
        json!({
            "responders": [
                {"person_id": 1, "assigned_at": 100, "acknowledged_at": 0},
                {"person_id": 2, "assigned_at": 160, "acknowledged_at": 170},
                {"person_id": 3, "assigned_at": 160, "acknowledged_at": 0},
            ],
            "assigned_to": {"person_ids": [2, 3]},
        })
    }

    #[test]
    fn assignment_mails_the_assignees_only() {
        let a = audience(
            Occasion::Event(EventType::i_assign),
            &incident(),
            &[],
            &ChannelNotify::default(),
        );
        assert_eq!(a.people, vec![PersonId(2), PersonId(3)]);
        assert!(!a.team);
    }

    #[test]
    fn added_responders_are_those_added() {
        let a = audience(
            Occasion::Event(EventType::i_a_rspd),
            &incident(),
            &[PersonId(3)],
            &ChannelNotify::default(),
        );
        assert_eq!(a.people, vec![PersonId(3)]);
    }

    #[test]
    fn team_is_told_of_new_and_storm_only_when_the_channel_asks() {
        let on = ChannelNotify {
            team: true,
            ..Default::default()
        };
        for t in [EventType::i_new, EventType::i_storm] {
            assert!(audience(Occasion::Event(t), &incident(), &[], &on).team);
            assert!(audience(
                Occasion::Event(t),
                &incident(),
                &[],
                &ChannelNotify::default()
            )
            .is_empty());
        }
        assert!(audience(Occasion::Event(EventType::i_ack), &incident(), &[], &on).is_empty());
    }

    #[test]
    fn renotify_rounds_widen_to_the_team() {
        let off = ChannelNotify::default();
        let first = audience(Occasion::Renotify { round: 1 }, &incident(), &[], &off);
        assert_eq!(first.people, vec![PersonId(1), PersonId(3)]);
        assert!(!first.team);
        assert!(audience(Occasion::Renotify { round: 2 }, &incident(), &[], &off).team);
        // Nobody responds yet: the team is told at once.
        assert!(audience(Occasion::Renotify { round: 1 }, &json!({}), &[], &off).team);
    }

    #[test]
    fn rounds_are_checked_and_spaced() {
        let n = ChannelNotify {
            team: false,
            renotify_minutes: 5,
            renotify_rounds: 0,
        }
        .validate()
        .unwrap();
        assert_eq!(n.renotify_rounds, 1);
        assert_eq!(n.round_due_at(1000, 1), Some(1300));
        assert_eq!(n.round_due_at(1000, 2), None);
        let three = ChannelNotify {
            renotify_rounds: 3,
            ..n
        };
        assert_eq!(three.round_due_at(1000, 3), Some(1900));
        let bad = ChannelNotify {
            renotify_rounds: 4,
            ..n
        };
        assert!(
            matches!(bad.validate(), Err(DomainError::InvalidParameter { field, .. }) if field == "notify.renotify_rounds")
        );
        let never = ChannelNotify {
            renotify_minutes: -1,
            ..n
        };
        assert!(never.validate().is_err());
    }
}
