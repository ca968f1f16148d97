//! Webhook integrations: what they subscribe to and what a valid one is.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::endpoint_auth::EndpointAuth;
use crate::event::EventType;
use crate::headers::{self, Header};
use crate::ids::ChannelId;
use crate::template::Template;
use crate::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum WebhookKind {
    Incident,
    Alert,
}

impl WebhookKind {
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookKind::Incident => "incident",
            WebhookKind::Alert => "alert",
        }
    }
}

pub const TIMEOUT_MS: std::ops::RangeInclusive<i64> = 100..=30_000;
/// The hosted product promises receivers 2 s (`delivery.md`).
pub const DEFAULT_TIMEOUT_MS: i64 = 2000;
/// What happens after a failed push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum RetryPolicy {
    /// Retry transient failures on a schedule of about 8 hours.
    #[default]
    Backoff,
    /// The hosted product's behaviour: one immediate retry after a timeout or
    /// connection error.
    Once,
    /// A single attempt.
    None,
}

/// Everything configurable on a webhook (secrets included; mask before showing).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookConfig {
    pub kind: WebhookKind,
    pub name: String,
    pub description: String,
    pub team_id: i64,
    pub endpoint: String,
    pub headers: Vec<Header>,
    pub tls_verify: bool,
    /// `None`: every channel.
    pub channel_ids: Option<Vec<ChannelId>>,
    /// Empty: every type of its kind.
    pub event_types: Vec<EventType>,
    pub body_template: Option<String>,
    pub timeout_ms: i64,
    pub retry_policy: RetryPolicy,
    /// How pushes prove themselves besides the signature (secrets included).
    #[serde(default, skip_serializing_if = "EndpointAuth::is_none")]
    pub auth: EndpointAuth,
}

impl WebhookConfig {
    /// Whether an event of `event_type` about something in `channel_id` goes here.
    pub fn subscribes(&self, event_type: EventType, channel_id: ChannelId) -> bool {
        let kind_matches = match self.kind {
            WebhookKind::Incident => event_type.is_incident(),
            WebhookKind::Alert => !event_type.is_incident(),
        };
        let channel_matches = self
            .channel_ids
            .as_ref()
            .is_none_or(|ids| ids.contains(&channel_id));
        let type_matches = self.event_types.is_empty()
            || self.event_types.contains(&event_type)
            || (self.kind == WebhookKind::Alert && event_type == EventType::a_close);
        kind_matches && channel_matches && type_matches
    }

    pub fn template(&self) -> Option<Template> {
        self.body_template
            .as_deref()
            .and_then(|t| Template::parse(t).ok())
    }

    /// Checks every field but the endpoint's address (the outbound policy
    /// belongs to delivery).
    pub fn validate(&self) -> Result<(), DomainError> {
        let n = self.name.trim().chars().count();
        if !(1..=100).contains(&n) {
            return Err(DomainError::invalid("name", "must be 1 to 100 characters"));
        }
        if self.description.chars().count() > 500 {
            return Err(DomainError::invalid(
                "description",
                "must be at most 500 characters",
            ));
        }
        headers::validate(&self.headers)?;
        self.auth.validate()?;
        self.auth.check_headers(&self.headers)?;
        if !TIMEOUT_MS.contains(&self.timeout_ms) {
            return Err(DomainError::invalid(
                "timeout_ms",
                format!("must be from 100 to 30000, got {}", self.timeout_ms),
            ));
        }
        if let Some(ids) = &self.channel_ids {
            if ids.is_empty() || ids.len() > 100 {
                return Err(DomainError::invalid(
                    "channel_ids",
                    "list 1 to 100 channels, or leave it out for all",
                ));
            }
        }
        for t in &self.event_types {
            let selectable = match self.kind {
                WebhookKind::Incident => t.is_incident(),
                WebhookKind::Alert => matches!(
                    t,
                    EventType::a_new
                        | EventType::a_update
                        | EventType::a_merge
                        | EventType::a_close
                ),
            };
            if !selectable {
                return Err(DomainError::invalid(
                    "event_types",
                    format!(
                        "{} is not an event type of {} webhooks",
                        t.as_str(),
                        self.kind.as_str()
                    ),
                ));
            }
        }
        if let Some(t) = &self.body_template {
            Template::parse(t)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(kind: WebhookKind) -> WebhookConfig {
        WebhookConfig {
            kind,
            name: "hook".into(),
            description: String::new(),
            team_id: 0,
            endpoint: "http://127.0.0.1:9/".into(),
            headers: vec![],
            tls_verify: true,
            channel_ids: None,
            event_types: vec![],
            body_template: None,
            timeout_ms: DEFAULT_TIMEOUT_MS,
            retry_policy: RetryPolicy::Backoff,
            auth: EndpointAuth::default(),
        }
    }

    #[test]
    fn subscriptions() {
        let mut c = cfg(WebhookKind::Incident);
        assert!(c.subscribes(EventType::i_ack, ChannelId(0)));
        assert!(!c.subscribes(EventType::a_new, ChannelId(0)));
        c.channel_ids = Some(vec![ChannelId(7)]);
        assert!(
            c.subscribes(EventType::i_ack, ChannelId(7))
                && !c.subscribes(EventType::i_ack, ChannelId(8))
        );
        c.event_types = vec![EventType::i_new];
        assert!(
            !c.subscribes(EventType::i_ack, ChannelId(7))
                && c.subscribes(EventType::i_new, ChannelId(7))
        );
        let mut a = cfg(WebhookKind::Alert);
        a.event_types = vec![EventType::a_new];
        assert!(
            a.subscribes(EventType::a_close, ChannelId(1)),
            "a_close always reaches alert webhooks"
        );
        assert!(!a.subscribes(EventType::a_update, ChannelId(1)));
    }

    #[test]
    fn validation() {
        let mut c = cfg(WebhookKind::Incident);
        assert!(c.validate().is_ok());
        c.event_types = vec![EventType::a_new];
        assert!(c.validate().is_err());
        c.event_types = vec![];
        c.timeout_ms = 99;
        assert!(c.validate().is_err());
        c.timeout_ms = 30_000;
        c.retry_policy = RetryPolicy::Once;
        c.body_template = Some("{bad".into());
        assert!(c.validate().unwrap_err().to_string().contains("line 1"));
    }
}
