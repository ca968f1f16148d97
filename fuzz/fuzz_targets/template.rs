//! Body templates: any text either parses or is refused with a message;
//! a parsed template renders to valid JSON over any payload, the same way
//! twice, and a template without variables renders to itself.
#![no_main]

use dutyhook_domain::template::Template;
use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};

fuzz_target!(|data: &[u8]| {
    // The template, then after the first NUL the payload (JSON), if any.
    let (template, payload) = match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let Ok(text) = std::str::from_utf8(template) else {
        return;
    };
    let payload: Value = serde_json::from_slice(payload).unwrap_or_else(|_| {
        json!({"event_type": "i_new", "incident": {"title": "t", "labels": {"a": "b"},
               "responders": [{"email": "e@x"}], "alert_cnt": 3}})
    });
    let Ok(t) = Template::parse(text) else {
        return;
    };
    let out = t.render(&payload);
    let bytes = serde_json::to_vec(&out).expect("a rendered template serializes");
    let again: Value = serde_json::from_slice(&bytes).expect("and parses back");
    assert_eq!(again, out);
    assert_eq!(t.render(&payload), out, "rendering is deterministic");
    if !text.contains("{{") {
        assert_eq!(&out, t.as_value(), "nothing to replace, nothing replaced");
    }
});
