//! How a push proves itself to an endpoint beyond the signature
//! (`delivery.md`, "Endpoint authentication"): basic or bearer credentials,
//! an OAuth2 client-credentials token, or a client certificate; and extra
//! certificate authorities to trust, for any of them. Secret values are
//! write-only: reads show [`MASK`], and a write of [`MASK`] keeps the
//! stored value.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::headers::{Header, MASK};
use crate::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AuthType {
    #[default]
    None,
    Basic,
    Bearer,
    Oauth2ClientCredentials,
    Mtls,
}

/// An integration's `auth`; the fields a type does not use stay empty.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(default)]
pub struct EndpointAuth {
    #[serde(rename = "type")]
    pub kind: AuthType,
    /// `basic`.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// `basic`; secret.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub password: String,
    /// `bearer`; secret.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub token: String,
    /// `oauth2_client_credentials`: where tokens come from (http or https).
    #[serde(skip_serializing_if = "String::is_empty")]
    pub token_url: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_id: String,
    /// Secret.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_secret: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub scope: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub audience: String,
    /// `mtls`: the certificate (chain) the connection presents, PEM.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_cert_pem: String,
    /// `mtls`: its private key, PEM; secret.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub client_key_pem: String,
    /// Any type: certificate authorities to trust for this endpoint besides
    /// the usual ones, PEM.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub ca_pem: String,
}

/// The secret fields, by name: sealed at rest, masked in every read.
pub const SECRET_FIELDS: [&str; 4] = ["password", "token", "client_secret", "client_key_pem"];

const LIMIT_BYTES: usize = 64 * 1024;

impl EndpointAuth {
    pub fn is_none(&self) -> bool {
        *self == EndpointAuth::default()
    }

    fn secrets_mut(&mut self) -> [&mut String; 4] {
        [
            &mut self.password,
            &mut self.token,
            &mut self.client_secret,
            &mut self.client_key_pem,
        ]
    }

    /// As reads show it: secret values masked.
    pub fn masked(&self) -> EndpointAuth {
        let mut out = self.clone();
        for s in out.secrets_mut() {
            if !s.is_empty() {
                *s = MASK.to_string();
            }
        }
        out
    }

    /// A write over the stored value: a masked secret keeps what is stored.
    pub fn merged_over(mut self, stored: &EndpointAuth) -> EndpointAuth {
        let mut kept = stored.clone();
        for (new, old) in self.secrets_mut().into_iter().zip(kept.secrets_mut()) {
            if new == MASK {
                *new = std::mem::take(old);
            }
        }
        self
    }

    /// Checks what each type needs; PEM contents are checked where TLS is
    /// (the delivery crate), this only that they are there.
    pub fn validate(&self) -> Result<(), DomainError> {
        let need = |value: &str, field: &str| {
            if value.trim().is_empty() {
                Err(DomainError::invalid(
                    format!("auth.{field}"),
                    format!("is required for auth type {}", self.type_name()),
                ))
            } else {
                Ok(())
            }
        };
        match self.kind {
            AuthType::None => {}
            AuthType::Basic => {
                need(&self.username, "username")?;
                need(&self.password, "password")?;
                if self.username.contains(':') {
                    return Err(DomainError::invalid(
                        "auth.username",
                        "must not contain ':' (basic credentials are user:password)",
                    ));
                }
            }
            AuthType::Bearer => need(&self.token, "token")?,
            AuthType::Oauth2ClientCredentials => {
                need(&self.token_url, "token_url")?;
                need(&self.client_id, "client_id")?;
                need(&self.client_secret, "client_secret")?;
                let scheme = self.token_url.split("://").next().unwrap_or_default();
                if !matches!(scheme, "http" | "https") || !self.token_url.contains("://") {
                    return Err(DomainError::invalid(
                        "auth.token_url",
                        "must be an http:// or https:// URL",
                    ));
                }
            }
            AuthType::Mtls => {
                need(&self.client_cert_pem, "client_cert_pem")?;
                need(&self.client_key_pem, "client_key_pem")?;
            }
        }
        for (field, value) in [
            ("username", &self.username),
            ("password", &self.password),
            ("token", &self.token),
            ("token_url", &self.token_url),
            ("client_id", &self.client_id),
            ("client_secret", &self.client_secret),
            ("scope", &self.scope),
            ("audience", &self.audience),
            ("client_cert_pem", &self.client_cert_pem),
            ("client_key_pem", &self.client_key_pem),
            ("ca_pem", &self.ca_pem),
        ] {
            if value.len() > LIMIT_BYTES {
                return Err(DomainError::invalid(
                    format!("auth.{field}"),
                    format!("must be at most {LIMIT_BYTES} bytes"),
                ));
            }
            if value.contains(['\r', '\n']) && !field.ends_with("_pem") {
                return Err(DomainError::invalid(
                    format!("auth.{field}"),
                    "must be one line",
                ));
            }
        }
        Ok(())
    }

    /// An `Authorization` custom header would fight the one `auth` sends.
    pub fn check_headers(&self, headers: &[Header]) -> Result<(), DomainError> {
        let clash = self.kind != AuthType::None
            && headers
                .iter()
                .any(|h| h.key.eq_ignore_ascii_case("authorization"));
        if clash {
            return Err(DomainError::invalid(
                "headers",
                format!(
                    "an Authorization header cannot go with auth type {}: remove one",
                    self.type_name()
                ),
            ));
        }
        Ok(())
    }

    fn type_name(&self) -> &'static str {
        match self.kind {
            AuthType::None => "none",
            AuthType::Basic => "basic",
            AuthType::Bearer => "bearer",
            AuthType::Oauth2ClientCredentials => "oauth2_client_credentials",
            AuthType::Mtls => "mtls",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_masked_and_a_mask_keeps_them() {
        let stored = EndpointAuth {
            kind: AuthType::Basic,
            username: "ops".into(),
            password: "s3cret".into(),
            ..Default::default()
        };
        let shown = stored.masked();
        assert_eq!(shown.password, MASK);
        assert_eq!(shown.username, "ops");
        assert_eq!(shown.clone().merged_over(&stored), stored);
        let changed = EndpointAuth {
            password: "new".into(),
            ..shown
        };
        assert_eq!(changed.merged_over(&stored).password, "new");
    }

    #[test]
    fn each_type_names_what_it_lacks() {
        let e = EndpointAuth {
            kind: AuthType::Oauth2ClientCredentials,
            token_url: "https://idp/token".into(),
            client_id: "dutyhook".into(),
            ..Default::default()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(e.contains("auth.client_secret"), "{e}");
        let e = EndpointAuth {
            kind: AuthType::Bearer,
            token: "a\nb".into(),
            ..Default::default()
        }
        .validate()
        .unwrap_err()
        .to_string();
        assert!(e.contains("auth.token") && e.contains("one line"), "{e}");
        assert!(EndpointAuth::default().validate().is_ok());
    }
}
