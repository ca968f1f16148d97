use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The event types of `events.md`. Declaration order is the order in which
/// one call that changes several things emits its events.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[allow(non_camel_case_types)]
pub enum EventType {
    i_new,
    i_assign,
    i_a_rspd,
    i_snooze,
    i_wake,
    i_ack,
    i_unack,
    i_storm,
    i_custom,
    i_rslv,
    i_reopen,
    i_merge,
    i_comm,
    i_r_title,
    i_r_desc,
    i_r_impact,
    i_r_rc,
    i_r_rsltn,
    i_r_severity,
    i_r_field,
    a_new,
    a_update,
    a_merge,
    a_close,
}

impl EventType {
    pub const INCIDENT: [EventType; 20] = [
        EventType::i_new,
        EventType::i_assign,
        EventType::i_a_rspd,
        EventType::i_snooze,
        EventType::i_wake,
        EventType::i_ack,
        EventType::i_unack,
        EventType::i_storm,
        EventType::i_custom,
        EventType::i_rslv,
        EventType::i_reopen,
        EventType::i_merge,
        EventType::i_comm,
        EventType::i_r_title,
        EventType::i_r_desc,
        EventType::i_r_impact,
        EventType::i_r_rc,
        EventType::i_r_rsltn,
        EventType::i_r_severity,
        EventType::i_r_field,
    ];

    pub const ALERT: [EventType; 4] = [
        EventType::a_new,
        EventType::a_update,
        EventType::a_merge,
        EventType::a_close,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            EventType::i_new => "i_new",
            EventType::i_assign => "i_assign",
            EventType::i_a_rspd => "i_a_rspd",
            EventType::i_snooze => "i_snooze",
            EventType::i_wake => "i_wake",
            EventType::i_ack => "i_ack",
            EventType::i_unack => "i_unack",
            EventType::i_storm => "i_storm",
            EventType::i_custom => "i_custom",
            EventType::i_rslv => "i_rslv",
            EventType::i_reopen => "i_reopen",
            EventType::i_merge => "i_merge",
            EventType::i_comm => "i_comm",
            EventType::i_r_title => "i_r_title",
            EventType::i_r_desc => "i_r_desc",
            EventType::i_r_impact => "i_r_impact",
            EventType::i_r_rc => "i_r_rc",
            EventType::i_r_rsltn => "i_r_rsltn",
            EventType::i_r_severity => "i_r_severity",
            EventType::i_r_field => "i_r_field",
            EventType::a_new => "a_new",
            EventType::a_update => "a_update",
            EventType::a_merge => "a_merge",
            EventType::a_close => "a_close",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(s.to_string())).ok()
    }

    pub fn is_incident(self) -> bool {
        self.as_str().starts_with("i_")
    }
}

/// What an event is about: the FIFO key of its deliveries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SubjectKind {
    Incident,
    Alert,
}

impl SubjectKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Incident => "incident",
            SubjectKind::Alert => "alert",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "incident" => Some(SubjectKind::Incident),
            "alert" => Some(SubjectKind::Alert),
            _ => None,
        }
    }
}

/// An event ready for the outbox: its payload is rendered once, here, and
/// stored as the exact bytes every integration and retry will receive.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub event_id: crate::ids::EventId,
    pub event_type: EventType,
    pub event_time_ms: i64,
    pub subject_kind: SubjectKind,
    pub subject_id: String,
    /// The channel of the subject (0 = none): webhooks filter on it.
    pub channel_id: crate::ids::ChannelId,
    pub payload: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for t in EventType::INCIDENT {
            assert_eq!(EventType::parse(t.as_str()), Some(t));
            assert!(t.is_incident());
        }
        assert_eq!(EventType::parse("a_close"), Some(EventType::a_close));
        assert_eq!(EventType::parse("I_NEW"), None);
    }
}
