//! An event's payload written as text straight from its parts.
//!
//! The writer records each event of an operation inside its batch, so the
//! time this takes is serial. Building the document as a `serde_json::Value`
//! first (the subject, then the map around it) and printing that was 5 % of
//! the server's CPU at 16 clients creating incidents (`perf`); serialising
//! from the parts writes the same text without the tree.

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value};

use crate::event::{EventType, SubjectKind};
use crate::person::Person;

/// `{event_id, event_time, event_type, person?, <kind>: subject}` followed
/// by `extra`, as [`crate::recorder::event_doc`] extended by `extra` reads:
/// an extra field named as one of the document's takes its place.
pub struct EventText<'a, S> {
    pub event_id: &'a str,
    pub event_time_ms: i64,
    pub event_type: EventType,
    pub person: Option<&'a Person>,
    pub kind: SubjectKind,
    pub subject: &'a S,
    pub extra: &'a Map<String, Value>,
}

impl<S: Serialize> EventText<'_, S> {
    pub fn to_text(&self) -> String {
        serde_json::to_string(self).expect("an event's document always serialises")
    }

    fn is_own(&self, key: &str) -> bool {
        matches!(key, "event_id" | "event_time" | "event_type")
            || key == self.kind.as_str()
            || (key == "person" && self.person.is_some())
    }
}

impl<S: Serialize> Serialize for EventText<'_, S> {
    fn serialize<Z: Serializer>(&self, serializer: Z) -> Result<Z::Ok, Z::Error> {
        let mut map = serializer.serialize_map(None)?;
        let extra = self.extra;
        own_entry(&mut map, extra, "event_id", self.event_id)?;
        own_entry(&mut map, extra, "event_time", &self.event_time_ms)?;
        own_entry(&mut map, extra, "event_type", self.event_type.as_str())?;
        if let Some(p) = self.person {
            own_entry(&mut map, extra, "person", p)?;
        }
        own_entry(&mut map, extra, self.kind.as_str(), self.subject)?;
        for (key, v) in extra {
            if !self.is_own(key) {
                map.serialize_entry(key, v)?;
            }
        }
        map.end()
    }
}

/// One of the document's own fields, or the extra field that replaces it.
fn own_entry<M: SerializeMap, T: Serialize + ?Sized>(
    map: &mut M,
    extra: &Map<String, Value>,
    key: &str,
    own: &T,
) -> Result<(), M::Error> {
    match extra.get(key) {
        Some(v) => map.serialize_entry(key, v),
        None => map.serialize_entry(key, own),
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::ids::PersonId;
    use crate::recorder::event_doc;

    const KEYS: [&str; 8] = [
        "event_id",
        "event_time",
        "event_type",
        "person",
        "incident",
        "alert",
        "changes",
        "a",
    ];

    fn extra_fields() -> impl Strategy<Value = Map<String, Value>> {
        proptest::collection::vec((0..KEYS.len(), any::<i32>(), "[a-z\"\\\\é]{0,6}"), 0..6)
            .prop_map(|fields| {
                fields
                    .into_iter()
                    .map(|(k, n, s)| (KEYS[k].to_string(), json!({ "n": n, "s": s })))
                    .collect()
            })
    }

    proptest! {
        /// Whatever the extra fields (even named as the document's own),
        /// the text is what the document built as a map and printed reads.
        #[test]
        fn the_text_is_the_documents(
            extra in extra_fields(),
            with_person in any::<bool>(),
            alert in any::<bool>(),
            time in any::<i64>(),
            title in "[ -~é]{0,12}",
        ) {
            let person = Person {
                person_id: PersonId(7),
                person_name: "Ann \"On call\"".into(),
                email: "ann@example.com".into(),
            };
            let person = with_person.then_some(&person);
            let kind = if alert { SubjectKind::Alert } else { SubjectKind::Incident };
            let subject = json!({ "title": title, "num": 3, "labels": { "b": "1", "a": "2" } });
            let event_type = EventType::i_new;
            let mut doc = event_doc("e1", time, event_type, person, kind, subject.clone());
            doc.extend(extra.clone());
            let text = EventText {
                event_id: "e1",
                event_time_ms: time,
                event_type,
                person,
                kind,
                subject: &subject,
                extra: &extra,
            }
            .to_text();
            prop_assert_eq!(text, Value::Object(doc).to_string());
        }
    }
}
