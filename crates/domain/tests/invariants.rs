//! Any sequence of operations keeps an incident's invariants: progress agrees
//! with acknowledgements and close time, responders are unique, a snooze never
//! outlives closing, events are emitted only for changes and in order.

use dutyhook_domain::incident::{Incident, RenderContext};
use dutyhook_domain::ops::{self, NewIncident, Reset, Resolution};
use dutyhook_domain::person::Person;
use dutyhook_domain::recorder::Recorder;
use dutyhook_domain::severity::{Progress, Severity};
use proptest::prelude::*;
use serde_json::Value;

#[derive(Debug, Clone)]
enum Op {
    Ack(usize),
    Unack(usize),
    Snooze(usize, i64),
    Wake(usize),
    Expire(i64),
    Resolve(usize),
    Reopen(usize),
    Assign(usize, Vec<usize>),
    AddResponders(usize, Vec<usize>),
    Comment(usize),
    ResetTitle(usize, u8),
    ResetSeverity(usize, u8),
    Tick(i64),
}

fn person(i: usize) -> Person {
    Person {
        person_id: dutyhook_domain::ids::PersonId(1000 + i as i64),
        person_name: format!("P{i}"),
        email: format!("p{i}@example.com"),
    }
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0usize..4;
    let group = proptest::collection::vec(0usize..4, 0..4);
    prop_oneof![
        who.clone().prop_map(Op::Ack),
        who.clone().prop_map(Op::Unack),
        (who.clone(), -2i64..1500).prop_map(|(w, m)| Op::Snooze(w, m)),
        who.clone().prop_map(Op::Wake),
        (0i64..200_000).prop_map(Op::Expire),
        who.clone().prop_map(Op::Resolve),
        who.clone().prop_map(Op::Reopen),
        (who.clone(), group.clone()).prop_map(|(w, g)| Op::Assign(w, g)),
        (who.clone(), group).prop_map(|(w, g)| Op::AddResponders(w, g)),
        who.clone().prop_map(Op::Comment),
        (who.clone(), 0u8..3).prop_map(|(w, t)| Op::ResetTitle(w, t)),
        (who, 0u8..3).prop_map(|(w, s)| Op::ResetSeverity(w, s)),
        (1i64..100_000).prop_map(Op::Tick),
    ]
}

fn ctx() -> RenderContext {
    RenderContext {
        public_url: "http://x".into(),
        account_id: 1,
        account_name: "a".into(),
    }
}

fn check(inc: &Incident) -> Result<(), TestCaseError> {
    let acked = inc.responders.iter().any(|r| r.acknowledged_at > 0);
    match inc.progress {
        Progress::Closed => prop_assert!(inc.close_time > 0 && inc.closer.is_some()),
        Progress::Processing => {
            prop_assert!(acked, "Processing needs an acknowledgement");
            prop_assert!(inc.ack_time > 0 && inc.close_time == 0);
        }
        Progress::Triggered => prop_assert!(!acked && inc.close_time == 0 && inc.closer.is_none()),
    }
    if acked {
        prop_assert!(inc.ack_time > 0 && inc.ack_time <= inc.updated_at);
    }
    let mut ids = inc.responder_ids();
    ids.sort_unstable();
    ids.dedup();
    prop_assert_eq!(ids.len(), inc.responders.len(), "responders are unique");
    if inc.progress == Progress::Closed {
        prop_assert_eq!(inc.snoozed_before, 0, "a closed incident is not snoozed");
    }
    prop_assert!(inc.updated_at >= inc.created_at);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn operations_keep_invariants(ops in proptest::collection::vec(op(), 1..40)) {
        let mut now_ms: i64 = 1_795_447_900_000;
        let mut rec = Recorder::new(now_ms, ctx());
        let input = NewIncident {
            title: "Checkout latency".into(), severity: Severity::Warning, channel_id: dutyhook_domain::ids::ChannelId(0), channel_name: String::new(),
            description: String::new(), impact: String::new(), assignees: vec![], fields: Default::default(),
        };
        let mut incs = vec![ops::create(input, &person(0), &mut rec)];
        check(&incs[0])?;
        for op in ops {
            let before = incs.clone();
            let mut r = Recorder::new(now_ms, ctx());
            let result = match &op {
                Op::Ack(w) => ops::ack(&mut incs, &person(*w), &mut r),
                Op::Unack(w) => ops::unack(&mut incs, &person(*w), &mut r),
                Op::Snooze(w, m) => ops::snooze(&mut incs, *m, &person(*w), &mut r),
                Op::Wake(w) => ops::wake(&mut incs, Some(&person(*w)), &mut r),
                Op::Expire(ms) => {
                    r = Recorder::new(now_ms + ms, ctx());
                    ops::wake(&mut incs, None, &mut r)
                }
                Op::Resolve(w) => ops::resolve(&mut incs, &Resolution { root_cause: None, resolution: None }, &person(*w), &mut r),
                Op::Reopen(w) => ops::reopen(&mut incs, Some("again"), &person(*w), &mut r),
                Op::Assign(w, g) => {
                    let people: Vec<Person> = g.iter().map(|i| person(*i)).collect();
                    ops::assign(&mut incs, &people, &person(*w), &mut r)
                }
                Op::AddResponders(w, g) => {
                    let people: Vec<Person> = g.iter().map(|i| person(*i)).collect();
                    ops::add_responders(&mut incs[0], &people, &person(*w), &mut r)
                }
                Op::Comment(w) => ops::comment(&mut incs, "note", &person(*w), &mut r),
                Op::ResetTitle(w, t) => {
                    let reset = Reset { title: Some(format!("Title {t}")), ..Default::default() };
                    ops::reset(&mut incs[0], &reset, &person(*w), &mut r)
                }
                Op::ResetSeverity(w, s) => {
                    let sev = ["Critical", "Warning", "Info"][*s as usize].to_string();
                    ops::reset(&mut incs[0], &Reset { incident_severity: Some(sev), ..Default::default() }, &person(*w), &mut r)
                }
                Op::Tick(ms) => {
                    now_ms += ms;
                    Ok(())
                }
            };
            match result {
                // The store rolls the whole transaction back.
                Err(_) => incs = before,
                Ok(()) => {
                    check(&incs[0])?;
                    if incs == before && !matches!(op, Op::Comment(_)) {
                        prop_assert!(r.events.is_empty(), "no change, no event: {:?}", op);
                    }
                    if !matches!(op, Op::Tick(_)) && incs != before && !matches!(op, Op::Comment(_)) {
                        prop_assert!(!r.events.is_empty(), "a change emits an event: {:?}", op);
                    }
                    let mut last = None;
                    for e in &r.events {
                        let v: Value = serde_json::from_str(&e.payload).unwrap();
                        prop_assert_eq!(v["event_type"].as_str(), Some(e.event_type.as_str()));
                        let person_expected = !matches!(op, Op::Expire(_));
                        prop_assert_eq!(v.get("person").is_some(), person_expected);
                        prop_assert!(e.event_type.is_incident());
                        if let Some(prev) = last {
                            prop_assert!(prev <= e.event_type, "events in table order");
                        }
                        last = Some(e.event_type);
                    }
                }
            }
        }
    }
}
