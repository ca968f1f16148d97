//! Chat presets: body templates that turn an incident event into a message
//! in a chat service's incoming-webhook format. A preset only fills a
//! webhook's `body_template`; the user may then edit it like any other.
//! They read the readable text of `template_text` (`{{text.headline}}`).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChatPreset {
    Slack,
    Teams,
    Discord,
    Feishu,
    Dingtalk,
    Wecom,
    Mattermost,
}

impl ChatPreset {
    pub const ALL: [ChatPreset; 7] = [
        ChatPreset::Slack,
        ChatPreset::Teams,
        ChatPreset::Discord,
        ChatPreset::Feishu,
        ChatPreset::Dingtalk,
        ChatPreset::Wecom,
        ChatPreset::Mattermost,
    ];

    /// The service's name as people write it.
    pub fn service(self) -> &'static str {
        match self {
            ChatPreset::Slack => "Slack",
            ChatPreset::Teams => "Microsoft Teams (Workflows)",
            ChatPreset::Discord => "Discord",
            ChatPreset::Feishu => "Feishu / Lark",
            ChatPreset::Dingtalk => "DingTalk",
            ChatPreset::Wecom => "WeCom",
            ChatPreset::Mattermost => "Mattermost",
        }
    }

    /// The body template, as a webhook stores it.
    pub fn template(self) -> &'static str {
        match self {
            ChatPreset::Slack => SLACK,
            ChatPreset::Teams => TEAMS,
            ChatPreset::Discord => DISCORD,
            ChatPreset::Feishu => FEISHU,
            ChatPreset::Dingtalk => DINGTALK,
            ChatPreset::Wecom => WECOM,
            ChatPreset::Mattermost => MATTERMOST,
        }
    }
}

// Plain text where a service would read markup in user text (Slack's
// `plain_text`), so a title holding `<` or `*` shows as written.
const SLACK: &str = r#"{
  "text": "{{text.headline}}",
  "blocks": [
    {"type": "section", "text": {"type": "plain_text", "text": "{{text.headline}}\n{{text.summary}}"}},
    {"type": "actions", "elements": [
      {"type": "button", "text": {"type": "plain_text", "text": "Open incident"}, "url": "{{text.link}}"}
    ]}
  ]
}"#;

const TEAMS: &str = r#"{
  "type": "message",
  "attachments": [{
    "contentType": "application/vnd.microsoft.card.adaptive",
    "content": {
      "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
      "type": "AdaptiveCard",
      "version": "1.4",
      "body": [
        {"type": "TextBlock", "text": "{{text.headline}}", "weight": "Bolder", "wrap": true},
        {"type": "TextBlock", "text": "{{text.summary}}", "isSubtle": true, "wrap": true}
      ],
      "actions": [{"type": "Action.OpenUrl", "title": "Open incident", "url": "{{text.link}}"}]
    }
  }]
}"#;

const DISCORD: &str = r#"{
  "content": "{{text.headline}}",
  "embeds": [{"title": "Open incident", "url": "{{text.link}}", "description": "{{text.summary}}"}],
  "allowed_mentions": {"parse": []}
}"#;

const FEISHU: &str = r#"{
  "msg_type": "post",
  "content": {"post": {"en_us": {
    "title": "{{text.headline}}",
    "content": [
      [{"tag": "text", "text": "{{text.summary}}"}],
      [{"tag": "a", "text": "Open incident", "href": "{{text.link}}"}]
    ]
  }}}
}"#;

const DINGTALK: &str = r#"{
  "msgtype": "markdown",
  "markdown": {
    "title": "{{text.headline}}",
    "text": "**{{text.headline}}**\n\n{{text.summary}}\n\n[Open incident]({{text.link}})"
  }
}"#;

const WECOM: &str = r#"{
  "msgtype": "markdown",
  "markdown": {"content": "**{{text.headline}}**\n{{text.summary}}\n[Open incident]({{text.link}})"}
}"#;

const MATTERMOST: &str = r#"{
  "username": "dutyhook",
  "text": "**{{text.headline}}**\n{{text.summary}}\n[Open incident]({{text.link}})"
}"#;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Template;

    #[test]
    fn every_preset_is_a_template() {
        for p in ChatPreset::ALL {
            Template::parse(p.template()).unwrap_or_else(|e| panic!("{p:?}: {e}"));
            assert!(p.template().contains("{{text.headline}}"), "{p:?}");
        }
    }
}
