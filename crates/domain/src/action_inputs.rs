//! What a person fills in before a custom action runs (`inputs`): the
//! definitions an action may declare, and the values a trigger gives,
//! checked and completed with the defaults rendered from the incident.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::template::render_text;
use crate::DomainError;

pub const MAX_INPUTS: usize = 10;
pub const NAME_CHARS: usize = 40;
pub const LABEL_CHARS: usize = 80;
pub const MAX_OPTIONS: usize = 50;
pub const DEFAULT_MAX_LENGTH: i64 = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InputType {
    String,
    Number,
    Boolean,
    Choice,
}

/// One input of an action.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct InputDef {
    /// Letters, digits and `_`, at most 40; unique in the action.
    pub name: String,
    /// What the form shows; at most 80 characters.
    pub label: String,
    #[serde(rename = "type")]
    pub kind: InputType,
    #[serde(default)]
    pub required: bool,
    /// For `string`, may hold `{{path}}` variables of the incident payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<serde_json::Value>)]
    pub default: Option<Value>,
    /// `choice` only: 1 to 50 strings.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<String>,
    /// `string` only: at most this many characters (default 1000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_length: Option<i64>,
}

impl InputDef {
    fn max_length(&self) -> i64 {
        self.max_length.unwrap_or(DEFAULT_MAX_LENGTH)
    }

    /// Why `value` does not fit this input, if it does not.
    fn misfit(&self, value: &Value) -> Option<String> {
        match (self.kind, value) {
            (InputType::String, Value::String(s)) => {
                let n = s.chars().count() as i64;
                (n > self.max_length())
                    .then(|| format!("must be at most {} characters, got {n}", self.max_length()))
            }
            (InputType::Number, Value::Number(_)) => None,
            (InputType::Boolean, Value::Bool(_)) => None,
            (InputType::Choice, Value::String(s)) => (!self.options.contains(s))
                .then(|| format!("must be one of {}", self.options.join(", "))),
            (InputType::String, _) | (InputType::Choice, _) => Some("must be text".into()),
            (InputType::Number, _) => Some("must be a number".into()),
            (InputType::Boolean, _) => Some("must be true or false".into()),
        }
    }
}

fn is_name(name: &str) -> bool {
    !name.is_empty()
        && name.chars().count() <= NAME_CHARS
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks an action's input definitions, naming the first wrong one.
pub fn validate_defs(defs: &[InputDef]) -> Result<(), DomainError> {
    if defs.len() > MAX_INPUTS {
        return Err(DomainError::invalid(
            "inputs",
            format!("at most {MAX_INPUTS} inputs, got {}", defs.len()),
        ));
    }
    for (i, def) in defs.iter().enumerate() {
        let at = |part: &str| format!("inputs[{i}].{part}");
        if !is_name(&def.name) {
            return Err(DomainError::invalid(
                at("name"),
                "must be 1 to 40 letters, digits or _",
            ));
        }
        if defs[..i].iter().any(|d| d.name == def.name) {
            return Err(DomainError::invalid(
                at("name"),
                format!("{} is used by another input", def.name),
            ));
        }
        let label = def.label.trim().chars().count();
        if label == 0 || label > LABEL_CHARS || def.label.chars().any(char::is_control) {
            return Err(DomainError::invalid(
                at("label"),
                "must be 1 to 80 characters without control characters",
            ));
        }
        match def.kind {
            InputType::Choice => {
                if def.options.is_empty() || def.options.len() > MAX_OPTIONS {
                    return Err(DomainError::invalid(
                        at("options"),
                        "a choice lists 1 to 50 options",
                    ));
                }
                if def
                    .options
                    .iter()
                    .any(|o| o.is_empty() || o.chars().count() > 200)
                {
                    return Err(DomainError::invalid(
                        at("options"),
                        "each option is 1 to 200 characters",
                    ));
                }
            }
            _ if !def.options.is_empty() => {
                return Err(DomainError::invalid(
                    at("options"),
                    "only a choice has options",
                ))
            }
            _ => {}
        }
        match (def.kind, def.max_length) {
            (InputType::String, Some(n)) if !(1..=10_000).contains(&n) => {
                return Err(DomainError::invalid(
                    at("max_length"),
                    format!("must be from 1 to 10000, got {n}"),
                ))
            }
            (InputType::String, _) | (_, None) => {}
            (_, Some(_)) => {
                return Err(DomainError::invalid(
                    at("max_length"),
                    "only a string has a maximum length",
                ))
            }
        }
        // A string's default is a template: its length is known only when rendered.
        let default = def.default.as_ref().filter(|v| !v.is_null());
        if let Some(why) = default.and_then(|v| match (def.kind, v) {
            (InputType::String, Value::String(_)) => None,
            _ => def.misfit(v),
        }) {
            return Err(DomainError::invalid(at("default"), why));
        }
    }
    Ok(())
}

/// The values a trigger runs with: `given` checked against `defs`, unknown
/// names refused, defaults (rendered against `payload`) filling the rest.
pub fn fill(
    defs: &[InputDef],
    given: &Map<String, Value>,
    payload: &Value,
) -> Result<Map<String, Value>, DomainError> {
    if let Some(name) = given.keys().find(|k| !defs.iter().any(|d| &d.name == *k)) {
        return Err(DomainError::invalid(
            format!("inputs.{name}"),
            "is not an input of this action",
        ));
    }
    let mut out = Map::new();
    for def in defs {
        let field = format!("inputs.{}", def.name);
        let value = match given.get(&def.name).filter(|v| !v.is_null()) {
            Some(v) => Some(v.clone()),
            None => default_of(def, payload),
        };
        let value = value.filter(|v| !matches!(v, Value::String(s) if s.is_empty()));
        match value {
            Some(v) => {
                if let Some(why) = def.misfit(&v) {
                    return Err(DomainError::invalid(field, why));
                }
                out.insert(def.name.clone(), v);
            }
            None if def.required => {
                return Err(DomainError::invalid(
                    field,
                    format!("is required ({})", def.label),
                ))
            }
            None => {}
        }
    }
    Ok(out)
}

/// The default an input starts with, rendered against the incident payload.
pub fn default_of(def: &InputDef, payload: &Value) -> Option<Value> {
    match def.default.as_ref()? {
        Value::String(s) if def.kind == InputType::String => {
            Some(Value::String(render_text(s, payload)))
        }
        Value::Null => None,
        v => Some(v.clone()),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn defs() -> Vec<InputDef> {
        serde_json::from_value(json!([
            {"name": "host", "label": "Host", "type": "string", "required": true,
             "default": "{{incident.labels.host}}", "max_length": 10},
            {"name": "count", "label": "Count", "type": "number", "default": 3},
            {"name": "force", "label": "Force", "type": "boolean"},
            {"name": "region", "label": "Region", "type": "choice", "options": ["eu", "us"], "default": "eu"},
        ]))
        .unwrap()
    }

    fn field_of(e: DomainError) -> String {
        match e {
            DomainError::InvalidParameter { field, .. } => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn defaults_render_from_the_incident() {
        let payload = json!({"incident": {"labels": {"host": "db-7"}}});
        let out = fill(&defs(), &Map::new(), &payload).unwrap();
        assert_eq!(
            Value::Object(out),
            json!({"host": "db-7", "count": 3, "region": "eu"})
        );
    }

    #[test]
    fn a_missing_path_renders_empty_and_a_required_input_says_so() {
        let e = fill(&defs(), &Map::new(), &json!({"incident": {}})).unwrap_err();
        assert_eq!(field_of(e), "inputs.host");
    }

    #[test]
    fn each_type_is_checked() {
        let payload = json!({});
        for (given, field) in [
            (json!({"host": 7}), "inputs.host"),
            (json!({"host": "x".repeat(11)}), "inputs.host"),
            (json!({"host": "a", "count": "3"}), "inputs.count"),
            (json!({"host": "a", "force": "yes"}), "inputs.force"),
            (json!({"host": "a", "region": "mars"}), "inputs.region"),
            (json!({"host": "a", "nope": 1}), "inputs.nope"),
        ] {
            let given = given.as_object().unwrap().clone();
            assert_eq!(
                field_of(fill(&defs(), &given, &payload).unwrap_err()),
                field
            );
        }
        let ok = json!({"host": "a", "count": 1.5, "force": true, "region": "us"});
        let out = fill(&defs(), ok.as_object().unwrap(), &payload).unwrap();
        assert_eq!(Value::Object(out), ok);
    }

    #[test]
    fn definitions_are_checked() {
        assert!(validate_defs(&defs()).is_ok());
        for (change, field) in [
            (json!({"name": "bad name"}), "inputs[0].name"),
            (json!({"label": ""}), "inputs[0].label"),
            (json!({"type": "choice"}), "inputs[0].options"),
            (
                json!({"type": "number", "default": "x", "max_length": null}),
                "inputs[0].default",
            ),
            (json!({"max_length": 0}), "inputs[0].max_length"),
        ] {
            let mut d = serde_json::to_value(defs()).unwrap();
            for (k, v) in change.as_object().unwrap() {
                d[0][k] = v.clone();
            }
            let d: Vec<InputDef> = serde_json::from_value(d).unwrap();
            assert_eq!(field_of(validate_defs(&d).unwrap_err()), field, "{change}");
        }
        let mut twice = defs();
        twice[1].name = "host".into();
        assert_eq!(
            field_of(validate_defs(&twice).unwrap_err()),
            "inputs[1].name"
        );
        let many: Vec<InputDef> = (0..11)
            .map(|i| InputDef {
                name: format!("i{i}"),
                ..defs()[1].clone()
            })
            .collect();
        assert_eq!(field_of(validate_defs(&many).unwrap_err()), "inputs");
    }
}
