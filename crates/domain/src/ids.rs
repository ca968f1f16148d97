//! Identifier formats of `events.md`: incident and alert ids are 24 lowercase
//! hex characters, event ids 32.

use rand::RngCore;

/// A 24-hex id whose first 8 characters are the creation second, so ids sort
/// roughly by time, like the hosted product's.
pub fn new_object_id(now_s: i64) -> String {
    let mut tail = [0u8; 8];
    rand::thread_rng().fill_bytes(&mut tail);
    format!("{:08x}{}", now_s as u32, hex::encode(tail))
}

pub fn new_event_id() -> String {
    let mut bytes = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
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
}
