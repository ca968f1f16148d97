//! Custom actions (`custom-actions.md`): what a valid one is, the payload a
//! trigger pushes, and what a trigger records on the incident.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::action_guard::{
    Approval, RateRule, ShowWhen, APPROVAL_EXPIRES_S, COOLDOWN_S, RUNS_PER_HOUR,
};
use crate::action_inputs::InputDef;
use crate::endpoint_auth::EndpointAuth;
use crate::event::EventType;
use crate::event::SubjectKind;
use crate::headers::{self, Header};
use crate::ids::{new_event_id, ChannelId, EventId};
use crate::incident::{Incident, RenderContext};
use crate::person::Person;
use crate::recorder::event_doc;
use crate::run::WriteBackKey;
use crate::DomainError;

pub const NAME_CHARS: std::ops::RangeInclusive<usize> = 1..=40;
pub const TIMEOUT_MS: std::ops::RangeInclusive<i64> = 100..=10_000;
pub const DEFAULT_TIMEOUT_MS: i64 = 1000;
pub const DEFAULT_PER_CHANNEL: usize = 3;
pub const MAX_CHANNELS: usize = 100;
pub const DESCRIPTION_CHARS: usize = 500;
/// A repeated trigger with the same key within this window answers the first result.
pub const IDEMPOTENCY_WINDOW_MS: i64 = 10 * 60 * 1000;
pub const IDEMPOTENCY_KEY_CHARS: std::ops::RangeInclusive<usize> = 1..=128;
pub const ASYNC_DEADLINE_S: std::ops::RangeInclusive<i64> = 10..=86_400;
pub const DEFAULT_ASYNC_DEADLINE_S: i64 = 900;

/// `sync`: the answer ends the run. `async`: the answer acknowledges, and
/// the endpoint reports the end through the run's callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ActionMode {
    #[default]
    Sync,
    Async,
}

fn default_deadline() -> i64 {
    DEFAULT_ASYNC_DEADLINE_S
}

/// Everything configurable on a custom action (secrets included; mask before showing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ActionConfig {
    pub name: String,
    pub description: String,
    pub team_id: i64,
    pub channel_ids: Vec<ChannelId>,
    pub endpoint: String,
    pub headers: Vec<Header>,
    pub tls_verify: bool,
    pub timeout_ms: i64,
    #[serde(default)]
    pub mode: ActionMode,
    #[serde(default = "default_deadline")]
    pub async_deadline_s: i64,
    #[serde(default)]
    pub write_back: Vec<WriteBackKey>,
    #[serde(default)]
    pub inputs: Vec<InputDef>,
    #[serde(default)]
    pub confirm: bool,
    #[serde(default)]
    pub approval: Option<Approval>,
    #[serde(default)]
    pub show_when: Option<ShowWhen>,
    #[serde(default)]
    pub cooldown_s: i64,
    #[serde(default)]
    pub max_runs_per_hour: i64,
    /// How pushes prove themselves besides the signature (secrets included).
    #[serde(default, skip_serializing_if = "EndpointAuth::is_none")]
    pub auth: EndpointAuth,
}

impl Default for ActionConfig {
    fn default() -> Self {
        ActionConfig {
            name: String::new(),
            description: String::new(),
            team_id: 0,
            channel_ids: vec![],
            endpoint: String::new(),
            headers: vec![],
            tls_verify: true,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            mode: ActionMode::Sync,
            async_deadline_s: DEFAULT_ASYNC_DEADLINE_S,
            write_back: vec![],
            inputs: vec![],
            confirm: false,
            approval: None,
            show_when: None,
            cooldown_s: 0,
            max_runs_per_hour: 0,
            auth: EndpointAuth::default(),
        }
    }
}

impl ActionConfig {
    /// Checks every field but the endpoint's address (the outbound policy
    /// belongs to delivery) and the per-channel limit (the store's, in the
    /// transaction that saves).
    pub fn validate(&self) -> Result<(), DomainError> {
        let n = self.name.trim().chars().count();
        if !NAME_CHARS.contains(&n) {
            return Err(DomainError::invalid(
                "name",
                format!("must be 1 to 40 characters, got {n}"),
            ));
        }
        if self.name.chars().any(char::is_control) {
            return Err(DomainError::invalid(
                "name",
                "must not contain control characters",
            ));
        }
        if self.description.chars().count() > DESCRIPTION_CHARS {
            return Err(DomainError::invalid(
                "description",
                "must be at most 500 characters",
            ));
        }
        if self.channel_ids.is_empty() || self.channel_ids.len() > MAX_CHANNELS {
            return Err(DomainError::invalid(
                "channel_ids",
                "list 1 to 100 channels the action shows on",
            ));
        }
        if let Some(id) = self.channel_ids.iter().find(|id| id.get() <= 0) {
            return Err(DomainError::invalid(
                "channel_ids",
                format!("{id} is not a channel id"),
            ));
        }
        headers::validate(&self.headers)?;
        self.auth.validate()?;
        self.auth.check_headers(&self.headers)?;
        if !TIMEOUT_MS.contains(&self.timeout_ms) {
            return Err(DomainError::invalid(
                "timeout_ms",
                format!("must be from 100 to 10000, got {}", self.timeout_ms),
            ));
        }
        if !ASYNC_DEADLINE_S.contains(&self.async_deadline_s) {
            return Err(DomainError::invalid(
                "async_deadline_s",
                format!(
                    "must be from 10 to 86400 seconds, got {}",
                    self.async_deadline_s
                ),
            ));
        }
        self.validate_guardrails()
    }

    fn validate_guardrails(&self) -> Result<(), DomainError> {
        crate::action_inputs::validate_defs(&self.inputs)?;
        if let Some(a) = &self.approval {
            if !APPROVAL_EXPIRES_S.contains(&a.expires_s) {
                return Err(DomainError::invalid(
                    "approval.expires_s",
                    format!("must be from 60 to 86400 seconds, got {}", a.expires_s),
                ));
            }
            if a.team_id < 0 {
                return Err(DomainError::invalid("approval.team_id", "is not a team id"));
            }
        }
        if let Some(w) = &self.show_when {
            w.validate()?;
        }
        if !COOLDOWN_S.contains(&self.cooldown_s) {
            return Err(DomainError::invalid(
                "cooldown_s",
                format!("must be from 0 to 86400 seconds, got {}", self.cooldown_s),
            ));
        }
        if !RUNS_PER_HOUR.contains(&self.max_runs_per_hour) {
            return Err(DomainError::invalid(
                "max_runs_per_hour",
                format!("must be from 0 to 10000, got {}", self.max_runs_per_hour),
            ));
        }
        Ok(())
    }

    pub fn rate_rule(&self) -> RateRule {
        RateRule {
            cooldown_s: self.cooldown_s,
            max_runs_per_hour: self.max_runs_per_hour,
        }
    }

    /// The channel ids once each, in the order given.
    pub fn dedup_channels(&mut self) {
        let mut seen = std::collections::HashSet::new();
        self.channel_ids.retain(|id| seen.insert(*id));
    }

    /// The write-back keys once each, in the order of the contract.
    pub fn dedup_write_back(&mut self) {
        self.write_back.sort_unstable();
        self.write_back.dedup();
    }
}

pub fn validate_idempotency_key(key: &str) -> Result<(), DomainError> {
    let n = key.chars().count();
    if !IDEMPOTENCY_KEY_CHARS.contains(&n) || key.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            "idempotency_key",
            "must be 1 to 128 characters without control characters",
        ));
    }
    Ok(())
}

/// The body a trigger pushes: the incident event payload with `i_custom`,
/// the person who pressed the button, and the incident's alerts.
pub struct TriggerPayload {
    pub event_id: EventId,
    pub event_time_ms: i64,
    pub body: String,
}

/// `extra` holds the push's extra top-level fields (an async run's `run`).
pub fn trigger_payload(
    incident: &Incident,
    by: &Person,
    alerts: Vec<Value>,
    now_ms: i64,
    ctx: &RenderContext,
    extra: Map<String, Value>,
) -> TriggerPayload {
    let event_id = EventId::from(new_event_id());
    let mut inc = incident.to_payload(ctx);
    if let Value::Object(m) = &mut inc {
        m.insert("alerts".into(), Value::Array(alerts));
    }
    let mut doc = event_doc(
        &event_id,
        now_ms,
        EventType::i_custom,
        Some(by),
        SubjectKind::Incident,
        inc,
    );
    doc.extend(extra);
    let body = Value::Object(doc).to_string();
    TriggerPayload {
        event_id,
        event_time_ms: now_ms,
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn valid() -> ActionConfig {
        ActionConfig {
            name: "Restart host".into(),
            channel_ids: vec![ChannelId(1)],
            endpoint: "http://127.0.0.1:9/".into(),
            ..Default::default()
        }
    }

    #[test]
    fn validation_names_the_field() {
        assert!(valid().validate().is_ok());
        let field = |c: ActionConfig| match c.validate().unwrap_err() {
            DomainError::InvalidParameter { field, .. } => field,
            e => panic!("{e}"),
        };
        assert_eq!(
            field(ActionConfig {
                name: "x".repeat(41),
                ..valid()
            }),
            "name"
        );
        assert!(ActionConfig {
            name: "x".repeat(40),
            ..valid()
        }
        .validate()
        .is_ok());
        assert_eq!(
            field(ActionConfig {
                name: "  ".into(),
                ..valid()
            }),
            "name"
        );
        assert_eq!(
            field(ActionConfig {
                channel_ids: vec![],
                ..valid()
            }),
            "channel_ids"
        );
        assert_eq!(
            field(ActionConfig {
                channel_ids: vec![ChannelId(0)],
                ..valid()
            }),
            "channel_ids"
        );
        for bad in [99, 10_001] {
            assert_eq!(
                field(ActionConfig {
                    timeout_ms: bad,
                    ..valid()
                }),
                "timeout_ms"
            );
        }
        for good in [100, 10_000] {
            assert!(ActionConfig {
                timeout_ms: good,
                ..valid()
            }
            .validate()
            .is_ok());
        }
    }

    #[test]
    fn channels_once_each_in_order() {
        let mut c = ActionConfig {
            channel_ids: [3, 1, 3, 2, 1].map(ChannelId).to_vec(),
            ..valid()
        };
        c.dedup_channels();
        assert_eq!(c.channel_ids, [3, 1, 2].map(ChannelId).to_vec());
    }

    #[test]
    fn idempotency_keys() {
        assert!(validate_idempotency_key("click-1").is_ok());
        assert!(validate_idempotency_key("").is_err());
        assert!(validate_idempotency_key(&"k".repeat(129)).is_err());
        assert!(validate_idempotency_key("a\nb").is_err());
    }
}
