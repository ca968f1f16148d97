//! Answers that write back (`custom-actions.md`): a custom action's JSON
//! answer may set labels and custom fields, add a comment or links, or close
//! the incident, as far as the action's `write_back` allows. Everything is
//! checked first; when any part is invalid nothing of the answer applies.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use crate::field::FieldDef;
use crate::ids::IntegrationId;
use crate::incident::{Incident, Link};
use crate::labels::MAX_VALUE_CHARS;
use crate::ops::{comment, reset_field, resolve, update_labels, Resolution};
use crate::person::Person;
use crate::recorder::Recorder;
use crate::run::{Refusal, WriteBackKey, WriteBackReport, MESSAGE_CHARS};
use crate::DomainError;

pub const MAX_LINKS: usize = 20;
/// The timeline record of links an answer added (no event: links are not
/// among the fields an event reports a change of).
pub const LINKS_ADDED: &str = "i_links";
pub const LINK_TITLE_CHARS: usize = 80;
pub const LINK_URL_CHARS: usize = 2048;

/// An answer as read: its message, the write-back keys it asks for (allowed
/// by the action), and what was refused while reading it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Answer {
    pub message: Option<String>,
    pub wanted: Vec<(WriteBackKey, Value)>,
    /// Keys the action does not allow: listed, never applied, and they do
    /// not stop the others.
    pub not_allowed: Vec<Refusal>,
    /// Parts that are invalid in themselves: nothing applies when there is one.
    pub invalid: Vec<Refusal>,
}

/// Whether a `Content-Type` names JSON (`application/json`, `…+json`).
pub fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Reads a 2xx answer. A body that is not a JSON object is only text: no
/// message, nothing wanted.
pub fn read_answer(content_type: &str, body: &str, allowed: &[WriteBackKey]) -> Answer {
    if !is_json(content_type) {
        return Answer::default();
    }
    match serde_json::from_str::<Value>(body) {
        Ok(Value::Object(obj)) => read_object(obj, allowed, &[]),
        _ => Answer::default(),
    }
}

fn refusal(key: &str, reason: impl Into<String>) -> Refusal {
    Refusal {
        key: key.to_string(),
        reason: reason.into(),
    }
}

/// Reads the keys of an answer object; `skip` names keys that belong to the
/// caller (a callback's `status` and `progress`).
pub fn read_object(obj: Map<String, Value>, allowed: &[WriteBackKey], skip: &[&str]) -> Answer {
    let mut answer = Answer::default();
    for (key, value) in obj {
        if skip.contains(&key.as_str()) {
            continue;
        }
        if key == "message" {
            match value {
                Value::String(m) if m.chars().count() <= MESSAGE_CHARS => answer.message = Some(m),
                Value::String(_) => answer.invalid.push(refusal(
                    "message",
                    format!("must be at most {MESSAGE_CHARS} characters"),
                )),
                Value::Null => {}
                _ => answer.invalid.push(refusal("message", "must be a string")),
            }
            continue;
        }
        match WriteBackKey::parse(&key) {
            Some(k) if allowed.contains(&k) => answer.wanted.push((k, value)),
            Some(_) => answer
                .not_allowed
                .push(refusal(&key, "this action's write_back does not allow it")),
            // An action that writes nothing back may answer what it likes.
            None if allowed.is_empty() => {}
            None => answer.not_allowed.push(refusal(
                &key,
                "not a write-back key (labels, fields, comment, links, resolve, message)",
            )),
        }
    }
    // Applied in the contract's order, whatever the answer's.
    answer.wanted.sort_by_key(|(k, _)| *k);
    answer
}

/// Who and what an answer acts for.
pub struct Applying<'a> {
    pub defs: &'a [FieldDef],
    pub action_id: IntegrationId,
    pub action_name: &'a str,
    pub by: &'a Person,
}

/// Applies everything the answer wants, or nothing when any part is invalid.
pub fn apply(
    inc: &mut Incident,
    answer: &Answer,
    who: &Applying,
    rec: &mut Recorder,
) -> WriteBackReport {
    let mut next = inc.clone();
    let mut scratch = rec.clone();
    let mut invalid = answer.invalid.clone();
    let mut applied = vec![];
    for (key, value) in &answer.wanted {
        match apply_one(&mut next, *key, value, who, &mut scratch) {
            Ok(()) => applied.push(*key),
            Err(reason) => invalid.push(refusal(key.as_str(), reason)),
        }
    }
    let mut refused = answer.not_allowed.clone();
    if invalid.is_empty() {
        *inc = next;
        *rec = scratch;
    } else {
        applied.clear();
        refused.extend(invalid);
    }
    WriteBackReport { applied, refused }
}

/// The message a person reads for a broken rule, without the field prefix
/// (the key of the refusal names it).
fn reason(e: DomainError) -> String {
    match e {
        DomainError::InvalidParameter { field, message } => format!("{field}: {message}"),
        other => other.to_string(),
    }
}

fn apply_one(
    inc: &mut Incident,
    key: WriteBackKey,
    value: &Value,
    who: &Applying,
    rec: &mut Recorder,
) -> Result<(), String> {
    match key {
        WriteBackKey::Labels => apply_labels(inc, value, who, rec),
        WriteBackKey::Fields => apply_fields(inc, value, who, rec),
        WriteBackKey::Comment => apply_comment(inc, value, who, rec),
        WriteBackKey::Links => apply_links(inc, value, who, rec),
        WriteBackKey::Resolve => apply_resolve(inc, value, who, rec),
    }
}

fn apply_labels(
    inc: &mut Incident,
    value: &Value,
    who: &Applying,
    rec: &mut Recorder,
) -> Result<(), String> {
    let Value::Object(obj) = value else {
        return Err("must be an object of label names to text (or null to remove)".into());
    };
    let mut set = BTreeMap::new();
    let mut remove = vec![];
    for (k, v) in obj {
        match v {
            Value::String(s) if s.chars().count() > MAX_VALUE_CHARS => {
                return Err(format!(
                    "the value of {k:?} is longer than {MAX_VALUE_CHARS} characters"
                ))
            }
            Value::String(s) => {
                set.insert(k.clone(), s.clone());
            }
            Value::Null => remove.push(k.clone()),
            _ => {
                return Err(format!(
                    "the value of {k:?} must be text, or null to remove it"
                ))
            }
        }
    }
    update_labels(inc, &set, &remove, who.by, rec).map_err(reason)
}

fn apply_fields(
    inc: &mut Incident,
    value: &Value,
    who: &Applying,
    rec: &mut Recorder,
) -> Result<(), String> {
    let Value::Object(obj) = value else {
        return Err("must be an object of custom field names to values".into());
    };
    for (name, v) in obj {
        let def = who
            .defs
            .iter()
            .find(|d| &d.field_name == name)
            .ok_or_else(|| format!("no custom field named {name:?}"))?;
        reset_field(inc, def, v, who.by, rec).map_err(|e| format!("{name}: {}", reason(e)))?;
    }
    Ok(())
}

fn apply_comment(
    inc: &mut Incident,
    value: &Value,
    who: &Applying,
    rec: &mut Recorder,
) -> Result<(), String> {
    let Value::String(text) = value else {
        return Err("must be text".into());
    };
    comment(std::slice::from_mut(inc), text, who.by, rec).map_err(reason)?;
    // Marked as written by the action, for the timeline to say so.
    if let Some(entry) = rec.timeline.last_mut() {
        entry.detail["action_id"] = json!(who.action_id);
        entry.detail["action_name"] = json!(who.action_name);
    }
    Ok(())
}

fn check_url(url: &str) -> Result<(), String> {
    let lower = url.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"))
        .ok_or_else(|| format!("url {url:?} must start with http:// or https://"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() {
        return Err(format!("url {url:?} has no host"));
    }
    if url.chars().count() > LINK_URL_CHARS {
        return Err(format!("a url is longer than {LINK_URL_CHARS} characters"));
    }
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(format!("url {url:?} contains spaces or control characters"));
    }
    Ok(())
}

fn read_link(v: &Value, action_id: IntegrationId) -> Result<Link, String> {
    let (Some(title), Some(url)) = (v["title"].as_str(), v["url"].as_str()) else {
        return Err("each link is {title, url}, both text".into());
    };
    let n = title.trim().chars().count();
    if n == 0 || n > LINK_TITLE_CHARS || title.chars().any(char::is_control) {
        return Err(format!(
            "a link title must be 1 to {LINK_TITLE_CHARS} characters without control characters"
        ));
    }
    check_url(url)?;
    Ok(Link {
        title: title.trim().to_string(),
        url: url.to_string(),
        action_id,
    })
}

fn apply_links(
    inc: &mut Incident,
    value: &Value,
    who: &Applying,
    rec: &mut Recorder,
) -> Result<(), String> {
    let Value::Array(items) = value else {
        return Err("must be a list of {title, url}".into());
    };
    let added = items
        .iter()
        .map(|v| read_link(v, who.action_id))
        .collect::<Result<Vec<_>, _>>()?;
    let mut links = inc.links.clone();
    for link in &added {
        match links.iter_mut().find(|l| l.url == link.url) {
            Some(same) => *same = link.clone(),
            None => links.push(link.clone()),
        }
    }
    if links.len() > MAX_LINKS {
        return Err(format!(
            "an incident holds at most {MAX_LINKS} links; this answer would leave {}",
            links.len()
        ));
    }
    if links == inc.links {
        return Ok(());
    }
    inc.links = links;
    inc.updated_at = rec.now_s();
    let detail =
        json!({"links": added, "action_id": who.action_id, "action_name": who.action_name});
    rec.note(inc, LINKS_ADDED, Some(who.by), detail);
    Ok(())
}

fn apply_resolve(
    inc: &mut Incident,
    value: &Value,
    who: &Applying,
    rec: &mut Recorder,
) -> Result<(), String> {
    let Value::Object(obj) = value else {
        return Err("must be an object {resolution?, root_cause?}".into());
    };
    let text = |k: &str| -> Result<Option<String>, String> {
        match obj.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(format!("{k} must be text")),
        }
    };
    if let Some(k) = obj
        .keys()
        .find(|k| !["resolution", "root_cause"].contains(&k.as_str()))
    {
        return Err(format!("{k:?} is not one of resolution, root_cause"));
    }
    let texts = Resolution {
        resolution: text("resolution")?,
        root_cause: text("root_cause")?,
    };
    resolve(std::slice::from_mut(inc), &texts, who.by, rec).map_err(|e| match e {
        DomainError::InvalidParameter { message, .. } => message,
        other => other.to_string(),
    })
}
