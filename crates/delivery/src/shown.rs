//! A push's request and response as the history and previews show them:
//! secret values masked, encoded straight from what was sent and received.

use std::borrow::Cow;

use dutyhook_domain::endpoint_auth::{AuthType, EndpointAuth};
use dutyhook_domain::headers::{Header, MASK};
use dutyhook_store::JsonText;
use serde::Serialize;

pub const USER_AGENT: &str = concat!("dutyhook/", env!("CARGO_PKG_VERSION"));

/// One header as shown.
#[derive(Debug, Serialize, PartialEq)]
pub struct Shown<'a> {
    pub key: &'a str,
    pub value: Cow<'a, str>,
}

/// The headers of a push as the history and previews show them: secret
/// values of custom headers masked.
pub fn shown_headers<'a>(
    headers: &'a [Header],
    auth: &EndpointAuth,
    event_id: &'a str,
    timestamp: i64,
    signature: &'a str,
) -> Vec<Shown<'a>> {
    let shown = |key, value: &'a str| Shown {
        key,
        value: Cow::Borrowed(value),
    };
    let mut all = Vec::with_capacity(6 + headers.len());
    all.extend([
        shown("Content-Type", "application/json"),
        shown("User-Agent", USER_AGENT),
        shown("webhook-id", event_id),
        Shown {
            key: "webhook-timestamp",
            value: Cow::Owned(timestamp.to_string()),
        },
        shown("webhook-signature", signature),
    ]);
    if matches!(
        auth.kind,
        AuthType::Basic | AuthType::Bearer | AuthType::Oauth2ClientCredentials
    ) {
        all.push(shown("Authorization", MASK));
    }
    for h in headers {
        all.push(shown(&h.key, if h.secret { MASK } else { &h.value }));
    }
    all
}

/// `{url, headers, body}`; a body that is the event's stored payload is
/// `null`, with `body_is_event_payload`, rather than a copy per attempt.
#[derive(Serialize)]
pub(crate) struct ShownRequest<'a> {
    pub url: &'a str,
    pub headers: &'a [Shown<'a>],
    pub body: Option<Cow<'a, str>>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub body_is_event_payload: bool,
}

/// `{headers, body, truncated}`.
#[derive(Serialize)]
pub(crate) struct ShownResponse<'a> {
    pub headers: &'a [Shown<'a>],
    pub body: &'a str,
    pub truncated: bool,
}

impl ShownResponse<'_> {
    /// The response of a request that got none.
    pub fn none() -> JsonText {
        JsonText::of(&ShownResponse {
            headers: &[],
            body: "",
            truncated: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_request_reads_as_the_history_has_always_shown_it() {
        let headers = [Shown {
            key: "X-Team",
            value: Cow::Borrowed("sre"),
        }];
        let sent = JsonText::of(&ShownRequest {
            url: "http://127.0.0.1/hook",
            headers: &headers,
            body: Some(Cow::Borrowed("{}")),
            body_is_event_payload: false,
        });
        assert_eq!(
            sent.value(),
            json!({"url": "http://127.0.0.1/hook", "headers": [{"key": "X-Team", "value": "sre"}], "body": "{}"})
        );
        let stored = JsonText::of(&ShownRequest {
            url: "http://127.0.0.1/hook",
            headers: &[],
            body: None,
            body_is_event_payload: true,
        });
        assert_eq!(
            stored.value(),
            json!({"url": "http://127.0.0.1/hook", "headers": [], "body": null, "body_is_event_payload": true})
        );
        assert_eq!(
            ShownResponse::none().value(),
            json!({"headers": [], "body": "", "truncated": false})
        );
    }

    #[test]
    fn secret_values_are_masked() {
        let headers = [Header {
            key: "X-Token".into(),
            value: "s3cret".into(),
            secret: true,
        }];
        let auth = EndpointAuth::default();
        let shown = shown_headers(&headers, &auth, "evt", 1, "v1,sig");
        assert_eq!(shown.last().unwrap().value, MASK);
        assert!(!serde_json::to_string(&shown).unwrap().contains("s3cret"));
    }
}
