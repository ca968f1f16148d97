//! Custom headers: validation is total, and a secret value never shows in
//! what is read back; sending the read-back list again keeps the secrets.
#![no_main]

use dutyhook_domain::headers::{masked, merge_masked, validate, Header, MASK};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(headers) = serde_json::from_slice::<Vec<Header>>(data) else {
        return;
    };
    if validate(&headers).is_err() {
        return;
    }
    let shown = masked(&headers);
    assert_eq!(shown.len(), headers.len());
    for (h, s) in headers.iter().zip(&shown) {
        assert_eq!(h.key, s.key);
        // A value made of the mask's own stars is found in any mask.
        if h.secret && h.value.chars().count() > 4 && !MASK.contains(h.value.as_str()) {
            assert!(!s.value.contains(&h.value), "a secret value leaked when read back");
        }
    }
    let kept = merge_masked(shown, &headers);
    assert_eq!(kept, headers, "the masked list sent back changes nothing");
});
