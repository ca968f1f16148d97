//! Console sessions: the cookie carries a random token; the store keeps it
//! hashed with its person and expiry, so a session ends when its row goes
//! (logout, a password change, a deactivated person) and a copied cookie
//! stops working. The CSRF token is derived from the cookie.

use axum::http::request::Parts;
use axum_extra::extract::cookie::CookieJar;
use dutyhook_store::PersonRecord;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

use crate::caller::Caller;
use crate::error::ApiError;
use crate::state::AppState;

pub const COOKIE: &str = "dh_session";
/// Holds the login form's CSRF token before anyone is logged in.
pub const LOGIN_COOKIE: &str = "dh_login";
pub const CSRF_HEADER: &str = "x-csrf-token";
pub const LIFETIME_S: i64 = 12 * 3600;

fn mac(secret: &[u8], parts: &[&str]) -> Hmac<Sha256> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes any key length");
    for p in parts {
        mac.update(p.as_bytes());
        mac.update(b"|");
    }
    mac
}

/// A new session's cookie value.
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// What the store keeps of a session's token: useless to present as a cookie.
pub fn token_hash(secret: &[u8], token: &str) -> String {
    hex::encode(mac(secret, &["session", token]).finalize().into_bytes())
}

/// What the store keeps of an invitation link's token.
pub fn invite_hash(secret: &[u8], token: &str) -> String {
    hex::encode(mac(secret, &["invite", token]).finalize().into_bytes())
}

/// The token every state-changing console request carries: bound to the
/// session, so a page of another origin can neither read nor forge it.
pub fn csrf_token(secret: &[u8], cookie: &str) -> String {
    hex::encode(mac(secret, &["csrf", cookie]).finalize().into_bytes())
}

pub fn csrf_matches(secret: &[u8], cookie: &str, token: &str) -> bool {
    hex::decode(token)
        .ok()
        .is_some_and(|t| mac(secret, &["csrf", cookie]).verify_slice(&t).is_ok())
}

/// The person of a live session, with its cookie.
pub async fn session_person(
    app: &AppState,
    jar: &CookieJar,
) -> Result<Option<(PersonRecord, String)>, ApiError> {
    let Some(cookie) = jar.get(COOKIE).map(|c| c.value().to_string()) else {
        return Ok(None);
    };
    let hash = token_hash(&app.key_secret, &cookie);
    let Some(person_id) = app
        .store
        .session_person(&hash, app.clock.now_ms() / 1000)
        .await?
    else {
        return Ok(None);
    };
    let person = app.store.person(person_id).await?.filter(|p| p.active);
    Ok(person.map(|p| (p, cookie)))
}

/// The caller of an API request made by the console: a live session plus
/// the CSRF token of that session in a header. `None` without a session
/// cookie, so that the API asks for a key as before.
pub async fn session_caller(parts: &Parts, app: &AppState) -> Result<Option<Caller>, ApiError> {
    let jar = CookieJar::from_headers(&parts.headers);
    if jar.get(COOKIE).is_none() {
        return Ok(None);
    }
    let Some((person, cookie)) = session_person(app, &jar).await? else {
        return Err(ApiError::Unauthorized(
            "the console session has ended: log in again".into(),
        ));
    };
    let token = parts
        .headers
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    if !csrf_matches(&app.key_secret, &cookie, token) {
        return Err(ApiError::AccessDenied(
            "a console request needs the session's X-CSRF-Token header".into(),
        ));
    }
    Ok(Some(Caller {
        person: person.person,
        role: person.role,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_fresh_and_kept_hashed() {
        let (a, b) = (new_token(), new_token());
        assert_ne!(a, b);
        assert_eq!(a.len(), 64);
        assert_eq!(token_hash(b"k", &a), token_hash(b"k", &a));
        assert_ne!(token_hash(b"k", &a), token_hash(b"other", &a));
        assert_ne!(token_hash(b"k", &a), a);
    }

    #[test]
    fn csrf_tokens_belong_to_one_session() {
        let (a, b) = (new_token(), new_token());
        let t = csrf_token(b"k", &a);
        assert!(csrf_matches(b"k", &a, &t));
        assert!(!csrf_matches(b"k", &b, &t));
        assert!(!csrf_matches(b"k", &a, "zz"));
        assert!(!csrf_matches(b"k", &a, ""));
    }
}
