//! Console passwords, hashed with argon2 (its defaults: 19 MiB and about
//! 30 ms of one core per hash).
//!
//! Hashing runs a few at a time: 200 sign-ins at once each took their
//! 19 MiB (783 MiB in all) and every core. A sign-in for an unknown email,
//! or a person without a password, checks against a hash made here, so its
//! answer takes the work a wrong password takes.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::distributions::{Alphanumeric, DistString};
use tokio::sync::{OnceCell, Semaphore};

use crate::error::ApiError;

pub struct Passwords {
    permits: Semaphore,
    /// Hashes running now, and the most that ever ran at once.
    running: AtomicUsize,
    peak: AtomicUsize,
    /// Password checks made, the stand-in's included.
    checks: AtomicUsize,
    /// What a sign-in without a real hash checks against.
    stand_in: OnceCell<String>,
}

impl Passwords {
    /// At most `at_once` hashes at a time.
    pub fn new(at_once: usize) -> Arc<Passwords> {
        Arc::new(Passwords {
            permits: Semaphore::new(at_once.max(1)),
            running: AtomicUsize::new(0),
            peak: AtomicUsize::new(0),
            checks: AtomicUsize::new(0),
            stand_in: OnceCell::new(),
        })
    }

    /// Half the machine's cores: the rest keep answering everyone else.
    pub fn for_this_machine() -> Arc<Passwords> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Self::new(cores / 2)
    }

    /// The most hashes that ran at the same time so far.
    pub fn peak(&self) -> usize {
        self.peak.load(Ordering::Relaxed)
    }

    /// How many password checks were made (each is one hash's work).
    pub fn checks(&self) -> usize {
        self.checks.load(Ordering::Relaxed)
    }

    /// Makes the stand-in now, so that the first unknown email does not
    /// cost two hashes.
    pub async fn prepare(&self) {
        let _ = self.stand_in().await;
    }

    async fn limited<T: Send + 'static>(&self, work: impl FnOnce() -> T + Send + 'static) -> T {
        let _permit = self.permits.acquire().await.expect("never closed");
        let now = self.running.fetch_add(1, Ordering::Relaxed) + 1;
        self.peak.fetch_max(now, Ordering::Relaxed);
        let out = tokio::task::spawn_blocking(work)
            .await
            .expect("hashing does not panic");
        self.running.fetch_sub(1, Ordering::Relaxed);
        out
    }

    pub async fn hash(&self, password: &str) -> Result<String, ApiError> {
        let password = password.to_string();
        self.limited(move || {
            let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
            argon2::Argon2::default()
                .hash_password(password.as_bytes(), &salt)
                .map(|h| h.to_string())
                .map_err(|e| ApiError::Internal(format!("hashing a password: {e}")))
        })
        .await
    }

    /// Whether `password` matches `hash`; with no usable hash, the same work
    /// is done against the stand-in and the answer is no.
    pub async fn verify(&self, password: &str, hash: Option<&str>) -> bool {
        let real = hash.filter(|h| PasswordHash::new(h).is_ok());
        let against = match real {
            Some(h) => h.to_string(),
            None => match self.stand_in().await {
                Ok(h) => h,
                Err(_) => return false,
            },
        };
        let password = password.to_string();
        self.checks.fetch_add(1, Ordering::Relaxed);
        let matched = self
            .limited(move || {
                PasswordHash::new(&against).is_ok_and(|h| {
                    argon2::Argon2::default()
                        .verify_password(password.as_bytes(), &h)
                        .is_ok()
                })
            })
            .await;
        matched && real.is_some()
    }

    async fn stand_in(&self) -> Result<String, ApiError> {
        let nobody_knows = Alphanumeric.sample_string(&mut rand::thread_rng(), 32);
        self.stand_in
            .get_or_try_init(|| async move { self.hash(&nobody_knows).await })
            .await
            .cloned()
    }
}
