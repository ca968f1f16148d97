//! Label rules shared by alert ingestion and `/incident/labels/update`:
//! at most 50 pairs, keys follow Prometheus label naming and are at most 128
//! characters, values are truncated to 2048 characters.

use std::collections::BTreeMap;

use crate::DomainError;

pub const MAX_LABELS: usize = 50;
pub const MAX_KEY_CHARS: usize = 128;
pub const MAX_VALUE_CHARS: usize = 2048;

pub fn is_label_name(key: &str) -> bool {
    let mut chars = key.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

pub fn check_key(field: &str, key: &str) -> Result<(), DomainError> {
    if key.chars().count() > MAX_KEY_CHARS {
        return Err(DomainError::invalid(
            field,
            format!(
                "label key {:?}… is longer than {MAX_KEY_CHARS} characters",
                truncate(key, 32)
            ),
        ));
    }
    if !is_label_name(key) {
        return Err(DomainError::invalid(
            field,
            format!("label key {key:?} must match [a-zA-Z_][a-zA-Z0-9_]*"),
        ));
    }
    Ok(())
}

pub fn truncate(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((at, _)) => s[..at].to_string(),
        None => s.to_string(),
    }
}

/// Applies an update (set, then remove) to `current` and checks the result.
pub fn apply_update(
    current: &BTreeMap<String, String>,
    set: &BTreeMap<String, String>,
    remove_keys: &[String],
) -> Result<BTreeMap<String, String>, DomainError> {
    let mut next = current.clone();
    for (k, v) in set {
        check_key("labels", k)?;
        next.insert(k.clone(), truncate(v, MAX_VALUE_CHARS));
    }
    for k in remove_keys {
        next.remove(k);
    }
    if next.len() > MAX_LABELS {
        return Err(DomainError::LimitExceeded(format!(
            "labels: an incident holds at most {MAX_LABELS} labels; this update would leave {}",
            next.len()
        )));
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_names() {
        for ok in ["a", "_x", "service_name", "A1"] {
            assert!(is_label_name(ok), "{ok}");
        }
        for bad in ["", "1a", "a-b", "a.b", "é"] {
            assert!(!is_label_name(bad), "{bad}");
        }
    }

    #[test]
    fn update_sets_truncates_removes_and_limits() {
        let cur: BTreeMap<_, _> = [("a".to_string(), "1".to_string())].into();
        let set: BTreeMap<_, _> = [("b".to_string(), "x".repeat(3000))].into();
        let next = apply_update(&cur, &set, &["a".into()]).unwrap();
        assert_eq!(next.len(), 1);
        assert_eq!(next["b"].len(), MAX_VALUE_CHARS);
        let many: BTreeMap<_, _> = (0..51)
            .map(|i| (format!("k{i}"), "v".to_string()))
            .collect();
        assert!(matches!(
            apply_update(&cur, &many, &[]),
            Err(DomainError::LimitExceeded(_))
        ));
        let bad: BTreeMap<_, _> = [("bad-key".to_string(), "v".to_string())].into();
        assert!(apply_update(&cur, &bad, &[]).is_err());
    }
}
