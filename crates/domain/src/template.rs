//! Custom request body templates (`events.md`): a JSON document whose string
//! values may hold `{{path}}` variables resolved against the event payload.
//! Parsing and rendering are pure and total: any template that parses renders
//! to valid JSON over any payload.

use serde_json::Value;

use crate::DomainError;

pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;

/// A template that parsed; render it with [`Template::render`].
#[derive(Debug, Clone, PartialEq)]
pub struct Template {
    doc: Value,
    /// Whether a variable reads the readable text (`{{text.…}}`), which is
    /// then made for each render; most templates do not.
    reads_text: bool,
}

impl Template {
    /// Refuses text that is not JSON, saying where.
    pub fn parse(text: &str) -> Result<Template, DomainError> {
        if text.len() > MAX_TEMPLATE_BYTES {
            return Err(DomainError::invalid(
                "body_template",
                format!("must be at most {MAX_TEMPLATE_BYTES} bytes"),
            ));
        }
        let reads_text = text
            .split("{{")
            .skip(1)
            .any(|after| after.trim_start().starts_with("text"));
        let doc = serde_json::from_str(text).map_err(|e| {
            DomainError::invalid(
                "body_template",
                format!(
                    "is not valid JSON at line {} column {}: {e}",
                    e.line(),
                    e.column()
                ),
            )
        })?;
        Ok(Template { doc, reads_text })
    }

    pub fn render(&self, payload: &Value) -> Value {
        render_value(&self.doc, payload)
    }

    pub fn as_value(&self) -> &Value {
        &self.doc
    }

    pub fn reads_text(&self) -> bool {
        self.reads_text
    }
}

fn render_value(t: &Value, payload: &Value) -> Value {
    match t {
        Value::String(s) => render_string(s, payload),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| render_value(v, payload)).collect())
        }
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), render_value(v, payload)))
                .collect(),
        ),
        other => other.clone(),
    }
}

/// Resolves `a.b.0.c` in `payload`; numbers index arrays.
pub fn lookup<'a>(payload: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return None;
    }
    path.split('.').try_fold(payload, |v, part| match v {
        Value::Object(m) => m.get(part),
        Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
        _ => None,
    })
}

fn is_path(p: &str) -> bool {
    !p.is_empty()
        && p.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-')
}

fn as_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn render_string(s: &str, payload: &Value) -> Value {
    // A string that is exactly one variable keeps the value's JSON type.
    if let Some(inner) = s.strip_prefix("{{").and_then(|r| r.strip_suffix("}}")) {
        let path = inner.trim();
        if !inner.contains("{{") && !inner.contains("}}") && is_path(path) {
            return match lookup(payload, path) {
                Some(v) => v.clone(),
                None => Value::String(s.to_string()),
            };
        }
    }
    Value::String(interpolate(s, payload, false))
}

/// `s` with each `{{path}}` replaced by its value as text; a path that does
/// not resolve renders as "" (as an input's default does), not as written.
pub fn render_text(s: &str, payload: &Value) -> String {
    interpolate(s, payload, true)
}

fn interpolate(s: &str, payload: &Value, missing_empty: bool) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let path = after[..end].trim();
                match (is_path(path), lookup(payload, path)) {
                    (true, Some(v)) => out.push_str(&as_text(v)),
                    (true, None) if missing_empty => {}
                    _ => out.push_str(&rest[start..start + 2 + end + 2]),
                }
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload() -> Value {
        json!({"event_type": "i_ack", "incident": {"title": "Disk full", "alert_cnt": 2, "labels": {"host": "db-1"},
               "responders": [{"email": "bob@example.com"}], "closer": null, "flag": true}})
    }

    #[test]
    fn rules_of_events_md() {
        let t = Template::parse(r#"{"text": "Incident: {{incident.title}} ({{ incident.alert_cnt }})",
            "labels": "{{incident.labels}}", "n": "{{incident.alert_cnt}}", "who": "{{incident.responders.0.email}}",
            "missing": "{{incident.nope}}", "mixed": "x {{nope.x}} {{incident.labels}}", "{{incident.title}}": 1,
            "list": ["{{event_type}}", 3, null], "flag": "{{incident.flag}}", "nul": "{{incident.closer}}"}"#).unwrap();
        let out = t.render(&payload());
        assert_eq!(out["text"], json!("Incident: Disk full (2)"));
        assert_eq!(
            out["labels"],
            json!({"host": "db-1"}),
            "a lone variable keeps its type"
        );
        assert_eq!(out["n"], json!(2));
        assert_eq!(out["who"], json!("bob@example.com"));
        assert_eq!(
            out["missing"],
            json!("{{incident.nope}}"),
            "unresolved paths stay as written"
        );
        assert_eq!(
            out["mixed"],
            json!("x {{nope.x}} {\"host\":\"db-1\"}"),
            "objects in text are compact JSON"
        );
        assert_eq!(
            out["{{incident.title}}"],
            json!(1),
            "keys are not templated"
        );
        assert_eq!(out["list"], json!(["i_ack", 3, null]));
        assert_eq!(out["flag"], json!(true));
        assert_eq!(out["nul"], Value::Null);
    }

    #[test]
    fn odd_strings_are_left_alone() {
        let t = Template::parse(r#"["{{", "}}", "{{}}", "{{ }}", "{{a}", "{{incident.title}}{{incident.title}}", "{{{incident.title}}}"]"#).unwrap();
        let out = t.render(&payload());
        assert_eq!(
            out,
            json!([
                "{{",
                "}}",
                "{{}}",
                "{{ }}",
                "{{a}",
                "Disk fullDisk full",
                "{{{incident.title}}}"
            ])
        );
    }

    #[test]
    fn it_knows_whether_it_reads_the_readable_text() {
        let reads = |t: &str| Template::parse(t).unwrap().reads_text();
        assert!(reads(r#"{"m": "{{ text.headline }}"}"#));
        assert!(reads(r#"{"m": "x {{text.summary}}"}"#));
        assert!(!reads(r#"{"m": "{{incident.title}}", "text": "plain"}"#));
    }

    #[test]
    fn invalid_templates_say_where() {
        let e = Template::parse("{\n  \"a\": {{incident.title}}\n}")
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 2"), "{e}");
        assert!(Template::parse(&" ".repeat(MAX_TEMPLATE_BYTES + 1)).is_err());
    }
}
