//! One HTTP attempt: resolve (checking every address against the outbound
//! policy and connecting only to checked ones), sign, POST, classify.

use std::borrow::Cow;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dutyhook_domain::endpoint_auth::{AuthType, EndpointAuth};
use dutyhook_domain::headers::Header;
use dutyhook_store::JsonText;
use http_body_util::Full;
use hyper::header::{self, HeaderName, HeaderValue};
use hyper::{Method, Request, StatusCode};

use crate::auth::Tokens;
use crate::clients::{read_body, Clients, DnsFailed, PolicyResolver};
use crate::error_chain::{chain_has, chain_text};
use crate::now_ms;
use crate::outbound::{check_endpoint, check_literal_host, Blocked, EndpointError, Policy};
use crate::retry::{parse_retry_after, FailureClass};
use crate::shown::{Shown, ShownRequest, ShownResponse};
use crate::signature::signature_header;

pub use crate::shown::{shown_headers, USER_AGENT};

pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(1);

/// HTTP clients reused across attempts (keep-alive pools per endpoint) and
/// the OAuth2 tokens of the endpoints that use them.
#[derive(Clone)]
pub struct Pusher {
    clients: Arc<Clients>,
    tokens: Arc<Tokens>,
    policy: Arc<Policy>,
}

pub struct PushRequest<'a> {
    pub url: &'a str,
    /// `url`, parsed already.
    pub parsed: Option<&'a url::Url>,
    pub headers: &'a [Header],
    pub auth: &'a EndpointAuth,
    pub body: &'a [u8],
    pub event_id: &'a str,
    /// HMAC keys: the current secret's first, the previous one's during a rotation.
    pub keys: &'a [Vec<u8>],
    pub timeout: Duration,
    pub tls_verify: bool,
    /// The body is the event's stored payload: the record notes that instead
    /// of keeping a copy per attempt.
    pub body_is_event_payload: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PushResult {
    pub success: bool,
    pub status: u16,
    pub class: Option<FailureClass>,
    pub error: String,
    pub started_at_ms: i64,
    pub duration_ms: i64,
    pub retry_after: Option<Duration>,
    /// `{url, headers, body}`, secret header values masked.
    pub request: JsonText,
    /// `{headers, body, truncated}`.
    pub response: JsonText,
    pub response_body: String,
    /// The request never left: the name did not resolve or no connection
    /// was made. Only then may a press call again.
    pub never_sent: bool,
}

impl PushResult {
    /// `success` or the failure class: the outcome label of the metrics.
    pub fn outcome(&self) -> &'static str {
        self.class.map_or("success", FailureClass::as_str)
    }
}

/// The request of a push: the body with its signature headers, the
/// endpoint's own headers and its authorization; an error names what does
/// not make a valid request.
fn request_of(
    url: &url::Url,
    req: &PushRequest<'_>,
    timestamp: i64,
    signature: &str,
    authorization: Option<String>,
) -> Result<Request<Full<Bytes>>, String> {
    let bad = |e: &dyn std::fmt::Display| format!("the request does not build: {e}");
    let mut request = Request::new(Full::new(Bytes::copy_from_slice(req.body)));
    *request.method_mut() = Method::POST;
    *request.uri_mut() = url.as_str().parse().map_err(|e| bad(&e))?;
    let headers = request.headers_mut();
    headers.reserve(7 + req.headers.len());
    headers.insert(header::ACCEPT, HeaderValue::from_static("*/*"));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::USER_AGENT, HeaderValue::from_static(USER_AGENT));
    let value = |v: &str| HeaderValue::from_str(v).map_err(|e| bad(&e));
    headers.insert(WEBHOOK_ID, value(req.event_id)?);
    headers.insert(WEBHOOK_TIMESTAMP, HeaderValue::from(timestamp));
    headers.insert(WEBHOOK_SIGNATURE, value(signature)?);
    if let Some(v) = authorization {
        headers.insert(header::AUTHORIZATION, value(&v)?);
    }
    for h in req.headers {
        let name = HeaderName::from_bytes(h.key.as_bytes()).map_err(|e| bad(&e))?;
        headers.append(name, value(&h.value)?);
    }
    Ok(request)
}

const WEBHOOK_ID: HeaderName = HeaderName::from_static("webhook-id");
const WEBHOOK_TIMESTAMP: HeaderName = HeaderName::from_static("webhook-timestamp");
const WEBHOOK_SIGNATURE: HeaderName = HeaderName::from_static("webhook-signature");

/// The failure class and text of a request that got no answer.
fn classify(e: &hyper_util::client::legacy::Error) -> (FailureClass, String) {
    if let Some(b) = chain_has::<Blocked>(e) {
        return (FailureClass::Blocked, b.to_string());
    }
    if let Some(d) = chain_has::<DnsFailed>(e) {
        return (FailureClass::Dns, d.to_string());
    }
    let text = chain_text(e);
    let lower = text.to_ascii_lowercase();
    if lower.contains("certificate")
        || lower.contains("tls")
        || lower.contains("handshake")
        || lower.contains("ssl")
    {
        return (FailureClass::Tls, text);
    }
    (FailureClass::Connect, text)
}

impl Pusher {
    pub fn new(policy: Policy, overrides: HashMap<String, Vec<IpAddr>>) -> Self {
        let resolver = PolicyResolver {
            policy: Arc::new(policy.clone()),
            overrides: Arc::new(overrides),
        };
        Pusher {
            clients: Arc::new(Clients::new(resolver)),
            tokens: Arc::default(),
            policy: Arc::new(policy),
        }
    }

    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub async fn push(&self, req: PushRequest<'_>) -> PushResult {
        let started_at_ms = now_ms();
        let start = Instant::now();
        let timestamp = started_at_ms / 1000;
        let signature = signature_header(req.keys, req.event_id, timestamp, req.body);
        let request = JsonText::of(&ShownRequest {
            url: req.url,
            headers: &shown_headers(req.headers, req.auth, req.event_id, timestamp, &signature),
            body: match req.body_is_event_payload {
                true => None,
                false => Some(String::from_utf8_lossy(req.body)),
            },
            body_is_event_payload: req.body_is_event_payload,
        });
        let fail = |class: FailureClass, error: String, start: Instant| PushResult {
            never_sent: false,
            success: false,
            status: 0,
            class: Some(class),
            error,
            started_at_ms,
            duration_ms: start.elapsed().as_millis() as i64,
            retry_after: None,
            request: request.clone(),
            response: ShownResponse::none(),
            response_body: String::new(),
        };

        // A literal address never reaches the resolver: check it here.
        let checked = match req.parsed {
            Some(url) => check_literal_host(url, &self.policy).map(|_| Cow::Borrowed(url)),
            None => check_endpoint(req.url, &self.policy).map(Cow::Owned),
        };
        let url = match checked {
            Ok(url) => url,
            Err(EndpointError::Blocked(b)) => {
                return fail(FailureClass::Blocked, b.to_string(), start)
            }
            Err(e) => return fail(FailureClass::Connect, e.to_string(), start),
        };
        let client = match self.clients.for_endpoint(req.tls_verify, req.auth) {
            Ok(c) => c,
            Err(e) => return fail(FailureClass::Tls, format!("auth: {e}"), start),
        };
        // An OAuth2 token the endpoint refuses is fetched again once, and
        // the push made again at once, within this attempt.
        let mut fresh_token = false;
        let resp = loop {
            let authorization = match self
                .tokens
                .authorization(&client, &self.policy, req.auth, fresh_token)
                .await
            {
                Ok(a) => a,
                Err(e) => {
                    return PushResult {
                        never_sent: true,
                        ..fail(FailureClass::Auth, e, start)
                    }
                }
            };
            let request = match request_of(&url, &req, timestamp, &signature, authorization) {
                Ok(r) => r,
                Err(e) => return fail(FailureClass::Connect, e, start),
            };
            let sent = tokio::time::timeout(req.timeout, client.request(request)).await;
            let resp = match sent {
                Err(_) => {
                    return fail(
                        FailureClass::Timeout,
                        format!("no response within {} ms", req.timeout.as_millis()),
                        start,
                    )
                }
                Ok(Err(e)) => {
                    let (class, message) = classify(&e);
                    return PushResult {
                        never_sent: class == FailureClass::Dns
                            || (class == FailureClass::Connect && e.is_connect()),
                        ..fail(class, message, start)
                    };
                }
                Ok(Ok(r)) => r,
            };
            let refused = resp.status() == StatusCode::UNAUTHORIZED;
            if refused && req.auth.kind == AuthType::Oauth2ClientCredentials && !fresh_token {
                fresh_token = true;
                continue;
            }
            break resp;
        };
        let status = resp.status().as_u16();
        let duration_ms = start.elapsed().as_millis() as i64;
        let (head, body) = resp.into_parts();
        let retry_after = head
            .headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| parse_retry_after(v, std::time::SystemTime::now()));
        let (body, truncated) = read_body(body, MAX_RESPONSE_BYTES, BODY_READ_TIMEOUT).await;
        let response_body = String::from_utf8_lossy(&body).into_owned();
        let response_headers: Vec<Shown> = head
            .headers
            .iter()
            .map(|(k, v)| Shown {
                key: k.as_str(),
                value: String::from_utf8_lossy(v.as_bytes()),
            })
            .collect();
        let response = JsonText::of(&ShownResponse {
            headers: &response_headers,
            body: &response_body,
            truncated,
        });
        let (success, class, error) = match status {
            200..=299 => (true, None, String::new()),
            300..=399 => (
                false,
                Some(FailureClass::Redirect),
                format!("HTTP {status}: redirects are not followed"),
            ),
            _ => (
                false,
                Some(FailureClass::HttpStatus),
                format!("HTTP {status}"),
            ),
        };
        PushResult {
            success,
            status,
            class,
            error,
            started_at_ms,
            duration_ms,
            retry_after,
            request,
            response,
            response_body,
            never_sent: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request<'a>(headers: &'a [Header], auth: &'a EndpointAuth) -> PushRequest<'a> {
        PushRequest {
            url: "http://127.0.0.1:9/hook",
            parsed: None,
            headers,
            auth,
            body: b"{}",
            event_id: "evt1",
            keys: &[],
            timeout: Duration::from_secs(1),
            tls_verify: true,
            body_is_event_payload: true,
        }
    }

    #[test]
    fn a_push_carries_its_signature_headers_and_the_endpoint_s_own() {
        let url = url::Url::parse("http://127.0.0.1:9/hook").unwrap();
        let own = [Header {
            key: "X-Team".into(),
            value: "sre".into(),
            secret: false,
        }];
        let auth = EndpointAuth::default();
        let req = request(&own, &auth);
        let sent = request_of(&url, &req, 1700000000, "v1,c2ln", Some("Bearer t".into())).unwrap();
        let h = sent.headers();
        assert_eq!(sent.method(), Method::POST);
        assert_eq!(sent.uri(), "http://127.0.0.1:9/hook");
        assert_eq!(h["content-type"], "application/json");
        assert_eq!(h["webhook-id"], "evt1");
        assert_eq!(h["webhook-timestamp"], "1700000000");
        assert_eq!(h["webhook-signature"], "v1,c2ln");
        assert_eq!(h["authorization"], "Bearer t");
        assert_eq!(h["x-team"], "sre");
    }

    #[test]
    fn a_header_that_cannot_be_sent_is_an_error_not_a_panic() {
        let url = url::Url::parse("http://127.0.0.1:9/hook").unwrap();
        let own = [Header {
            key: "X-Team".into(),
            value: "line\nbreak".into(),
            secret: false,
        }];
        let auth = EndpointAuth::default();
        let req = request(&own, &auth);
        let err = request_of(&url, &req, 1, "v1,c2ln", None).unwrap_err();
        assert!(err.contains("does not build"), "{err}");
    }
}
