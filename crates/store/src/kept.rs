//! Reads a process keeps in memory: the caller of every API request by key
//! hash, and the custom field definitions every create validates against.
//! Both change only through the writer's rare changes, so the writer counts
//! those ("generations") and a kept value is used only in the generation it
//! was read in.
//!
//! On SQLite this process alone writes, so its own count is exact. On
//! PostgreSQL every process's batch of rare changes also notifies the others
//! at its commit (`dialect::CHANGES_CHANNEL`), and each advances its count on
//! hearing it; until its listener is connected, and whenever it is lost,
//! nothing kept is used (a change made meanwhile could go unheard).
//!
//! Why: each read is a round trip to a connection (its thread on SQLite, the
//! server on PostgreSQL); with 16 clients creating incidents, these two reads
//! were half of all the statements the process ran (measured on SQLite:
//! 26,177 of 48,241 in 5 s), and on PostgreSQL 1.0 and 0.4 ms each.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Counts the committed rare changes (people, keys, fields, integrations…)
/// this process knows of. Advanced by its writer after the commit and
/// before any caller hears of it, so a caller that changed something never
/// reads what it replaced; on PostgreSQL also when another process says so.
#[derive(Clone)]
pub(crate) struct Generation(Arc<(AtomicU64, AtomicBool)>);

impl Generation {
    /// `heard`: whether every change is known from the start (SQLite).
    pub(crate) fn new(heard: bool) -> Generation {
        Generation(Arc::new((AtomicU64::new(0), AtomicBool::new(heard))))
    }

    pub(crate) fn now(&self) -> u64 {
        self.0 .0.load(Ordering::Acquire)
    }

    pub(crate) fn advance(&self) {
        self.0 .0.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether every change is being heard of: kept values may be used.
    pub(crate) fn heard(&self) -> bool {
        self.0 .1.load(Ordering::Acquire)
    }

    /// The other processes' changes are heard again (a listener connected):
    /// what was kept before is forgotten, since some may have gone unheard.
    pub(crate) fn hearing(&self) {
        self.advance();
        self.0 .1.store(true, Ordering::Release);
    }

    /// The listener is lost: nothing kept is used until it is back.
    pub(crate) fn deaf(&self) {
        self.0 .1.store(false, Ordering::Release);
        self.advance();
    }
}

/// At most this many values kept: past it the map starts over, so keys
/// that are tried once and never again cannot grow it without end.
const MOST: usize = 10_000;

/// Values read in one generation. A value read before a change and kept
/// after it is never answered: the generation is taken before the read,
/// and a get answers only what was kept in the current one.
pub(crate) struct Kept<K, V> {
    generation: Generation,
    values: Mutex<(u64, HashMap<K, V>)>,
}

impl<K: Eq + Hash, V: Clone> Kept<K, V> {
    pub(crate) fn new(generation: Generation) -> Kept<K, V> {
        Kept {
            generation,
            values: Mutex::new((0, HashMap::new())),
        }
    }

    /// The generation to read in, then the value kept in it, if any.
    pub(crate) fn get(&self, key: &K) -> (u64, Option<V>) {
        let now = self.generation.now();
        if !self.generation.heard() {
            return (now, None);
        }
        let values = self.values.lock().expect("kept lock");
        let found = (values.0 == now).then(|| values.1.get(key).cloned());
        (now, found.flatten())
    }

    /// Keeps what was read in generation `read_in`, unless a later one began.
    pub(crate) fn keep(&self, read_in: u64, key: K, value: V) {
        if !self.generation.heard() {
            return;
        }
        let mut values = self.values.lock().expect("kept lock");
        if values.0 != read_in {
            if values.0 > read_in {
                return;
            }
            *values = (read_in, HashMap::new());
        }
        if values.1.len() >= MOST {
            values.1.clear();
        }
        values.1.insert(key, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_is_answered_only_in_the_generation_it_was_read_in() {
        let generation = Generation::new(true);
        let kept: Kept<&str, i32> = Kept::new(generation.clone());
        let (read_in, none) = kept.get(&"k");
        assert_eq!(none, None);
        kept.keep(read_in, "k", 1);
        assert_eq!(kept.get(&"k").1, Some(1));
        generation.advance();
        assert_eq!(kept.get(&"k").1, None, "a change forgets it");
        // Read before the change, kept after it: never answered.
        kept.keep(read_in, "k", 1);
        assert_eq!(kept.get(&"k").1, None);
        let (now, _) = kept.get(&"k");
        kept.keep(now, "k", 2);
        assert_eq!(kept.get(&"k").1, Some(2));
    }

    #[test]
    fn nothing_kept_is_used_while_changes_may_go_unheard() {
        let generation = Generation::new(false);
        let kept: Kept<&str, i32> = Kept::new(generation.clone());
        let (read_in, _) = kept.get(&"k");
        kept.keep(read_in, "k", 1);
        assert_eq!(kept.get(&"k").1, None, "not heard yet");
        generation.hearing();
        let (read_in, _) = kept.get(&"k");
        kept.keep(read_in, "k", 1);
        assert_eq!(kept.get(&"k").1, Some(1));
        generation.deaf();
        assert_eq!(kept.get(&"k").1, None, "lost");
        generation.hearing();
        assert_eq!(kept.get(&"k").1, None, "what was kept before is forgotten");
    }
}
