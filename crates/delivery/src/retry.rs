//! What happens after an attempt (`delivery.md`, "Retries"), as a pure
//! function of the policy, the attempt number and its outcome.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};

pub use dutyhook_domain::webhook::RetryPolicy;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    Timeout,
    Connect,
    Dns,
    Tls,
    Blocked,
    Redirect,
    HttpStatus,
    /// An OAuth2 token could not be had: the push did not reach the endpoint.
    Auth,
    /// The SMTP server refused a mail; `status` is its reply code.
    Smtp,
}

impl FailureClass {
    pub fn as_str(self) -> &'static str {
        match self {
            FailureClass::Timeout => "timeout",
            FailureClass::Connect => "connect",
            FailureClass::Dns => "dns",
            FailureClass::Tls => "tls",
            FailureClass::Blocked => "blocked",
            FailureClass::Redirect => "redirect",
            FailureClass::HttpStatus => "http_status",
            FailureClass::Auth => "auth",
            FailureClass::Smtp => "smtp",
        }
    }
}

/// The outcome of one attempt, as far as retrying cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Success,
    Failed {
        class: FailureClass,
        status: u16,
        retry_after: Option<Duration>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Done,
    RetryAfter(Duration),
    GiveUp,
    /// `410 Gone`: give up and disable the integration until someone enables it.
    GiveUpAndDisable,
}

/// Delays before attempts 2, 3, … of the `backoff` policy (9 attempts in all).
pub const BACKOFF: [Duration; 8] = [
    Duration::from_secs(5),
    Duration::from_secs(30),
    Duration::from_secs(120),
    Duration::from_secs(600),
    Duration::from_secs(1800),
    Duration::from_secs(3600),
    Duration::from_secs(7200),
    Duration::from_secs(14400),
];
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);
pub const JITTER: f64 = 0.2;

/// The backoff schedule, scaled (tests shrink it; production uses 1.0).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Schedule {
    pub scale: f64,
}

impl Default for Schedule {
    fn default() -> Self {
        Schedule { scale: 1.0 }
    }
}

fn retryable_under_backoff(class: FailureClass, status: u16) -> bool {
    match class {
        // A token endpoint that fails is as passing as a connection that does.
        FailureClass::Timeout
        | FailureClass::Connect
        | FailureClass::Dns
        | FailureClass::Tls
        | FailureClass::Auth => true,
        FailureClass::HttpStatus => matches!(status, 408 | 429 | 500..=599),
        // 4xx replies are SMTP's "try again later"; 5xx are final.
        FailureClass::Smtp => (400..500).contains(&status),
        FailureClass::Blocked | FailureClass::Redirect => false,
    }
}

/// Decides what follows attempt number `attempt` (1 = first). `jitter` is a
/// value in [-1, 1] (random in production) scaling the ±20 % jitter.
pub fn decide(
    policy: RetryPolicy,
    attempt: u32,
    outcome: Outcome,
    schedule: Schedule,
    jitter: f64,
) -> Decision {
    let Outcome::Failed {
        class,
        status,
        retry_after,
    } = outcome
    else {
        return Decision::Done;
    };
    if class == FailureClass::HttpStatus && status == 410 {
        return Decision::GiveUpAndDisable;
    }
    match policy {
        RetryPolicy::None => Decision::GiveUp,
        RetryPolicy::Once => {
            if attempt == 1 && matches!(class, FailureClass::Timeout | FailureClass::Connect) {
                Decision::RetryAfter(Duration::ZERO)
            } else {
                Decision::GiveUp
            }
        }
        RetryPolicy::Backoff => {
            let Some(base) = BACKOFF.get(attempt as usize - 1) else {
                return Decision::GiveUp;
            };
            if !retryable_under_backoff(class, status) {
                return Decision::GiveUp;
            }
            let delay = match retry_after {
                Some(ra) => ra.min(MAX_RETRY_AFTER),
                None => base.mul_f64(1.0 + JITTER * jitter.clamp(-1.0, 1.0)),
            };
            Decision::RetryAfter(delay.mul_f64(schedule.scale.max(0.0)))
        }
    }
}

/// Parses `Retry-After`: delay-seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn failed(class: FailureClass, status: u16) -> Outcome {
        Outcome::Failed {
            class,
            status,
            retry_after: None,
        }
    }

    #[test]
    fn backoff_schedule_and_classes() {
        let s = Schedule::default();
        let timeout = failed(FailureClass::Timeout, 0);
        assert_eq!(
            decide(RetryPolicy::Backoff, 1, timeout, s, 0.0),
            Decision::RetryAfter(Duration::from_secs(5))
        );
        assert_eq!(
            decide(RetryPolicy::Backoff, 8, timeout, s, 0.0),
            Decision::RetryAfter(Duration::from_secs(14400))
        );
        assert_eq!(
            decide(RetryPolicy::Backoff, 9, timeout, s, 0.0),
            Decision::GiveUp,
            "9 attempts in all"
        );
        let total: Duration = BACKOFF.iter().sum();
        assert!(
            (7.5 * 3600.0..8.5 * 3600.0).contains(&total.as_secs_f64()),
            "about 8 h"
        );
        for status in [408, 429, 500, 503, 599] {
            assert!(
                matches!(
                    decide(
                        RetryPolicy::Backoff,
                        1,
                        failed(FailureClass::HttpStatus, status),
                        s,
                        0.0
                    ),
                    Decision::RetryAfter(_)
                ),
                "{status}"
            );
        }
        for status in [400, 401, 403, 404, 422] {
            assert_eq!(
                decide(
                    RetryPolicy::Backoff,
                    1,
                    failed(FailureClass::HttpStatus, status),
                    s,
                    0.0
                ),
                Decision::GiveUp,
                "{status}"
            );
        }
        assert_eq!(
            decide(
                RetryPolicy::Backoff,
                1,
                failed(FailureClass::HttpStatus, 410),
                s,
                0.0
            ),
            Decision::GiveUpAndDisable
        );
        assert_eq!(
            decide(
                RetryPolicy::Backoff,
                1,
                failed(FailureClass::Blocked, 0),
                s,
                0.0
            ),
            Decision::GiveUp
        );
        assert_eq!(
            decide(
                RetryPolicy::Backoff,
                1,
                failed(FailureClass::Redirect, 302),
                s,
                0.0
            ),
            Decision::GiveUp
        );
        assert_eq!(
            decide(RetryPolicy::Backoff, 3, Outcome::Success, s, 0.0),
            Decision::Done
        );
    }

    #[test]
    fn jitter_and_retry_after() {
        let s = Schedule::default();
        let t = failed(FailureClass::Connect, 0);
        assert_eq!(
            decide(RetryPolicy::Backoff, 2, t, s, 1.0),
            Decision::RetryAfter(Duration::from_secs(36))
        );
        assert_eq!(
            decide(RetryPolicy::Backoff, 2, t, s, -1.0),
            Decision::RetryAfter(Duration::from_secs(24))
        );
        let ra = Outcome::Failed {
            class: FailureClass::HttpStatus,
            status: 429,
            retry_after: Some(Duration::from_secs(7)),
        };
        assert_eq!(
            decide(RetryPolicy::Backoff, 4, ra, s, 1.0),
            Decision::RetryAfter(Duration::from_secs(7))
        );
        let huge = Outcome::Failed {
            class: FailureClass::HttpStatus,
            status: 503,
            retry_after: Some(Duration::from_secs(99_999)),
        };
        assert_eq!(
            decide(RetryPolicy::Backoff, 1, huge, s, 0.0),
            Decision::RetryAfter(MAX_RETRY_AFTER)
        );
        let shrunk = Schedule { scale: 0.001 };
        assert_eq!(
            decide(RetryPolicy::Backoff, 1, t, shrunk, 0.0),
            Decision::RetryAfter(Duration::from_millis(5))
        );
    }

    #[test]
    fn once_and_none() {
        let s = Schedule::default();
        for class in [FailureClass::Timeout, FailureClass::Connect] {
            assert_eq!(
                decide(RetryPolicy::Once, 1, failed(class, 0), s, 0.0),
                Decision::RetryAfter(Duration::ZERO)
            );
            assert_eq!(
                decide(RetryPolicy::Once, 2, failed(class, 0), s, 0.0),
                Decision::GiveUp
            );
        }
        assert_eq!(
            decide(
                RetryPolicy::Once,
                1,
                failed(FailureClass::HttpStatus, 503),
                s,
                0.0
            ),
            Decision::GiveUp
        );
        assert_eq!(
            decide(RetryPolicy::Once, 1, failed(FailureClass::Dns, 0), s, 0.0),
            Decision::GiveUp
        );
        assert_eq!(
            decide(
                RetryPolicy::None,
                1,
                failed(FailureClass::Timeout, 0),
                s,
                0.0
            ),
            Decision::GiveUp
        );
        assert_eq!(
            decide(
                RetryPolicy::None,
                1,
                failed(FailureClass::HttpStatus, 410),
                s,
                0.0
            ),
            Decision::GiveUpAndDisable
        );
    }

    #[test]
    fn retry_after_forms() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        assert_eq!(
            parse_retry_after(" 120 ", now),
            Some(Duration::from_secs(120))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(90))
        );
        let past = httpdate::fmt_http_date(now - Duration::from_secs(90));
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-5", now), None);
    }
}
