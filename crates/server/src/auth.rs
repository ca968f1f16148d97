//! Who is calling: an app key from the `app_key` query parameter or an
//! `Authorization: Bearer` header. Keys are stored as HMAC-SHA256 under the
//! installation's secret: fast to check, useless if the table leaks.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

pub use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub const KEY_PREFIX: &str = "dh_";

pub fn new_app_key() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    format!("{KEY_PREFIX}{}", hex::encode(b))
}

pub fn key_hint(key: &str) -> String {
    key.chars().take(KEY_PREFIX.len() + 6).collect()
}

pub fn hash_key(secret: &[u8], key: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    mac.update(key.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

fn key_from(parts: &Parts) -> Option<String> {
    if let Some(v) = parts.headers.get(axum::http::header::AUTHORIZATION) {
        let v = v.to_str().ok()?;
        let (scheme, token) = v.split_once(' ')?;
        if scheme.eq_ignore_ascii_case("bearer") && !token.trim().is_empty() {
            return Some(token.trim().to_string());
        }
    }
    let query = parts.uri.query()?;
    url_param(query, "app_key")
}

fn url_param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == name && !v.is_empty()).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escaped = (bytes[i] == b'%')
            .then(|| Some((hex(*bytes.get(i + 1)?)?, hex(*bytes.get(i + 2)?)?)))
            .flatten();
        match (bytes[i], escaped) {
            (b'%', Some((hi, lo))) => {
                out.push(hi * 16 + lo);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let Some(key) = key_from(parts) else {
            return crate::console::session::session_caller(parts, state)
                .await?
                .ok_or_else(|| {
                    ApiError::Unauthorized(
                        "no app key: pass ?app_key=… or Authorization: Bearer …".into(),
                    )
                });
        };
        let hash = hash_key(&state.key_secret, &key);
        match state.store.person_by_key_hash(&hash).await? {
            Some(p) => Ok(Caller {
                person: p.person,
                role: p.role,
            }),
            None => Err(ApiError::Unauthorized("unknown or revoked app key".into())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_hash_stably_and_differ_by_secret() {
        let k = new_app_key();
        assert!(k.starts_with(KEY_PREFIX) && k.len() == 67);
        assert_eq!(hash_key(b"s", &k), hash_key(b"s", &k));
        assert_ne!(hash_key(b"s", &k), hash_key(b"t", &k));
    }

    #[test]
    fn query_parameters_decode() {
        assert_eq!(
            url_param("a=1&app_key=dh_x%41", "app_key").as_deref(),
            Some("dh_xA")
        );
        assert_eq!(url_param("app_key=", "app_key"), None);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }
}
