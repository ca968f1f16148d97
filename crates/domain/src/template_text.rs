//! Readable text about an event, for body templates: a chat message needs
//! "Ada acknowledged Disk full on db-7", and templates have no conditions
//! to turn `i_ack` into words. Templates see it under `text`
//! (`{{text.headline}}`); the event payload itself does not carry it.

use serde_json::{json, Value};

use crate::event::EventType;
use crate::template::lookup;

/// The root templates find the readable text under.
pub const TEXT_ROOT: &str = "text";

/// `{event, who, headline, summary, title, link}` for the event `payload`.
pub fn readable(payload: &Value) -> Value {
    let kind = payload["event_type"].as_str().and_then(EventType::parse);
    let who = payload["person"]["person_name"]
        .as_str()
        .filter(|n| !n.is_empty())
        .unwrap_or("dutyhook");
    let subject = if payload["incident"].is_object() {
        &payload["incident"]
    } else {
        &payload["alert"]
    };
    let title = text(subject, "title");
    let event = kind.map_or_else(|| "changed".to_string(), |k| what_happened(k, payload));
    let by_person = payload["person"].is_object();
    let headline = match kind {
        Some(EventType::i_new) if !by_person => format!("New incident: {title}"),
        Some(EventType::i_new) => format!("{who} opened an incident: {title}"),
        Some(EventType::a_new) => format!("New alert: {title}"),
        Some(EventType::i_storm) => format!("Alert storm ({event}): {title}"),
        _ if by_person => format!("{who} {event}: {title}"),
        _ => format!("{title}: {event}"),
    };
    let severity = match text(subject, "incident_severity") {
        s if s.is_empty() => text(subject, "alert_severity"),
        s => s,
    };
    let mut summary = vec![severity, text(subject, "progress")];
    let channel = text(subject, "channel_name");
    if !channel.is_empty() {
        summary.push(channel);
    }
    let labels = subject["labels"]
        .as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    if !labels.is_empty() {
        summary.push(labels);
    }
    summary.retain(|s| !s.is_empty());
    json!({
        "event": event,
        "who": who,
        "headline": headline,
        "summary": summary.join(" · "),
        "title": title,
        "link": text(subject, "detail_url"),
    })
}

/// `payload` with the readable text added under [`TEXT_ROOT`], for
/// rendering a template (a payload never has a key of that name).
pub fn with_readable(mut payload: Value) -> Value {
    let text = readable(&payload);
    if let Value::Object(m) = &mut payload {
        m.insert(TEXT_ROOT.into(), text);
    }
    payload
}

fn text(v: &Value, key: &str) -> String {
    match v.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => String::new(),
    }
}

fn people(payload: &Value) -> String {
    let names: Vec<String> = payload["incident"]["responders"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| text(r, "person_name"))
        .filter(|n| !n.is_empty())
        .collect();
    match names.len() {
        0 => "nobody".into(),
        _ => names.join(", "),
    }
}

/// What the event did, as words after the person who did it.
fn what_happened(kind: EventType, p: &Value) -> String {
    let at = |path: &str| lookup(p, path).map_or_else(String::new, text_of);
    match kind {
        EventType::i_new => "opened".into(),
        EventType::i_assign => format!("assigned {}", people(p)),
        EventType::i_a_rspd => format!("added responders, now {}", people(p)),
        EventType::i_snooze => match at("minutes") {
            m if m.is_empty() => "snoozed it".into(),
            m => format!("snoozed it for {m} minutes"),
        },
        EventType::i_wake => "woke it up".into(),
        EventType::i_ack => "acknowledged".into(),
        EventType::i_unack => "took back the acknowledgement".into(),
        EventType::i_storm => match at("threshold") {
            t if t.is_empty() => "many alerts".into(),
            t => format!("{t} alerts"),
        },
        EventType::i_custom => match (at("action.name"), at("action.status")) {
            (name, _) if name.is_empty() => "ran a custom action".into(),
            (name, status) => format!("ran the action {name} ({status})"),
        },
        EventType::i_rslv => match at("merged_into") {
            m if !m.is_empty() => format!("merged it into {m}"),
            _ => "resolved".into(),
        },
        EventType::i_reopen => "reopened".into(),
        EventType::i_merge => match at("merged_incident_ids") {
            ids if ids.is_empty() => "merged incidents into it".into(),
            ids => format!("merged {ids} into it"),
        },
        EventType::i_comm => match at("comment") {
            c if c.is_empty() => "commented".into(),
            c => format!("commented \"{}\"", shortened(&c)),
        },
        EventType::i_r_title => "changed the title".into(),
        EventType::i_r_desc => "changed the description".into(),
        EventType::i_r_impact => "changed the impact".into(),
        EventType::i_r_rc => "changed the root cause".into(),
        EventType::i_r_rsltn => "changed the resolution".into(),
        EventType::i_r_severity => {
            format!(
                "changed the severity to {}",
                at("incident.incident_severity")
            )
        }
        EventType::i_r_field => match at("field_name") {
            f if f.is_empty() => "changed a custom field".into(),
            f => format!("changed {f}"),
        },
        EventType::a_new => "appeared".into(),
        EventType::a_update => format!("is now {}", at("alert.alert_status")),
        EventType::a_merge => "joined an incident".into(),
        EventType::a_close => "closed it".into(),
    }
}

/// A comment may be 10,000 characters; a chat line should not be (Discord
/// refuses messages over 2,000).
const QUOTED_CHARS: usize = 300;

fn shortened(s: &str) -> String {
    match s.char_indices().nth(QUOTED_CHARS) {
        Some((cut, _)) => format!("{}…", &s[..cut]),
        None => s.to_string(),
    }
}

fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(text_of).collect::<Vec<_>>().join(", "),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: &str, extra: Value) -> Value {
        let mut e = json!({
            "event_type": kind,
            "person": {"person_id": 1, "person_name": "Ada", "email": "ada@example.com"},
            "incident": {"title": "Disk full on db-7", "incident_severity": "Critical", "progress": "Processing",
                         "channel_name": "Payments", "labels": {"host": "db-7"},
                         "detail_url": "http://h/console/incident?id=1",
                         "responders": [{"person_name": "Bob"}, {"person_name": "Carol"}]}
        });
        for (k, v) in extra.as_object().unwrap() {
            e[k] = v.clone();
        }
        e
    }

    #[test]
    fn says_who_did_what_to_which_incident() {
        let t = readable(&event("i_ack", json!({})));
        assert_eq!(t["headline"], "Ada acknowledged: Disk full on db-7");
        assert_eq!(t["summary"], "Critical · Processing · Payments · host=db-7");
        assert_eq!(t["link"], "http://h/console/incident?id=1");
        let t = readable(&event("i_assign", json!({})));
        assert_eq!(t["event"], "assigned Bob, Carol");
        let t = readable(&event("i_comm", json!({"comment": "on it"})));
        assert_eq!(t["headline"], "Ada commented \"on it\": Disk full on db-7");
        let mut automatic = event("i_new", json!({}));
        automatic.as_object_mut().unwrap().remove("person");
        assert_eq!(
            readable(&automatic)["headline"],
            "New incident: Disk full on db-7"
        );
    }

    #[test]
    fn every_event_type_has_words() {
        for kind in EventType::INCIDENT.iter().chain(EventType::ALERT.iter()) {
            let t = readable(&event(kind.as_str(), json!({})));
            let headline = t["headline"].as_str().unwrap();
            assert!(!headline.contains(kind.as_str()), "{kind:?}: {headline}");
            assert!(headline.contains("Disk full"), "{kind:?}: {headline}");
        }
    }

    #[test]
    fn templates_find_it_under_text() {
        let doc = with_readable(event("i_rslv", json!({})));
        let t = crate::template::Template::parse(r#"{"m": "{{text.headline}}"}"#).unwrap();
        assert_eq!(t.render(&doc)["m"], "Ada resolved: Disk full on db-7");
    }
}
