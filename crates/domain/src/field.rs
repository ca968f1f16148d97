//! Custom field definitions and the check of a value against its definition.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::DomainError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Number,
    Checkbox,
    SingleSelect,
    MultiSelect,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct FieldDef {
    pub field_id: i64,
    pub field_name: String,
    pub display_name: String,
    pub field_type: FieldType,
    #[serde(default)]
    pub options: Vec<String>,
    #[schema(value_type = Option<serde_json::Value>)]
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_value: Option<Value>,
}

pub const MAX_TEXT_VALUE: usize = 2048;

pub fn validate_field_name(name: &str) -> Result<(), DomainError> {
    let ok = !name.is_empty()
        && name.len() <= 40
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    if ok {
        Ok(())
    } else {
        Err(DomainError::invalid(
            "field_name",
            "must be 1 to 40 characters of letters, digits and _",
        ))
    }
}

/// Checks a definition as a whole (name, display name, options, default).
pub fn validate_def(def: &FieldDef) -> Result<(), DomainError> {
    validate_field_name(&def.field_name)?;
    let display = def.display_name.trim();
    if display.is_empty() || display.chars().count() > 64 {
        return Err(DomainError::invalid(
            "display_name",
            "must be 1 to 64 characters",
        ));
    }
    let is_select = matches!(
        def.field_type,
        FieldType::SingleSelect | FieldType::MultiSelect
    );
    if is_select {
        if def.options.is_empty() || def.options.len() > 100 {
            return Err(DomainError::invalid(
                "options",
                "a select field needs 1 to 100 options",
            ));
        }
        let mut seen = std::collections::HashSet::new();
        for o in &def.options {
            if o.is_empty() || o.chars().count() > 100 {
                return Err(DomainError::invalid(
                    "options",
                    "each option is 1 to 100 characters",
                ));
            }
            if !seen.insert(o) {
                return Err(DomainError::invalid(
                    "options",
                    format!("option {o:?} is listed twice"),
                ));
            }
        }
    } else if !def.options.is_empty() {
        return Err(DomainError::invalid(
            "options",
            "only select fields take options",
        ));
    }
    if let Some(v) = &def.default_value {
        check_value(def, v).map_err(|e| match e {
            DomainError::InvalidParameter { message, .. } => {
                DomainError::invalid("default_value", message)
            }
            other => other,
        })?;
    }
    Ok(())
}

/// Checks `value` against the field's type and options; `null` clears a field.
pub fn check_value(def: &FieldDef, value: &Value) -> Result<(), DomainError> {
    if value.is_null() {
        return Ok(());
    }
    let name = &def.field_name;
    let bad = |what: &str| {
        Err(DomainError::invalid(
            "field_value",
            format!("field {name:?} takes {what}"),
        ))
    };
    match def.field_type {
        FieldType::Text => match value.as_str() {
            Some(s) if s.chars().count() <= MAX_TEXT_VALUE => Ok(()),
            _ => bad("a string of at most 2048 characters"),
        },
        FieldType::Number => match value.as_f64() {
            Some(n) if n.is_finite() => Ok(()),
            _ => bad("a number"),
        },
        FieldType::Checkbox => match value {
            Value::Bool(_) => Ok(()),
            _ => bad("true or false"),
        },
        FieldType::SingleSelect => match value.as_str() {
            Some(s) if def.options.iter().any(|o| o == s) => Ok(()),
            _ => bad(&format!("one of {:?}", def.options)),
        },
        FieldType::MultiSelect => match value.as_array() {
            Some(items)
                if items.iter().all(|i| {
                    i.as_str()
                        .is_some_and(|s| def.options.iter().any(|o| o == s))
                }) =>
            {
                Ok(())
            }
            _ => bad(&format!("a list drawn from {:?}", def.options)),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn def(t: FieldType, options: &[&str]) -> FieldDef {
        FieldDef {
            field_id: 1,
            field_name: "f".into(),
            display_name: "F".into(),
            field_type: t,
            options: options.iter().map(|s| s.to_string()).collect(),
            default_value: None,
        }
    }

    #[test]
    fn values_follow_their_type() {
        let sel = def(FieldType::SingleSelect, &["P1", "P2"]);
        assert!(check_value(&sel, &json!("P1")).is_ok());
        assert!(check_value(&sel, &json!("P3")).is_err());
        let multi = def(FieldType::MultiSelect, &["a", "b"]);
        assert!(check_value(&multi, &json!(["a", "b"])).is_ok());
        assert!(check_value(&multi, &json!(["c"])).is_err());
        assert!(check_value(&multi, &json!("a")).is_err());
        assert!(check_value(&def(FieldType::Number, &[]), &json!(1.5)).is_ok());
        assert!(check_value(&def(FieldType::Number, &[]), &json!("1")).is_err());
        assert!(check_value(&def(FieldType::Checkbox, &[]), &json!(true)).is_ok());
        assert!(check_value(&def(FieldType::Text, &[]), &json!(3)).is_err());
        assert!(check_value(&def(FieldType::Text, &[]), &Value::Null).is_ok());
    }

    #[test]
    fn definitions() {
        assert!(validate_def(&def(FieldType::SingleSelect, &[])).is_err());
        assert!(validate_def(&def(FieldType::Text, &["x"])).is_err());
        assert!(validate_def(&def(FieldType::SingleSelect, &["x", "x"])).is_err());
        let mut d = def(FieldType::SingleSelect, &["x"]);
        d.default_value = Some(json!("y"));
        assert!(validate_def(&d).is_err());
        assert!(validate_field_name("bad-name").is_err());
    }
}
