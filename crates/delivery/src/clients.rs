//! The HTTP clients pushes go through: every name resolved and every
//! address checked against the outbound policy, TLS verified or not, and,
//! for an endpoint with its own certificates (`auth.ca_pem`, a client
//! certificate), a client of its own, built once and kept.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::future::Future;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use dutyhook_domain::endpoint_auth::{AuthType, EndpointAuth};
use http_body_util::{BodyExt, Full};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::dns::Name;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::outbound::Policy;
use crate::tls;

#[derive(Debug, thiserror::Error)]
#[error("DNS lookup of {host} failed: {message}")]
pub(crate) struct DnsFailed {
    host: String,
    message: String,
}

/// Resolves names and refuses any answer containing a blocked address; the
/// connection then goes to the checked addresses, so a second lookup (DNS
/// rebinding) cannot bypass the check.
#[derive(Clone)]
pub(crate) struct PolicyResolver {
    pub(crate) policy: Arc<Policy>,
    /// Fixed answers for names (tests and operators pinning hosts).
    pub(crate) overrides: Arc<HashMap<String, Vec<IpAddr>>>,
}

type Resolved = std::vec::IntoIter<SocketAddr>;
type Resolving =
    Pin<Box<dyn Future<Output = Result<Resolved, Box<dyn StdError + Send + Sync>>> + Send>>;

impl tower_service::Service<Name> for PolicyResolver {
    type Response = Resolved;
    type Error = Box<dyn StdError + Send + Sync>;
    type Future = Resolving;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, name: Name) -> Resolving {
        let me = self.clone();
        Box::pin(async move {
            let host = name.as_str().to_string();
            let addrs: Vec<SocketAddr> = match me.overrides.get(&host) {
                Some(ips) => ips.iter().map(|ip| SocketAddr::new(*ip, 0)).collect(),
                None => tokio::net::lookup_host((host.as_str(), 0))
                    .await
                    .map_err(|e| {
                        Box::new(DnsFailed {
                            host: host.clone(),
                            message: e.to_string(),
                        }) as Box<dyn StdError + Send + Sync>
                    })?
                    .collect(),
            };
            if addrs.is_empty() {
                return Err(Box::new(DnsFailed {
                    host,
                    message: "no addresses".into(),
                }) as Box<dyn StdError + Send + Sync>);
            }
            for a in &addrs {
                me.policy
                    .check(a.ip())
                    .map_err(|b| Box::new(b) as Box<dyn StdError + Send + Sync>)?;
            }
            Ok(addrs.into_iter())
        })
    }
}

/// Clients with their own certificates kept at most; past it the cache
/// starts again (settings that changed leave old entries behind).
const MAX_OWN_CLIENTS: usize = 256;

/// The HTTP client of pushes (and of OAuth2 token requests): hyper's
/// pooled client over the policy's resolver, TLS by rustls. Used directly
/// rather than through reqwest, whose layers (redirects, retries, its own
/// request type) were a tenth of the server's CPU at 10 webhooks.
pub(crate) type HttpClient = Client<HttpsConnector<HttpConnector<PolicyResolver>>, Full<Bytes>>;

pub(crate) struct Clients {
    verifying: HttpClient,
    trusting: HttpClient,
    resolver: PolicyResolver,
    own: Mutex<HashMap<u64, HttpClient>>,
}

impl Clients {
    pub(crate) fn new(resolver: PolicyResolver) -> Clients {
        let none = EndpointAuth::default();
        let shared =
            |verify| http_client(verify, &none, resolver.clone()).expect("the HTTP client builds");
        Clients {
            verifying: shared(true),
            trusting: shared(false),
            resolver,
            own: Mutex::default(),
        }
    }

    /// The client for an endpoint: a shared one, or its own when it brings
    /// certificates. An error says what in them is wrong.
    pub(crate) fn for_endpoint(
        &self,
        tls_verify: bool,
        auth: &EndpointAuth,
    ) -> Result<HttpClient, String> {
        let presents = auth.kind == AuthType::Mtls;
        if auth.ca_pem.is_empty() && !presents {
            return Ok(if tls_verify {
                self.verifying.clone()
            } else {
                self.trusting.clone()
            });
        }
        let mut h = DefaultHasher::new();
        (
            tls_verify,
            &auth.ca_pem,
            presents,
            &auth.client_cert_pem,
            &auth.client_key_pem,
        )
            .hash(&mut h);
        let key = h.finish();
        if let Some(c) = self.own.lock().expect("clients lock").get(&key) {
            return Ok(c.clone());
        }
        let client = http_client(tls_verify, auth, self.resolver.clone())?;
        let mut own = self.own.lock().expect("clients lock");
        if own.len() >= MAX_OWN_CLIENTS {
            own.clear();
        }
        own.insert(key, client.clone());
        Ok(client)
    }
}

/// Checks an endpoint's certificates and key as a push would load them.
pub fn check_tls_material(auth: &EndpointAuth) -> Result<(), (&'static str, String)> {
    if !auth.ca_pem.is_empty() {
        tls::authorities(&auth.ca_pem).map_err(|e| ("auth.ca_pem", e))?;
    }
    if auth.kind == AuthType::Mtls {
        // Loads the certificate and key (`tls::identity`), then checks that
        // they go together.
        tls::client_config(true, auth).map_err(|e| ("auth.client_cert_pem", e))?;
    }
    Ok(())
}

fn http_client(
    verify: bool,
    auth: &EndpointAuth,
    resolver: PolicyResolver,
) -> Result<HttpClient, String> {
    let mut http = HttpConnector::new_with_resolver(resolver);
    http.enforce_http(false);
    http.set_nodelay(true);
    let https = HttpsConnectorBuilder::new()
        .with_tls_config(tls::client_config(verify, auth)?)
        .https_or_http()
        .enable_all_versions()
        .wrap_connector(http);
    Ok(Client::builder(TokioExecutor::new())
        .timer(TokioTimer::new())
        .pool_timer(TokioTimer::new())
        .pool_idle_timeout(Duration::from_secs(90))
        // Above the most pushes one host can have in flight (many integrations may share a host).
        .pool_max_idle_per_host(1024)
        .build(https))
}

/// A response's body, up to `max` bytes and for at most `within`; whether
/// it was cut short.
pub(crate) async fn read_body(
    mut body: hyper::body::Incoming,
    max: usize,
    within: Duration,
) -> (Vec<u8>, bool) {
    let mut read = Vec::new();
    let mut truncated = false;
    let _ = tokio::time::timeout(within, async {
        while let Some(Ok(frame)) = body.frame().await {
            let Ok(chunk) = frame.into_data() else {
                continue;
            };
            let room = max - read.len();
            if chunk.len() > room {
                read.extend_from_slice(&chunk[..room]);
                truncated = true;
                break;
            }
            read.extend_from_slice(&chunk);
        }
    })
    .await;
    (read, truncated)
}
