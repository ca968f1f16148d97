//! Title rules: `$name` / `${name}` rendering is total, leaves a rule
//! without `$` as it is, and grows a rule only by label values.
#![no_main]

use std::collections::BTreeMap;

use dutyhook_domain::alert::render_title;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (rule, labels) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(rule) = std::str::from_utf8(rule) else {
        return;
    };
    let labels: BTreeMap<String, String> = serde_json::from_slice(labels).unwrap_or_else(|_| {
        [("host", "db-1"), ("a", "x"), ("job", "")].iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    });
    let out = render_title(rule, &labels);
    if !rule.contains('$') {
        assert_eq!(out, rule);
    }
    let longest = labels.values().map(String::len).max().unwrap_or(0);
    assert!(out.len() <= rule.len() + rule.matches('$').count() * longest);
});
