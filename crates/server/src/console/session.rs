//! Console sessions: a signed cookie naming the person, and the CSRF token
//! derived from it. Nothing is stored server-side; a session ends when it
//! expires, when its person changes password or is removed, or on logout
//! (the cookie is cleared).

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

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

/// Ties a session to the password it was opened with.
fn password_tag(password_hash: &str) -> String {
    hex::encode(&Sha256::digest(password_hash.as_bytes())[..8])
}

/// The cookie value for `person_id`, valid until `expires_s`.
pub fn issue(secret: &[u8], person_id: i64, password_hash: &str, expires_s: i64) -> String {
    let person = person_id.to_string();
    let expires = expires_s.to_string();
    let tag = password_tag(password_hash);
    let sig = mac(secret, &["session", &person, &expires, &tag]).finalize();
    format!("{person}.{expires}.{tag}.{}", hex::encode(sig.into_bytes()))
}

/// A cookie whose signature holds and which has not expired.
#[derive(Debug, PartialEq, Eq)]
pub struct Claimed {
    pub person_id: i64,
    password_tag: String,
}

impl Claimed {
    /// Whether the person's password is still the one the session began with.
    pub fn matches_password(&self, password_hash: &str) -> bool {
        self.password_tag == password_tag(password_hash)
    }
}

pub fn verify(secret: &[u8], cookie: &str, now_s: i64) -> Option<Claimed> {
    let mut it = cookie.split('.');
    let (person, expires, tag, sig) = (it.next()?, it.next()?, it.next()?, it.next()?);
    if it.next().is_some() {
        return None;
    }
    let sig = hex::decode(sig).ok()?;
    mac(secret, &["session", person, expires, tag])
        .verify_slice(&sig)
        .ok()?;
    let expires: i64 = expires.parse().ok()?;
    (expires > now_s).then_some(())?;
    Some(Claimed {
        person_id: person.parse().ok()?,
        password_tag: tag.to_string(),
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_session_holds_until_it_expires_or_is_altered() {
        let c = issue(b"k", 7, "$argon2$x", 1000);
        let claimed = verify(b"k", &c, 999).expect("valid");
        assert_eq!(claimed.person_id, 7);
        assert!(claimed.matches_password("$argon2$x"));
        assert!(!claimed.matches_password("$argon2$y"));
        assert_eq!(verify(b"k", &c, 1000), None, "expired");
        assert_eq!(verify(b"other", &c, 0), None, "another installation");
        let forged = c.replacen("7.", "1.", 1);
        assert_eq!(verify(b"k", &forged, 0), None, "another person");
        assert_eq!(verify(b"k", "", 0), None);
        assert_eq!(verify(b"k", &format!("{c}.x"), 0), None);
    }

    #[test]
    fn csrf_tokens_belong_to_one_session() {
        let a = issue(b"k", 1, "h", 10);
        let b = issue(b"k", 2, "h", 10);
        let t = csrf_token(b"k", &a);
        assert!(csrf_matches(b"k", &a, &t));
        assert!(!csrf_matches(b"k", &b, &t));
        assert!(!csrf_matches(b"k", &a, "zz"));
        assert!(!csrf_matches(b"k", &a, ""));
    }
}
