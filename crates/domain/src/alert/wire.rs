//! The two ways alerts arrive: a standard event and an Alertmanager webhook
//! body, parsed and checked into [`AlertEvent`]s.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::model::*;
use crate::ids::IntegrationId;
use crate::labels::{check_key, truncate, MAX_LABELS, MAX_VALUE_CHARS};
use crate::severity::Status;
use crate::DomainError;

pub const TITLE_RULE_CHARS: usize = 512;

pub const ALERT_KEY_CHARS: usize = 255;

pub const DESCRIPTION_CHARS: usize = 2048;

pub const IMAGE_SRC_CHARS: usize = 256;

pub(crate) fn parse_status(s: &str) -> Option<Status> {
    match s {
        "Critical" => Some(Status::Critical),
        "Warning" => Some(Status::Warning),
        "Info" => Some(Status::Info),
        "Ok" => Some(Status::Ok),
        _ => None,
    }
}

/// `$name` and `${name}` replaced by the label `name`; left as written when absent.
pub fn render_title(rule: &str, labels: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(rule.len());
    let mut rest = rule;
    while let Some(i) = rest.find('$') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        let (name, used) = if let Some(inner) = after.strip_prefix('{') {
            match inner.find('}') {
                Some(end) => (&inner[..end], end + 2),
                None => ("", 0),
            }
        } else {
            let end = after
                .char_indices()
                .find(|(n, c)| {
                    !(c.is_ascii_alphanumeric() || *c == '_') || (*n == 0 && c.is_ascii_digit())
                })
                .map_or(after.len(), |(n, _)| n);
            (&after[..end], end)
        };
        match labels.get(name) {
            Some(v) if !name.is_empty() => {
                out.push_str(v);
                rest = &after[used..];
            }
            _ => {
                out.push('$');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// A stable key for events without one: repeats of the same alert merge.
pub fn derived_key(
    source_id: IntegrationId,
    title_rule: &str,
    labels: &BTreeMap<String, String>,
) -> String {
    let mut h = Sha256::new();
    h.update(source_id.to_string());
    h.update([0]);
    h.update(title_rule);
    for (k, v) in labels {
        h.update([0]);
        h.update(k);
        h.update([1]);
        h.update(v);
    }
    hex::encode(&h.finalize()[..16])
}

pub(crate) fn text_field<'a>(
    body: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, DomainError> {
    match body.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(DomainError::invalid(field, "must be a string")),
    }
}

pub(crate) fn checked_labels(
    labels: impl IntoIterator<Item = (String, String)>,
) -> Result<BTreeMap<String, String>, DomainError> {
    let mut out = BTreeMap::new();
    for (k, v) in labels {
        check_key("labels", &k)?;
        out.insert(k, truncate(&v, MAX_VALUE_CHARS));
    }
    if out.len() > MAX_LABELS {
        return Err(DomainError::invalid(
            "labels",
            format!("at most {MAX_LABELS} labels, got {}", out.len()),
        ));
    }
    Ok(out)
}

pub(crate) fn images(v: Option<&Value>) -> Result<Vec<Image>, DomainError> {
    let list = match v {
        None | Some(Value::Null) => return Ok(vec![]),
        Some(Value::Array(a)) => a,
        Some(_) => return Err(DomainError::invalid("images", "must be a list")),
    };
    let mut out: Vec<Image> = vec![];
    for item in list {
        let img: Image = serde_json::from_value(item.clone()).map_err(|e| {
            DomainError::invalid("images", format!("each image is {{alt?, src, href?}}: {e}"))
        })?;
        let http = img.src.starts_with("http://") || img.src.starts_with("https://");
        if !http || img.src.chars().count() > IMAGE_SRC_CHARS {
            continue;
        }
        match out.iter_mut().find(|i| i.alt == img.alt) {
            Some(same_alt) => *same_alt = img,
            None => out.push(img),
        }
    }
    Ok(out)
}

/// A standard event (`alerts.md`, "Standard events").
pub fn standard_event(source_id: IntegrationId, body: &Value) -> Result<AlertEvent, DomainError> {
    let Value::Object(body) = body else {
        return Err(DomainError::invalid("body", "must be a JSON object"));
    };
    let title_rule = text_field(body, "title_rule")?
        .filter(|t| !t.trim().is_empty())
        .ok_or_else(|| DomainError::invalid("title_rule", "is required"))?;
    let title_rule = truncate(title_rule, TITLE_RULE_CHARS);
    let status_text = text_field(body, "event_status")?
        .ok_or_else(|| DomainError::invalid("event_status", "is required"))?;
    let status = parse_status(status_text).ok_or_else(|| {
        DomainError::invalid(
            "event_status",
            format!("{status_text:?} is not one of Critical, Warning, Info, Ok"),
        )
    })?;
    let labels = match body.get("labels") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(m)) => checked_labels(
            m.iter()
                .map(|(k, v)| match v {
                    Value::String(s) => Ok((k.clone(), s.clone())),
                    _ => Err(DomainError::invalid(
                        "labels",
                        format!("the value of {k:?} must be a string"),
                    )),
                })
                .collect::<Result<Vec<_>, _>>()?,
        )?,
        Some(_) => {
            return Err(DomainError::invalid(
                "labels",
                "must be an object of strings",
            ))
        }
    };
    let alert_key = match text_field(body, "alert_key")?.filter(|k| !k.is_empty()) {
        Some(k) if k.chars().count() > ALERT_KEY_CHARS => {
            return Err(DomainError::invalid(
                "alert_key",
                format!("must be at most {ALERT_KEY_CHARS} characters"),
            ))
        }
        Some(k) => k.to_string(),
        None if status == Status::Ok => {
            return Err(DomainError::invalid(
                "alert_key",
                "is required with event_status Ok: it names the alert to recover",
            ))
        }
        None => derived_key(source_id, &title_rule, &labels),
    };
    let description = truncate(
        text_field(body, "description")?.unwrap_or(""),
        DESCRIPTION_CHARS,
    );
    Ok(AlertEvent {
        title: truncate(&render_title(&title_rule, &labels), TITLE_RULE_CHARS),
        title_rule,
        description,
        status,
        alert_key,
        labels,
        images: images(body.get("images"))?,
    })
}

/// Alertmanager's webhook body (version 4): one event per entry of `alerts`.
pub fn alertmanager_events(
    source_id: IntegrationId,
    body: &Value,
) -> Result<Vec<AlertEvent>, DomainError> {
    let alerts = body
        .get("alerts")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            DomainError::invalid("alerts", "is required: Alertmanager's list of alerts")
        })?;
    let strings = |v: Option<&Value>| -> BTreeMap<String, String> {
        v.and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| v.as_str().map(|s| (k.clone(), s.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut out = vec![];
    for (n, a) in alerts.iter().enumerate() {
        let labels = strings(a.get("labels"));
        let annotations = strings(a.get("annotations"));
        let status = match a.get("status").and_then(Value::as_str) {
            Some("resolved") => Status::Ok,
            Some("firing") => match labels.get("severity").map(String::as_str) {
                Some("critical") => Status::Critical,
                Some("warning") => Status::Warning,
                Some("info") | Some("none") => Status::Info,
                _ => Status::Warning,
            },
            other => {
                return Err(DomainError::invalid(
                    format!("alerts.{n}.status"),
                    format!("{other:?} is not firing or resolved"),
                ))
            }
        };
        // Annotations join the labels; a label wins on a clash. Names that
        // are not label names, and any beyond the limit, are left out.
        let mut merged: BTreeMap<String, String> = BTreeMap::new();
        for (k, v) in labels.iter().chain(annotations.iter()) {
            if merged.len() < MAX_LABELS
                && !merged.contains_key(k)
                && check_key("labels", k).is_ok()
            {
                merged.insert(k.clone(), truncate(v, MAX_VALUE_CHARS));
            }
        }
        let title_rule = annotations
            .get("summary")
            .or_else(|| labels.get("alertname"))
            .cloned()
            .unwrap_or_else(|| "Alertmanager alert".into());
        let title_rule = truncate(&title_rule, TITLE_RULE_CHARS);
        let alert_key = match a.get("fingerprint").and_then(Value::as_str) {
            Some(f) if !f.is_empty() => truncate(f, ALERT_KEY_CHARS),
            _ => derived_key(source_id, "", &labels),
        };
        out.push(AlertEvent {
            title: title_rule.clone(),
            title_rule,
            description: truncate(
                annotations.get("description").map_or("", String::as_str),
                DESCRIPTION_CHARS,
            ),
            status,
            alert_key,
            labels: merged,
            images: vec![],
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn titles_render_labels_and_leave_the_rest() {
        let l = labels(&[("host", "db-1"), ("h", "x")]);
        assert_eq!(render_title("$host down", &l), "db-1 down");
        assert_eq!(render_title("${host}down", &l), "db-1down");
        assert_eq!(
            render_title("$hostname $missing ${open", &l),
            "$hostname $missing ${open"
        );
        assert_eq!(render_title("cost $5 and $", &l), "cost $5 and $");
        assert_eq!(render_title("é$h€", &l), "éx€");
    }

    #[test]
    fn derived_keys_depend_on_source_rule_and_labels() {
        let l = labels(&[("a", "1")]);
        let k = derived_key(IntegrationId(1), "t", &l);
        assert_eq!(k, derived_key(IntegrationId(1), "t", &l));
        assert_ne!(k, derived_key(IntegrationId(2), "t", &l));
        assert_ne!(k, derived_key(IntegrationId(1), "u", &l));
        assert_ne!(
            k,
            derived_key(IntegrationId(1), "t", &labels(&[("a", "2")]))
        );
        assert_eq!(k.len(), 32);
    }

    #[test]
    fn alertmanager_severity_mapping() {
        let body = |sev: &str, status: &str| json!({"alerts": [{"status": status, "labels": {"alertname": "A", "severity": sev}, "annotations": {}}]});
        for (sev, want) in [
            ("critical", Status::Critical),
            ("warning", Status::Warning),
            ("info", Status::Info),
            ("none", Status::Info),
            ("page", Status::Warning),
        ] {
            assert_eq!(
                alertmanager_events(IntegrationId(1), &body(sev, "firing")).unwrap()[0].status,
                want,
                "{sev}"
            );
        }
        assert_eq!(
            alertmanager_events(IntegrationId(1), &body("critical", "resolved")).unwrap()[0].status,
            Status::Ok
        );
        assert!(alertmanager_events(IntegrationId(1), &body("critical", "pending")).is_err());
    }
}
