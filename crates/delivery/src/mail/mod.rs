//! Mails to people through the installation's SMTP server, configured by
//! URL: `smtp://host:25` (plain), `smtp://host:587?tls=required`
//! (STARTTLS), `smtps://host:465` (TLS); credentials as the URL's user and
//! password. One mail per notification, to every recipient.

pub mod render;

use std::time::{Duration, Instant};

use dutyhook_domain::notify::Recipient;
use dutyhook_store::JsonText;
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use serde_json::json;

use crate::now_ms;
use crate::retry::FailureClass;
pub use render::Composed;

#[derive(Debug, thiserror::Error)]
pub enum MailSetupError {
    #[error("smtp.url: {0}")]
    Url(String),
    #[error("smtp.from: {0}")]
    From(String),
    #[error("smtp.ca_file: {0}")]
    Ca(String),
}

/// The SMTP server and the sender mails come from.
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The server's URL without credentials, for the history.
    server: String,
}

/// How sending one mail went, as the history records it.
pub use crate::attempt_record::Outcome as Sent;

impl Mailer {
    /// `ca_pem`: a CA certificate the server's is checked against, beside
    /// the public ones (an internal relay with a private CA).
    pub fn new(url: &str, from: &str, ca_pem: Option<&[u8]>) -> Result<Mailer, MailSetupError> {
        let parsed = url::Url::parse(url).map_err(|e| MailSetupError::Url(e.to_string()))?;
        if !matches!(parsed.scheme(), "smtp" | "smtps") {
            return Err(MailSetupError::Url(format!(
                "must start with smtp:// or smtps://, not {}://",
                parsed.scheme()
            )));
        }
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| MailSetupError::Url(e.to_string()))?
            .timeout(Some(Duration::from_secs(30)));
        if let Some(pem) = ca_pem {
            builder = builder.tls(with_ca(&parsed, pem)?);
        }
        let transport = builder.build();
        let from: Mailbox = from.parse().map_err(|e| {
            MailSetupError::From(format!(
                "{e}: give an address like \"dutyhook <oncall@example.com>\""
            ))
        })?;
        Ok(Mailer {
            transport,
            from,
            server: masked_server(&parsed),
        })
    }

    /// The server, without credentials.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The address mails come from.
    pub fn from(&self) -> String {
        self.from.to_string()
    }

    /// Sends `mail` to `to`, within `timeout`.
    pub async fn send(&self, to: &[Recipient], mail: &Composed, timeout: Duration) -> Sent {
        let started_at_ms = now_ms();
        let clock = Instant::now();
        let to_header = to
            .iter()
            .map(|r| format!("{} <{}>", r.person_name, r.email))
            .collect::<Vec<_>>()
            .join(", ");
        let request = JsonText::from(json!({
            "url": self.server,
            "headers": {"From": self.from.to_string(), "To": to_header, "Subject": mail.subject},
            "body": mail.text,
        }));
        let outcome = match self.message(to, mail) {
            Ok(message) => {
                match tokio::time::timeout(timeout, self.transport.send(message)).await {
                    Ok(Ok(reply)) => Ok((
                        u16::from(reply.code()),
                        reply.message().collect::<Vec<_>>().join(" "),
                    )),
                    Ok(Err(e)) => Err(classify(&e)),
                    Err(_) => Err((
                        FailureClass::Timeout,
                        0,
                        format!("no answer within {} ms", timeout.as_millis()),
                    )),
                }
            }
            Err(e) => Err((FailureClass::Smtp, 0, e)),
        };
        let duration_ms = clock.elapsed().as_millis() as i64;
        match outcome {
            Ok((code, text)) => Sent {
                success: true,
                code,
                class: None,
                error: String::new(),
                started_at_ms,
                duration_ms,
                request,
                response:
                    json!({"headers": {}, "body": format!("{code} {text}"), "truncated": false})
                        .into(),
            },
            Err((class, code, error)) => Sent {
                success: false,
                code,
                class: Some(class),
                response: json!({"headers": {}, "body": error, "truncated": false}).into(),
                error,
                started_at_ms,
                duration_ms,
                request,
            },
        }
    }

    fn message(&self, to: &[Recipient], mail: &Composed) -> Result<Message, String> {
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(mail.subject.clone());
        for r in to {
            let address = r
                .email
                .parse()
                .map_err(|e| format!("{}'s address {:?}: {e}", r.person_name, r.email))?;
            builder = builder.to(Mailbox::new(Some(r.person_name.clone()), address));
        }
        builder
            .multipart(MultiPart::alternative_plain_html(
                mail.text.clone(),
                mail.html.clone(),
            ))
            .map_err(|e| e.to_string())
    }
}

/// The URL's TLS mode, checking the server against `pem` too.
fn with_ca(url: &url::Url, pem: &[u8]) -> Result<Tls, MailSetupError> {
    let host = url.host_str().unwrap_or_default().trim_matches(['[', ']']);
    let cert = Certificate::from_pem(pem)
        .map_err(|e| MailSetupError::Ca(format!("not a PEM certificate: {e}")))?;
    let params = TlsParameters::builder(host.to_string())
        .add_root_certificate(cert)
        .build_rustls()
        .map_err(|e| MailSetupError::Ca(e.to_string()))?;
    let mode = url
        .query_pairs()
        .find(|(k, _)| k == "tls")
        .map(|(_, v)| v.into_owned());
    match (url.scheme(), mode.as_deref()) {
        ("smtps", _) => Ok(Tls::Wrapper(params)),
        (_, Some("required")) => Ok(Tls::Required(params)),
        (_, Some("opportunistic")) => Ok(Tls::Opportunistic(params)),
        _ => Err(MailSetupError::Ca(
            "is for TLS: use smtps:// or smtp://…?tls=required".into(),
        )),
    }
}

/// What failed, as a class, the SMTP code and a sentence.
fn classify(e: &lettre::transport::smtp::Error) -> (FailureClass, u16, String) {
    let code = e.status().map(u16::from).unwrap_or(0);
    let class = if code > 0 {
        FailureClass::Smtp
    } else if e.is_timeout() {
        FailureClass::Timeout
    } else if e.is_tls() || tls_refused(e) {
        FailureClass::Tls
    } else {
        FailureClass::Connect
    };
    (class, code, e.to_string())
}

/// Whether a connection failed in the TLS handshake (an untrusted
/// certificate, say), which lettre reports as a connection error.
fn tls_refused(e: &lettre::transport::smtp::Error) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(c) = cause {
        let inner = c
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .map(|i| i as &(dyn std::error::Error + 'static));
        if c.is::<rustls::Error>() || inner.is_some_and(|i| i.is::<rustls::Error>()) {
            return true;
        }
        cause = c.source();
    }
    false
}

fn masked_server(url: &url::Url) -> String {
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    shown.to_string().trim_end_matches('/').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_history_never_shows_credentials() {
        let m = Mailer::new(
            "smtp://alerts:s3cret@127.0.0.1:2525?tls=required",
            "dutyhook <oncall@example.com>",
            None,
        )
        .unwrap();
        assert_eq!(m.server(), "smtp://127.0.0.1:2525?tls=required");
    }

    #[test]
    fn bad_settings_name_the_setting() {
        let url = Mailer::new("http://127.0.0.1", "a@example.com", None)
            .err()
            .unwrap();
        assert!(url.to_string().starts_with("smtp.url:"), "{url}");
        let from = Mailer::new("smtp://127.0.0.1:25", "not an address", None)
            .err()
            .unwrap();
        assert!(from.to_string().starts_with("smtp.from:"), "{from}");
        let ca = Mailer::new(
            "smtp://127.0.0.1:25",
            "a@example.com",
            Some(b"-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"),
        );
        assert!(ca.err().unwrap().to_string().starts_with("smtp.ca_file:"));
    }
}
