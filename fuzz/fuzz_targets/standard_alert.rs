//! The standard alert body: any bytes are refused or give one event within
//! the spec's limits, and the derived alert key is stable.
#![no_main]

use dutyhook_domain::alert::{standard_event, ALERT_KEY_CHARS, DESCRIPTION_CHARS, TITLE_RULE_CHARS};
use dutyhook_domain::ids::IntegrationId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else {
        return;
    };
    let Ok(ev) = standard_event(IntegrationId(7), &body) else {
        return;
    };
    assert!(ev.title.chars().count() <= TITLE_RULE_CHARS);
    assert!(ev.title_rule.chars().count() <= TITLE_RULE_CHARS);
    assert!(ev.description.chars().count() <= DESCRIPTION_CHARS);
    assert!(!ev.alert_key.is_empty() && ev.alert_key.chars().count() <= ALERT_KEY_CHARS);
    assert!(ev.labels.len() <= 50);
    let again = standard_event(IntegrationId(7), &body).expect("the same body is accepted again");
    assert_eq!(again.alert_key, ev.alert_key, "the key is stable");
});
