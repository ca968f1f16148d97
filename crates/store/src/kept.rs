//! Reads this process may keep in memory while it is the only one writing
//! the database (SQLite): the caller of every API request by key hash, and
//! the custom field definitions every create validates against. Both change
//! only through the writer's rare changes, so the writer counts those
//! ("generations") and a kept value is used only in the generation it was
//! read in.
//!
//! Why: on SQLite each read is a round trip to a connection's thread; with
//! 16 clients creating incidents, these two reads were half of all the
//! statements the process ran (measured: 26,177 of 48,241 in 5 s).

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// Counts the writer's committed rare changes (people, keys, fields,
/// integrations…). Bumped after the commit and before any caller hears of
/// it, so a caller that changed something never reads what it replaced.
#[derive(Clone, Default)]
pub(crate) struct Generation(Arc<AtomicU64>);

impl Generation {
    pub(crate) fn now(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    pub(crate) fn advance(&self) {
        self.0.fetch_add(1, Ordering::AcqRel);
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
        let values = self.values.lock().expect("kept lock");
        let found = (values.0 == now).then(|| values.1.get(key).cloned());
        (now, found.flatten())
    }

    /// Keeps what was read in generation `read_in`, unless a later one began.
    pub(crate) fn keep(&self, read_in: u64, key: K, value: V) {
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
        let generation = Generation::default();
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
}
