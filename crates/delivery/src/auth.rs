//! The `Authorization` value a push carries for its endpoint's `auth`:
//! basic and bearer credentials as stored, or an OAuth2 client-credentials
//! token fetched from the token URL (through the outbound policy), cached
//! until 30 s before it expires and fetched again when the endpoint
//! answers 401.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use bytes::Bytes;
use dutyhook_domain::endpoint_auth::{AuthType, EndpointAuth};
use http_body_util::Full;
use hyper::{header, Request};
use serde::Deserialize;

use crate::clients::{read_body, HttpClient};
use crate::outbound::{check_endpoint, Policy};

/// A token is dropped this long before the token endpoint said it expires.
const EARLY: Duration = Duration::from_secs(30);
/// How long a token lives when the endpoint does not say.
const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// A token endpoint's answer is read up to this much.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// Tokens kept at most; past it the cache starts again.
const MAX_TOKENS: usize = 1024;

#[derive(Default)]
pub(crate) struct Tokens {
    cached: Mutex<HashMap<u64, (String, Instant)>>,
    /// One fetch at a time per token: pushes that find none cached wait for
    /// the one fetching it instead of each fetching their own.
    fetching: Mutex<HashMap<u64, Arc<tokio::sync::Mutex<()>>>>,
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<u64>,
}

/// Which token a setting gets: the same client of the same token endpoint
/// for the same scope and audience shares one.
fn token_key(auth: &EndpointAuth) -> u64 {
    let mut h = DefaultHasher::new();
    (
        &auth.token_url,
        &auth.client_id,
        &auth.client_secret,
        &auth.scope,
        &auth.audience,
    )
        .hash(&mut h);
    h.finish()
}

impl Tokens {
    /// The header value for `auth`, if it has one; `fresh` fetches a new
    /// token even when one is cached. An error is why no token was had.
    pub(crate) async fn authorization(
        &self,
        client: &HttpClient,
        policy: &Policy,
        auth: &EndpointAuth,
        fresh: bool,
    ) -> Result<Option<String>, String> {
        match auth.kind {
            AuthType::None | AuthType::Mtls => Ok(None),
            AuthType::Basic => {
                let pair = format!("{}:{}", auth.username, auth.password);
                Ok(Some(format!("Basic {}", B64.encode(pair))))
            }
            AuthType::Bearer => Ok(Some(format!("Bearer {}", auth.token))),
            AuthType::Oauth2ClientCredentials => {
                let token = self.token(client, policy, auth, fresh).await?;
                Ok(Some(format!("Bearer {token}")))
            }
        }
    }

    async fn token(
        &self,
        client: &HttpClient,
        policy: &Policy,
        auth: &EndpointAuth,
        fresh: bool,
    ) -> Result<String, String> {
        let key = token_key(auth);
        if !fresh {
            if let Some(token) = self.cached(key) {
                return Ok(token);
            }
        }
        let turn = {
            let mut fetching = self.fetching.lock().expect("tokens lock");
            if fetching.len() >= MAX_TOKENS {
                fetching.clear();
            }
            fetching.entry(key).or_default().clone()
        };
        let _turn = turn.lock().await;
        if !fresh {
            if let Some(token) = self.cached(key) {
                return Ok(token);
            }
        }
        let (token, lifetime) = fetch(client, policy, auth).await?;
        let until = Instant::now() + lifetime.saturating_sub(EARLY);
        let mut cached = self.cached.lock().expect("tokens lock");
        if cached.len() >= MAX_TOKENS {
            cached.clear();
        }
        cached.insert(key, (token.clone(), until));
        Ok(token)
    }
}

impl Tokens {
    /// The token cached for `key`, while it is good.
    fn cached(&self, key: u64) -> Option<String> {
        let cached = self.cached.lock().expect("tokens lock");
        cached
            .get(&key)
            .filter(|(_, until)| Instant::now() < *until)
            .map(|(token, _)| token.clone())
    }
}

async fn fetch(
    client: &HttpClient,
    policy: &Policy,
    auth: &EndpointAuth,
) -> Result<(String, Duration), String> {
    let url = check_endpoint(&auth.token_url, policy)
        .map_err(|e| format!("token_url {}: {e}", auth.token_url))?;
    let mut form = vec![
        ("grant_type", "client_credentials"),
        ("client_id", auth.client_id.as_str()),
        ("client_secret", auth.client_secret.as_str()),
    ];
    if !auth.scope.is_empty() {
        form.push(("scope", auth.scope.as_str()));
    }
    if !auth.audience.is_empty() {
        form.push(("audience", auth.audience.as_str()));
    }
    let body = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(&form)
        .finish();
    let request = Request::post(url.as_str())
        .header(header::ACCEPT, "application/json")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| format!("token_url {}: {e}", auth.token_url))?;
    let sent = tokio::time::timeout(FETCH_TIMEOUT, async {
        let answer = client.request(request).await.map_err(|e| {
            format!(
                "the token endpoint did not answer: {}",
                crate::error_chain::chain_text(&e)
            )
        })?;
        let (head, body) = answer.into_parts();
        let (text, _) = read_body(body, MAX_ANSWER_BYTES, FETCH_TIMEOUT).await;
        Ok::<_, String>((head.status, String::from_utf8_lossy(&text).into_owned()))
    })
    .await;
    let (status, text) = match sent {
        Ok(answer) => answer?,
        Err(_) => {
            return Err(format!(
                "the token endpoint did not answer within {} s",
                FETCH_TIMEOUT.as_secs()
            ))
        }
    };
    if !status.is_success() {
        let start: String = text.chars().take(200).collect();
        return Err(format!(
            "the token endpoint answered HTTP {}: {start}",
            status.as_u16()
        ));
    }
    let answer: TokenAnswer = serde_json::from_str(&text)
        .map_err(|e| format!("the token endpoint's answer has no access_token: {e}"))?;
    let lifetime = answer
        .expires_in
        .map_or(DEFAULT_LIFETIME, Duration::from_secs);
    Ok((answer.access_token, lifetime))
}
