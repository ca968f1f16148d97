//! Custom headers of an integration (`delivery.md`, "The request").

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::DomainError;

pub const MAX_HEADERS: usize = 32;
pub const MAX_HEADER_BYTES: usize = 8 * 1024;
/// What reads show instead of a secret header's value.
pub const MASK: &str = "******";

/// Set by dutyhook itself (earlier in precedence), or hop-by-hop headers that
/// would break the request; custom headers may not set them.
const RESERVED: [&str; 13] = [
    "content-type",
    "content-length",
    "host",
    "user-agent",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "connection",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "keep-alive",
];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Header {
    pub key: String,
    pub value: String,
    /// A secret value is masked in every read.
    #[serde(default)]
    pub secret: bool,
}

fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

pub fn validate(headers: &[Header]) -> Result<(), DomainError> {
    if headers.len() > MAX_HEADERS {
        return Err(DomainError::invalid(
            "headers",
            format!("at most {MAX_HEADERS} headers"),
        ));
    }
    let mut total = 0;
    let mut seen: Vec<String> = vec![];
    for (i, h) in headers.iter().enumerate() {
        let field = format!("headers[{i}]");
        if h.key.is_empty() || !h.key.chars().all(is_tchar) {
            return Err(DomainError::invalid(
                format!("{field}.key"),
                format!("{:?} is not a valid header name", h.key),
            ));
        }
        let lower = h.key.to_ascii_lowercase();
        if RESERVED.contains(&lower.as_str()) || lower.starts_with("proxy-") {
            return Err(DomainError::invalid(
                format!("{field}.key"),
                format!("{:?} is set by dutyhook and cannot be overridden", h.key),
            ));
        }
        if seen.contains(&lower) {
            return Err(DomainError::invalid(
                format!("{field}.key"),
                format!("{:?} is listed twice", h.key),
            ));
        }
        seen.push(lower);
        if h.value.chars().any(|c| c == '\r' || c == '\n' || c == '\0') {
            return Err(DomainError::invalid(
                format!("{field}.value"),
                "must not contain CR, LF or NUL",
            ));
        }
        if h.value.chars().any(|c| c.is_control() && c != '\t') {
            return Err(DomainError::invalid(
                format!("{field}.value"),
                "must not contain control characters",
            ));
        }
        total += h.key.len() + h.value.len();
    }
    if total > MAX_HEADER_BYTES {
        return Err(DomainError::invalid(
            "headers",
            format!("at most {MAX_HEADER_BYTES} bytes of names and values in all"),
        ));
    }
    Ok(())
}

/// Headers as shown by reads: secret values masked.
pub fn masked(headers: &[Header]) -> Vec<Header> {
    headers
        .iter()
        .map(|h| Header {
            value: if h.secret {
                MASK.to_string()
            } else {
                h.value.clone()
            },
            ..h.clone()
        })
        .collect()
}

/// On update, a secret header sent back with the mask keeps its stored value.
pub fn merge_masked(incoming: Vec<Header>, stored: &[Header]) -> Vec<Header> {
    incoming
        .into_iter()
        .map(|h| {
            if h.value == MASK {
                if let Some(old) = stored
                    .iter()
                    .find(|o| o.secret && o.key.eq_ignore_ascii_case(&h.key))
                {
                    return Header {
                        value: old.value.clone(),
                        ..h
                    };
                }
            }
            h
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn h(key: &str, value: &str) -> Header {
        Header {
            key: key.into(),
            value: value.into(),
            secret: false,
        }
    }

    #[test]
    fn rules() {
        assert!(validate(&[h("X-Token", "abc"), h("Authorization", "Bearer x")]).is_ok());
        for bad in [
            h("", "x"),
            h("Bad Name", "x"),
            h("X:y", "x"),
            h("Content-Type", "x"),
            h("webhook-id", "x"),
            h("Host", "x"),
            h("user-agent", "x"),
            h("Proxy-Authorization", "x"),
        ] {
            assert!(validate(std::slice::from_ref(&bad)).is_err(), "{bad:?}");
        }
        for bad in ["a\r\nX-Evil: 1", "a\nb", "a\0b"] {
            assert!(validate(&[h("X-A", bad)]).is_err(), "{bad:?}");
        }
        assert!(validate(&[h("X-A", "1"), h("x-a", "2")]).is_err());
        let many: Vec<Header> = (0..33).map(|i| h(&format!("X-{i}"), "v")).collect();
        assert!(validate(&many).is_err());
        assert!(validate(&[h("X-Big", &"v".repeat(8200))]).is_err());
        assert!(validate(&many[..32]).is_ok());
    }

    #[test]
    fn masking_round_trip() {
        let stored = vec![
            Header {
                key: "X-Token".into(),
                value: "s3cret".into(),
                secret: true,
            },
            h("X-Plain", "p"),
        ];
        let shown = masked(&stored);
        assert_eq!(shown[0].value, MASK);
        assert_eq!(shown[1].value, "p");
        let back = merge_masked(shown, &stored);
        assert_eq!(back, stored, "a masked value sent back means unchanged");
        let changed = merge_masked(
            vec![Header {
                key: "X-Token".into(),
                value: "new".into(),
                secret: true,
            }],
            &stored,
        );
        assert_eq!(changed[0].value, "new");
    }
}
