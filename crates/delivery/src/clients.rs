//! The HTTP clients pushes go through: every name resolved and every
//! address checked against the outbound policy, TLS verified or not, and,
//! for an endpoint with its own certificates (`auth.ca_pem`, a client
//! certificate), a client of its own, built once and kept.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::error::Error as StdError;
use std::hash::{Hash, Hasher};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dutyhook_domain::endpoint_auth::{AuthType, EndpointAuth};
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;

use crate::outbound::Policy;

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

impl Resolve for PolicyResolver {
    fn resolve(&self, name: Name) -> Resolving {
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
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Clients with their own certificates kept at most; past it the cache
/// starts again (settings that changed leave old entries behind).
const MAX_OWN_CLIENTS: usize = 256;

pub(crate) struct Clients {
    verifying: reqwest::Client,
    trusting: reqwest::Client,
    resolver: PolicyResolver,
    own: Mutex<HashMap<u64, reqwest::Client>>,
}

impl Clients {
    pub(crate) fn new(resolver: PolicyResolver) -> Clients {
        Clients {
            verifying: builder(true, resolver.clone())
                .build()
                .expect("the HTTP client builds"),
            trusting: builder(false, resolver.clone())
                .build()
                .expect("the HTTP client builds"),
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
    ) -> Result<reqwest::Client, String> {
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
        let client = own_client(builder(tls_verify, self.resolver.clone()), auth)?;
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
        authorities(&auth.ca_pem).map_err(|e| ("auth.ca_pem", e))?;
    }
    if auth.kind == AuthType::Mtls {
        identity(auth).map_err(|e| ("auth.client_cert_pem", e))?;
    }
    Ok(())
}

fn authorities(pem: &str) -> Result<Vec<reqwest::Certificate>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for (n, der) in CertificateDer::pem_slice_iter(pem.as_bytes()).enumerate() {
        let der = der.map_err(|e| format!("is not PEM certificates: {e}"))?;
        roots
            .add(der)
            .map_err(|e| format!("certificate {} does not parse: {e}", n + 1))?;
    }
    if roots.is_empty() {
        return Err("holds no certificate (-----BEGIN CERTIFICATE-----)".into());
    }
    reqwest::Certificate::from_pem_bundle(pem.as_bytes())
        .map_err(|e| format!("is not PEM certificates: {e}"))
}

fn identity(auth: &EndpointAuth) -> Result<reqwest::Identity, String> {
    let pem = format!(
        "{}\n{}",
        auth.client_cert_pem.trim(),
        auth.client_key_pem.trim()
    );
    reqwest::Identity::from_pem(pem.as_bytes())
        .map_err(|e| format!("with client_key_pem is not a PEM certificate and private key: {e}"))
}

fn own_client(
    mut builder: reqwest::ClientBuilder,
    auth: &EndpointAuth,
) -> Result<reqwest::Client, String> {
    if !auth.ca_pem.is_empty() {
        for cert in authorities(&auth.ca_pem)? {
            builder = builder.add_root_certificate(cert);
        }
    }
    if auth.kind == AuthType::Mtls {
        builder = builder.identity(identity(auth)?);
    }
    builder
        .build()
        .map_err(|e| format!("the TLS settings do not load: {e}"))
}

fn builder(verify: bool, resolver: PolicyResolver) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .dns_resolver(Arc::new(resolver))
        .danger_accept_invalid_certs(!verify)
        .pool_idle_timeout(Duration::from_secs(90))
        // Above the most pushes one host can have in flight (many integrations may share a host).
        .pool_max_idle_per_host(1024)
        .tcp_nodelay(true)
        .no_proxy()
}
