//! An answer that writes back applies all of what it asks, or nothing: for
//! any mix of valid and invalid parts, either every wanted key is applied or
//! the incident and the record of the operation are left exactly as they
//! were, with each invalid key refused and a reason given.

use dutyhook_domain::ids::{ChannelId, IntegrationId, PersonId};
use dutyhook_domain::incident::{Incident, RenderContext};
use dutyhook_domain::ops::{self, NewIncident};
use dutyhook_domain::person::Person;
use dutyhook_domain::recorder::Recorder;
use dutyhook_domain::run::WriteBackKey;
use dutyhook_domain::severity::Severity;
use dutyhook_domain::write_back::{apply, read_answer, Applying};
use proptest::prelude::*;
use serde_json::{json, Value};

const ALL: [WriteBackKey; 5] = WriteBackKey::ALL;

fn ctx() -> RenderContext {
    RenderContext {
        public_url: "http://127.0.0.1:8080".into(),
        account_id: 1,
        account_name: "test".into(),
    }
}

fn person() -> Person {
    Person {
        person_id: PersonId(7),
        person_name: "Ada".into(),
        email: "ada@example.com".into(),
    }
}

fn incident() -> Incident {
    let mut rec = Recorder::new(1_795_447_900_000, ctx());
    let input = NewIncident {
        title: "Checkout latency".into(),
        severity: Severity::Warning,
        channel_id: ChannelId(1),
        channel_name: String::new(),
        description: String::new(),
        impact: String::new(),
        assignees: vec![],
        fields: Default::default(),
    };
    ops::create(input, &person(), &mut rec)
}

/// A valid and an invalid value for each key.
fn part(key: WriteBackKey, valid: bool) -> Value {
    match (key, valid) {
        (WriteBackKey::Labels, true) => json!({"host": "db-7"}),
        (WriteBackKey::Labels, false) => json!({"host": 7}),
        (WriteBackKey::Fields, true) => json!({}),
        (WriteBackKey::Fields, false) => json!({"missing": 1}),
        (WriteBackKey::Comment, true) => json!("written by a test"),
        (WriteBackKey::Comment, false) => json!(""),
        (WriteBackKey::Links, true) => json!([{"title": "Trace", "url": "https://t.example/1"}]),
        (WriteBackKey::Links, false) => json!([{"title": "Trace", "url": "ftp://t.example/1"}]),
        (WriteBackKey::Resolve, true) => json!({"resolution": "healed"}),
        (WriteBackKey::Resolve, false) => json!({"resolution": 1}),
    }
}

proptest! {
    #[test]
    fn all_or_nothing(parts in proptest::collection::vec((0usize..5, any::<bool>()), 0..6)) {
        let mut body = serde_json::Map::new();
        for (k, valid) in &parts {
            body.insert(ALL[*k].as_str().into(), part(ALL[*k], *valid));
        }
        let answer = read_answer("application/json", &Value::Object(body.clone()).to_string(), &ALL);
        let wanted: Vec<WriteBackKey> = answer.wanted.iter().map(|(k, _)| *k).collect();
        let any_invalid = body.iter().any(|(k, v)| {
            let key = WriteBackKey::parse(k).unwrap();
            *v == part(key, false) && part(key, true) != part(key, false)
        });
        let before = incident();
        let mut inc = before.clone();
        let mut rec = Recorder::new(1_795_447_960_000, ctx());
        let who = Applying { defs: &[], action_id: IntegrationId(3), action_name: "Heal", by: &person() };
        let report = apply(&mut inc, &answer, &who, &mut rec);
        if any_invalid {
            prop_assert!(report.applied.is_empty());
            prop_assert_eq!(&inc, &before);
            prop_assert!(rec.events.is_empty() && rec.timeline.is_empty() && rec.runs.is_empty());
            prop_assert!(!report.refused.is_empty());
            prop_assert!(report.refused.iter().all(|r| !r.reason.is_empty()));
        } else {
            prop_assert_eq!(report.applied, wanted);
            prop_assert!(report.refused.is_empty());
        }
    }
}

#[test]
fn only_json_objects_are_read() {
    for (ct, body) in [
        ("text/plain", r#"{"labels": {"a": "b"}}"#),
        ("application/json", r#"[{"labels": {"a": "b"}}]"#),
        ("application/json", "{not json"),
        ("application/jsonx", r#"{"labels": {"a": "b"}}"#),
    ] {
        let a = read_answer(ct, body, &ALL);
        assert!(a.wanted.is_empty() && a.message.is_none(), "{ct} {body}");
    }
    for ct in [
        "application/json; charset=utf-8",
        "Application/JSON",
        "application/problem+json",
    ] {
        assert_eq!(
            read_answer(ct, r#"{"message": "hi"}"#, &ALL)
                .message
                .as_deref(),
            Some("hi"),
            "{ct}"
        );
    }
}
