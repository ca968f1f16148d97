//! Alert sources by key hash, kept for a second: during a storm every push
//! would otherwise read the key, the integration and its channel.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dutyhook_domain::alert::Source;

const TTL: Duration = Duration::from_secs(1);
/// A flood of wrong keys must not grow the map without bound.
const MAX_ENTRIES: usize = 10_000;

#[derive(Clone, Default)]
pub struct SourceCache {
    entries: Arc<Mutex<HashMap<String, (Instant, Source)>>>,
}

impl SourceCache {
    pub fn get(&self, key_hash: &str) -> Option<Source> {
        let entries = self.entries.lock().expect("source cache lock");
        entries
            .get(key_hash)
            .filter(|(at, _)| at.elapsed() < TTL)
            .map(|(_, s)| s.clone())
    }

    pub fn put(&self, key_hash: String, source: Source) {
        let mut entries = self.entries.lock().expect("source cache lock");
        if entries.len() >= MAX_ENTRIES {
            entries.retain(|_, (at, _)| at.elapsed() < TTL);
        }
        if entries.len() < MAX_ENTRIES {
            entries.insert(key_hash, (Instant::now(), source));
        }
    }

    /// After a change through this process to a source or a channel; other
    /// processes see it within `TTL`.
    pub fn clear(&self) {
        self.entries.lock().expect("source cache lock").clear();
    }
}
