//! Integrations: what kind each is, and its settings, decoded once where
//! they are read (the store) rather than at each use.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::action::ActionConfig;
use crate::webhook::{WebhookConfig, WebhookKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum IntegrationKind {
    IncidentWebhook,
    AlertWebhook,
    CustomAction,
    AlertSource,
    /// The built-in e-mail integration: mails to people, pushed through
    /// the same queue as webhooks.
    Mail,
}

impl IntegrationKind {
    pub const WEBHOOKS: [IntegrationKind; 2] = [
        IntegrationKind::IncidentWebhook,
        IntegrationKind::AlertWebhook,
    ];

    /// Those whose events are queued as deliveries.
    pub const QUEUED: [IntegrationKind; 3] = [
        IntegrationKind::IncidentWebhook,
        IntegrationKind::AlertWebhook,
        IntegrationKind::Mail,
    ];

    /// As stored, and as the history's `integration_kind` says it.
    pub fn as_str(self) -> &'static str {
        match self {
            IntegrationKind::IncidentWebhook => "incident_webhook",
            IntegrationKind::AlertWebhook => "alert_webhook",
            IntegrationKind::CustomAction => "custom_action",
            IntegrationKind::AlertSource => "alert_source",
            IntegrationKind::Mail => "mail",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            IntegrationKind::IncidentWebhook,
            IntegrationKind::AlertWebhook,
            IntegrationKind::CustomAction,
            IntegrationKind::AlertSource,
            IntegrationKind::Mail,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }

    /// What a person calls one in a message.
    pub fn noun(self) -> &'static str {
        match self {
            IntegrationKind::IncidentWebhook | IntegrationKind::AlertWebhook => "webhook",
            IntegrationKind::CustomAction => "custom action",
            IntegrationKind::AlertSource => "alert source",
            IntegrationKind::Mail => "e-mail integration",
        }
    }
}

impl From<WebhookKind> for IntegrationKind {
    fn from(k: WebhookKind) -> Self {
        match k {
            WebhookKind::Incident => IntegrationKind::IncidentWebhook,
            WebhookKind::Alert => IntegrationKind::AlertWebhook,
        }
    }
}

/// How an alert source's events arrive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum SourceType {
    Standard,
    Alertmanager,
    /// Built in: dutyhook's alerts about its own failing integrations; no
    /// one pushes to it.
    Dutyhook,
}

impl SourceType {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceType::Standard => "standard",
            SourceType::Alertmanager => "alertmanager",
            SourceType::Dutyhook => "dutyhook",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceConfig {
    pub source_type: SourceType,
    pub channel_id: crate::ids::ChannelId,
}

/// An integration's settings, by kind (secrets included; mask before showing).
#[derive(Debug, Clone, PartialEq)]
pub enum IntegrationConfig {
    Webhook(WebhookConfig),
    Action(ActionConfig),
    Source(SourceConfig),
    Mail(MailConfig),
}

/// The e-mail integration's settings: how long one mail may take. The SMTP
/// server is the installation's (configuration), never stored here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MailConfig {
    #[serde(default = "MailConfig::default_timeout_ms")]
    pub timeout_ms: i64,
}

impl MailConfig {
    fn default_timeout_ms() -> i64 {
        30_000
    }
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            timeout_ms: Self::default_timeout_ms(),
        }
    }
}

impl IntegrationConfig {
    /// The settings of an integration of `kind`, as stored.
    pub fn decode(kind: IntegrationKind, stored: Value) -> Result<Self, serde_json::Error> {
        Ok(match kind {
            IntegrationKind::IncidentWebhook | IntegrationKind::AlertWebhook => {
                IntegrationConfig::Webhook(serde_json::from_value(stored)?)
            }
            IntegrationKind::CustomAction => {
                IntegrationConfig::Action(serde_json::from_value(stored)?)
            }
            IntegrationKind::AlertSource => {
                IntegrationConfig::Source(serde_json::from_value(stored)?)
            }
            IntegrationKind::Mail => IntegrationConfig::Mail(serde_json::from_value(stored)?),
        })
    }

    /// The settings as stored.
    pub fn to_json(&self) -> Value {
        match self {
            IntegrationConfig::Webhook(c) => serde_json::to_value(c),
            IntegrationConfig::Action(c) => serde_json::to_value(c),
            IntegrationConfig::Source(c) => serde_json::to_value(c),
            IntegrationConfig::Mail(c) => serde_json::to_value(c),
        }
        .expect("settings serialise")
    }

    pub fn webhook(&self) -> Option<&WebhookConfig> {
        match self {
            IntegrationConfig::Webhook(c) => Some(c),
            _ => None,
        }
    }

    pub fn action(&self) -> Option<&ActionConfig> {
        match self {
            IntegrationConfig::Action(c) => Some(c),
            _ => None,
        }
    }

    pub fn mail(&self) -> Option<&MailConfig> {
        match self {
            IntegrationConfig::Mail(c) => Some(c),
            _ => None,
        }
    }

    /// Whether an event of this type and channel is queued for it.
    pub fn subscribes(
        &self,
        event_type: crate::event::EventType,
        channel_id: crate::ids::ChannelId,
    ) -> bool {
        match self {
            IntegrationConfig::Webhook(c) => c.subscribes(event_type, channel_id),
            IntegrationConfig::Mail(_) => crate::notify::MAIL_EVENTS.contains(&event_type),
            IntegrationConfig::Action(_) | IntegrationConfig::Source(_) => false,
        }
    }

    pub fn source(&self) -> Option<&SourceConfig> {
        match self {
            IntegrationConfig::Source(c) => Some(c),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_as_they_are_stored() {
        for k in [
            IntegrationKind::IncidentWebhook,
            IntegrationKind::AlertWebhook,
            IntegrationKind::CustomAction,
            IntegrationKind::AlertSource,
            IntegrationKind::Mail,
        ] {
            assert_eq!(IntegrationKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_value(k).unwrap(), k.as_str());
        }
        assert_eq!(IntegrationKind::parse("sms"), None);
    }

    #[test]
    fn settings_round_trip_by_kind() {
        let source = IntegrationConfig::Source(SourceConfig {
            source_type: SourceType::Alertmanager,
            channel_id: crate::ids::ChannelId(3),
        });
        let stored = source.to_json();
        assert_eq!(stored["source_type"], "alertmanager");
        assert_eq!(
            IntegrationConfig::decode(IntegrationKind::AlertSource, stored.clone()).unwrap(),
            source
        );
        assert!(IntegrationConfig::decode(IntegrationKind::CustomAction, stored).is_err());
    }
}
