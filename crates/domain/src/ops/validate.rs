//! Checks of what callers give: titles, texts, severities, custom field
//! values, lists of people.

use serde_json::{Map, Value};

use crate::field::{check_value, FieldDef};
use crate::person::Person;
use crate::severity::Severity;
use crate::DomainError;

/// The hosted product takes titles up to 512 characters.
pub const TITLE_CHARS: std::ops::RangeInclusive<usize> = 3..=512;

pub const DESCRIPTION_CHARS: usize = 6144;

pub const LONG_TEXT_CHARS: usize = 6144;

pub const COMMENT_CHARS: std::ops::RangeInclusive<usize> = 1..=10_000;

pub const REASON_CHARS: std::ops::RangeInclusive<usize> = 1..=1024;

pub const SNOOZE_MINUTES: std::ops::RangeInclusive<i64> = 1..=1440;

pub const MAX_MERGE_SOURCES: usize = 100;

pub const MAX_RESPONDERS: usize = 100;

pub fn validate_title(title: &str) -> Result<String, DomainError> {
    let t = title.trim();
    let n = t.chars().count();
    if !TITLE_CHARS.contains(&n) {
        return Err(DomainError::invalid(
            "title",
            format!("must be 3 to 512 characters, got {n}"),
        ));
    }
    if t.chars().any(|c| c.is_control()) {
        return Err(DomainError::invalid(
            "title",
            "must not contain control characters",
        ));
    }
    Ok(t.to_string())
}

pub fn validate_text(field: &str, text: &str, max: usize) -> Result<String, DomainError> {
    let n = text.chars().count();
    if n > max {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max} characters, got {n}"),
        ));
    }
    Ok(text.to_string())
}

pub(crate) fn validate_len_range(
    field: &str,
    text: &str,
    range: std::ops::RangeInclusive<usize>,
) -> Result<(), DomainError> {
    let n = text.trim().chars().count();
    if !range.contains(&n) {
        return Err(DomainError::invalid(
            field,
            format!(
                "must be {} to {} characters, got {n}",
                range.start(),
                range.end()
            ),
        ));
    }
    Ok(())
}

pub fn parse_severity(field: &str, s: &str) -> Result<Severity, DomainError> {
    Severity::parse(s).ok_or_else(|| {
        DomainError::invalid(
            field,
            format!("{s:?} is not one of Critical, Warning, Info"),
        )
    })
}

/// Checks custom field values against their definitions and fills defaults.
pub fn validate_fields(
    defs: &[FieldDef],
    given: &Map<String, Value>,
) -> Result<Map<String, Value>, DomainError> {
    let mut out = Map::new();
    for (name, value) in given {
        let def = defs.iter().find(|d| &d.field_name == name).ok_or_else(|| {
            DomainError::invalid("fields", format!("no custom field named {name:?}"))
        })?;
        check_value(def, value).map_err(|e| match e {
            DomainError::InvalidParameter { message, .. } => {
                DomainError::invalid(format!("fields.{name}"), message)
            }
            other => other,
        })?;
        if !value.is_null() {
            out.insert(name.clone(), value.clone());
        }
    }
    for def in defs {
        if let (false, Some(v)) = (out.contains_key(&def.field_name), &def.default_value) {
            if !given.contains_key(&def.field_name) {
                out.insert(def.field_name.clone(), v.clone());
            }
        }
    }
    Ok(out)
}

pub fn validate_people_list(field: &str, people: &[Person]) -> Result<(), DomainError> {
    if people.is_empty() {
        return Err(DomainError::invalid(field, "must list at least one person"));
    }
    if people.len() > MAX_RESPONDERS {
        return Err(DomainError::invalid(
            field,
            format!("at most {MAX_RESPONDERS} people"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    if let Some(dup) = people.iter().find(|p| !seen.insert(p.person_id)) {
        return Err(DomainError::invalid(
            field,
            format!("person {} is listed twice", dup.person_id),
        ));
    }
    Ok(())
}
