//! Signing in to the console: at most 10 failures per account and 100 per
//! client address in 15 minutes, then `RequestTooFrequently` until the
//! oldest of them is 15 minutes old; an unknown email gets the same answer,
//! after the same work, as a wrong password.

use std::net::IpAddr;

use dutyhook_store::{Failures, PersonRecord};

use crate::error::ApiError;
use crate::state::AppState;

pub const WINDOW_S: i64 = 15 * 60;
pub const PER_ACCOUNT: i64 = 10;
pub const PER_ADDRESS: i64 = 100;

#[derive(Debug)]
pub enum SignIn {
    Welcome(Box<PersonRecord>),
    /// A wrong email or password (which one is not said).
    Refused,
    /// Too many failures: no password is checked until `retry_at` (s).
    Throttled {
        retry_at: i64,
    },
}

/// The failures of one account are counted under its email as typed
/// (lower case), whether or not such a person exists.
fn account_scope(email: &str) -> String {
    format!("account:{}", email.trim().to_ascii_lowercase())
}

/// IPv6 clients are counted per /64: one host commonly holds a whole one.
fn address_scope(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => format!("address:{v4}"),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => format!("address:{v4}"),
            None => {
                let s = v6.segments();
                format!("address:{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

/// When the scopes over their limit allow another try, if any is over.
fn throttled(failures: &[Failures], account: &str, now_s: i64) -> Option<i64> {
    failures
        .iter()
        .filter(|f| {
            let limit = if f.scope == account {
                PER_ACCOUNT
            } else {
                PER_ADDRESS
            };
            f.count >= limit
        })
        .map(|f| (f.oldest_at + WINDOW_S).max(now_s + 1))
        .max()
}

pub async fn sign_in(
    app: &AppState,
    email: &str,
    password: &str,
    from: IpAddr,
) -> Result<SignIn, ApiError> {
    let now = app.clock.now_ms() / 1000;
    let account = account_scope(email);
    let scopes = [account.clone(), address_scope(from)];
    let failures = app.store.sign_in_failures(&scopes, now - WINDOW_S).await?;
    if let Some(retry_at) = throttled(&failures, &account, now) {
        return Ok(SignIn::Throttled { retry_at });
    }
    // No stored email holds a NUL (the API refuses one); PostgreSQL would
    // refuse to look it up.
    let person = match email.contains('\0') {
        true => None,
        // A deactivated person is refused as a wrong password is, in the
        // same time (the hash is still checked).
        false => app
            .store
            .person_by_email(email.trim())
            .await?
            .filter(|p| p.active),
    };
    let hash = person.as_ref().map(|p| p.password_hash.as_str());
    if app.passwords.verify(password, hash).await {
        if let Some(person) = person {
            app.store.clear_sign_in_failures(&account).await?;
            return Ok(SignIn::Welcome(Box::new(person)));
        }
    }
    app.store.record_sign_in_failure(&scopes, now).await?;
    Ok(SignIn::Refused)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failures(scope: &str, count: i64, oldest_at: i64) -> Failures {
        Failures {
            scope: scope.into(),
            count,
            oldest_at,
        }
    }

    #[test]
    fn limits_per_account_and_per_address() {
        let acct = account_scope(" Ada@Example.com ");
        assert_eq!(acct, "account:ada@example.com");
        let addr = address_scope("10.0.0.7".parse().unwrap());
        let now = 10_000;
        assert_eq!(throttled(&[failures(&acct, 9, 9_500)], &acct, now), None);
        assert_eq!(
            throttled(&[failures(&acct, 10, 9_500)], &acct, now),
            Some(9_500 + WINDOW_S)
        );
        assert_eq!(throttled(&[failures(&addr, 99, 9_000)], &acct, now), None);
        assert_eq!(
            throttled(
                &[failures(&acct, 3, 9_900), failures(&addr, 100, 9_200)],
                &acct,
                now
            ),
            Some(9_200 + WINDOW_S)
        );
    }

    #[test]
    fn ipv6_clients_count_per_64() {
        let a = address_scope("2001:db8:1:2:aaaa::1".parse().unwrap());
        let b = address_scope("2001:db8:1:2:bbbb::9".parse().unwrap());
        let c = address_scope("2001:db8:1:3::1".parse().unwrap());
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert_eq!(
            address_scope("::ffff:10.0.0.7".parse().unwrap()),
            address_scope("10.0.0.7".parse().unwrap())
        );
    }
}
