//! Alertmanager's webhook body: any bytes are refused or give events within
//! the spec's limits, the same ones every time.
#![no_main]

use dutyhook_domain::alert::{alertmanager_events, TITLE_RULE_CHARS};
use dutyhook_domain::ids::IntegrationId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(events) = alertmanager_events(IntegrationId(3), &body) else {
        return;
    };
    for ev in &events {
        assert!(ev.title.chars().count() <= TITLE_RULE_CHARS);
        assert!(!ev.alert_key.is_empty());
        assert!(ev.labels.len() <= 50);
    }
    let again = alertmanager_events(IntegrationId(3), &body).expect("accepted again");
    let keys = |e: &[dutyhook_domain::alert::AlertEvent]| e.iter().map(|x| x.alert_key.clone()).collect::<Vec<_>>();
    assert_eq!(keys(&again), keys(&events));
});
