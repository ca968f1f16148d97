//! Async runs by the hash of their callback token, kept in memory: a run's
//! token, incident, action, requester and deadline never change, so a
//! callback need not read them again. Whether the run may still change is
//! decided by the writer, which reads the run in its transaction.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use dutyhook_domain::run::Run;

/// A flood of runs must not grow the map without bound.
const MAX_ENTRIES: usize = 20_000;

#[derive(Clone, Default)]
pub struct RunTokens {
    runs: Arc<Mutex<HashMap<String, Run>>>,
}

impl RunTokens {
    pub fn get(&self, token_hash: &str) -> Option<Run> {
        self.runs
            .lock()
            .expect("run token lock")
            .get(token_hash)
            .cloned()
    }

    /// Keeps `run` (with its `token_hash`) until its deadline has passed
    /// and room is needed.
    pub fn put(&self, run: &Run, now_s: i64) {
        if run.token_hash.is_empty() {
            return;
        }
        let mut runs = self.runs.lock().expect("run token lock");
        if runs.len() >= MAX_ENTRIES {
            runs.retain(|_, r| r.deadline > now_s);
        }
        if runs.len() < MAX_ENTRIES {
            runs.insert(run.token_hash.clone(), run.clone());
        }
    }
}
