//! Identifier formats of `events.md`: incident and alert ids are 24 lowercase
//! hex characters, event ids 32.

use std::fmt;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::OnceLock;

use rand::RngCore;
use serde::{Deserialize, Serialize};

/// A 24-hex id shaped like the hosted product's (a MongoDB ObjectId): the
/// creation second (8), this process's random tag (10), then a counter (6)
/// that starts at random and goes up by one an id. Ids a process makes sort
/// in the order it made them, so the indexes they key (incidents, their
/// timelines, the delivery key tails) grow at their right edge: with a
/// random tail every create dirtied a page of its own in each of them
/// (docs/benchmarks.md). The counter is also the `num` people see, so
/// consecutive incidents get distinct numbers for 16,777,216 creates,
/// where random ones met a repeat within a few thousand.
pub fn new_object_id(now_s: i64) -> String {
    let (tag, counter) = object_id_state();
    object_id(now_s, *tag, counter.fetch_add(1, Ordering::Relaxed))
}

/// The second, the low 40 bits of `tag`, the low 24 bits of `n`.
fn object_id(now_s: i64, tag: u64, n: u32) -> String {
    format!(
        "{:08x}{:010x}{:06x}",
        now_s as u32,
        tag & 0xff_ffff_ffff,
        n & 0xff_ffff
    )
}

fn object_id_state() -> &'static (u64, AtomicU32) {
    static STATE: OnceLock<(u64, AtomicU32)> = OnceLock::new();
    STATE.get_or_init(|| {
        let mut rng = rand::thread_rng();
        (rng.next_u64(), AtomicU32::new(rng.next_u32()))
    })
}

/// 32 hex: the creation millisecond (12) then 80 random bits (20). Ids made
/// later sort later, so the unique indexes on event and invocation ids grow
/// at their right edge: with random ids every insert dirtied its own index
/// page, about 8 KiB of WAL per push (measured; docs/benchmarks.md).
pub fn new_event_id() -> String {
    event_id_at(crate::clock::now_ms() as u64)
}

fn event_id_at(now_ms: u64) -> String {
    let mut tail = [0u8; 10];
    rand::thread_rng().fill_bytes(&mut tail);
    format!("{:012x}{}", now_ms & 0xffff_ffff_ffff, hex::encode(tail))
}

/// The short number shown to people: the id's last 6 characters, upper-cased.
pub fn num_of(incident_id: &str) -> String {
    let start = incident_id.len().saturating_sub(6);
    incident_id[start..].to_ascii_uppercase()
}

pub fn is_object_id(s: &str) -> bool {
    s.len() == 24
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// An id the database numbers: distinct types so that a person's id is
/// never passed where a channel's is expected.
macro_rules! number_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(pub i64);

        impl $name {
            pub const fn get(self) -> i64 {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        impl From<i64> for $name {
            fn from(id: i64) -> Self {
                $name(id)
            }
        }

        impl From<$name> for i64 {
            fn from(id: $name) -> i64 {
                id.0
            }
        }
    };
}

/// An id made of hex text (`events.md`). It reads as a `&str` wherever one
/// is expected; making one from text is always explicit.
macro_rules! text_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(
            Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Default, Serialize, Deserialize,
        )]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl std::ops::Deref for $name {
            type Target = str;

            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl std::borrow::Borrow<str> for $name {
            fn borrow(&self) -> &str {
                &self.0
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(id: String) -> Self {
                $name(id)
            }
        }

        impl From<&str> for $name {
            fn from(id: &str) -> Self {
                $name(id.to_string())
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl From<&$name> for String {
            fn from(id: &$name) -> String {
                id.0.clone()
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }
    };
}

number_id!(
    /// A person of the installation.
    PersonId
);
number_id!(
    /// A channel (a team's stream of incidents).
    ChannelId
);
number_id!(
    /// A webhook, a custom action or an alert source.
    IntegrationId
);
number_id!(
    /// One event on its way to one integration.
    DeliveryId
);
text_id!(
    /// 24 hex characters.
    IncidentId
);
text_id!(
    /// 24 hex characters.
    AlertId
);
text_id!(
    /// 32 hex characters, in creation order.
    EventId
);
text_id!(
    /// 24 hex characters: one trigger of a custom action.
    RunId
);
text_id!(
    /// 24 hex characters: one replay of an integration's unsent deliveries.
    ReplayId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_documented_shapes() {
        let id = new_object_id(1_795_447_900);
        assert!(is_object_id(&id), "{id}");
        assert_eq!(num_of(&id), id[18..].to_ascii_uppercase());
        let ev = new_event_id();
        assert_eq!(ev.len(), 32);
        assert!(ev
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(num_of("6751f3888713372ad1054d57"), "054D57");
    }

    #[test]
    fn object_ids_of_one_process_sort_in_creation_order_with_distinct_nums() {
        let ids: Vec<String> = (0..10_000).map(|_| new_object_id(1_795_447_900)).collect();
        let nums: std::collections::HashSet<String> = ids.iter().map(|i| num_of(i)).collect();
        assert_eq!(nums.len(), ids.len(), "no two nums alike");
        let wrapped = ids.windows(2).filter(|w| w[0] >= w[1]).count();
        assert!(wrapped <= 1, "in order but where the counter wraps");
        assert!(ids.iter().all(|i| i.starts_with("6b045c5c")), "{}", ids[0]);
        assert!(new_object_id(1_795_447_901) > ids[ids.len() - 1]);
    }

    #[test]
    fn an_object_id_is_second_tag_counter() {
        assert_eq!(
            object_id(1_795_447_900, 0x12_3456_789a, 0xabc),
            "6b045c5c123456789a000abc"
        );
        assert_eq!(object_id(1, u64::MAX, u32::MAX), "00000001ffffffffffffffff");
    }

    #[test]
    fn event_ids_sort_by_creation_time_and_differ_within_a_millisecond() {
        let earlier = event_id_at(1_795_447_900_123);
        let later = event_id_at(1_795_447_900_124);
        assert!(earlier < later, "{earlier} < {later}");
        assert_eq!(&earlier[..12], "01a20908c7db");
        let same: std::collections::HashSet<String> =
            (0..1000).map(|_| event_id_at(1_795_447_900_123)).collect();
        assert_eq!(same.len(), 1000);
        assert!(new_event_id() > earlier);
    }
}
