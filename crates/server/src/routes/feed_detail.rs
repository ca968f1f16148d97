//! What a timeline record's `detail` may hold, for the document: the keys
//! of every record type, each present only on the types that write it
//! (`tests/api/feed_details.rs` checks the feed never gives an undeclared
//! one). The records themselves are written by the domain as JSON.

#![allow(dead_code)]

use dutyhook_domain::incident::Link;
use dutyhook_domain::run::WriteBackReport;
use serde_json::Value;
use utoipa::ToSchema;

/// A timeline record's detail; which keys it holds depends on its `type`.
#[derive(ToSchema)]
pub struct FeedDetail {
    /// `i_new`: the severity it was created with; `a_*`: the alert's.
    severity: Option<String>,
    /// `i_new`: the title it was created with; `a_*`: the alert's.
    title: Option<String>,
    /// `a_merge` (an alert joined), `a_recover` (it recovered), `a_close`
    /// (closed by hand): which alert.
    alert_id: Option<String>,
    /// `i_r_*`, `i_r_field`: the value before; `i_rslv`: `console` (by a
    /// person) or `autorslv` (its alerts recovered).
    #[schema(value_type = Option<serde_json::Value>)]
    from: Option<Value>,
    /// `i_r_*`, `i_r_field`: the value after; `i_assign`, `i_a_rspd`: the
    /// people assigned or added (ids); `i_notify`: the people mailed, each
    /// `{person_id, person_name}`.
    #[schema(value_type = Option<serde_json::Value>)]
    to: Option<Value>,
    /// `i_notify`: how people were told (`email`).
    via: Option<String>,
    /// `i_notify`: the re-notify round (1 to 3), absent for the first mail.
    round: Option<i64>,
    /// `i_notify`: the channel's team, when it was mailed.
    team_name: Option<String>,
    /// `i_r_field`: the custom field changed.
    field_name: Option<String>,
    /// `i_assign`: `assign` or `reassign`.
    #[schema(rename = "type")]
    kind: Option<String>,
    /// `i_assign`: the people the assignment names.
    person_ids: Option<Vec<i64>>,
    /// `i_assign`: Unix seconds.
    assigned_at: Option<i64>,
    /// `i_assign`: the hosted product's escalation fields, always empty.
    id: Option<String>,
    escalate_rule_id: Option<String>,
    escalate_rule_name: Option<String>,
    layer_idx: Option<i64>,
    /// `i_snooze`: for how long.
    minutes: Option<i64>,
    /// `i_storm`: the alert count reached.
    threshold: Option<i64>,
    /// `i_wake`: when the snooze would have ended (Unix seconds).
    #[schema(rename = "snoozedBefore")]
    snoozed_before: Option<i64>,
    /// `i_comm`: the comment.
    comment: Option<String>,
    /// `i_reopen`: why.
    reason: Option<String>,
    /// `i_rslv` of a merged incident: the incident it was merged into.
    merged_into: Option<String>,
    /// `i_merge`: the incidents merged in, each `{incident_id, title, progress}`.
    #[schema(value_type = Option<Vec<Object>>)]
    source_incidents: Option<Vec<Value>>,
    /// `i_merge`: the incident they were merged into, `{incident_id, title, progress}`.
    #[schema(value_type = Option<Object>)]
    target_incident: Option<Value>,
    /// `i_merge`: who merged.
    owner_id: Option<i64>,
    /// `i_merge`: the ids of the incidents merged in.
    merged_incident_ids: Option<Vec<String>>,
    /// `i_labels`: the labels set.
    labels: Option<std::collections::BTreeMap<String, String>>,
    /// `i_labels`: the label keys removed.
    remove_keys: Option<Vec<String>>,
    /// `i_custom`, `i_links`: the action (its `integration_id`).
    action_id: Option<i64>,
    /// `i_links`: the action's name.
    action_name: Option<String>,
    /// `i_links`: the links an answer added.
    links: Option<Vec<Link>>,
    /// `i_custom`: the action, as the hosted product names it.
    integration_id: Option<i64>,
    integration_name: Option<String>,
    /// `i_custom`: the action's name when pressed.
    name: Option<String>,
    /// `i_custom`: the run.
    run_id: Option<String>,
    /// `i_custom`: the run's status; `a_*`: the alert's (`Critical` … `Ok`).
    status: Option<String>,
    /// `i_custom`: the answer's message or first line, or why the call failed.
    message: Option<String>,
    /// `i_custom`: the endpoint's HTTP status, when it answered.
    status_code: Option<i64>,
    /// `i_custom`: the failure class and text, when the call failed.
    error_class: Option<String>,
    error: Option<String>,
    /// `i_custom`: what the answer wrote back, and what it was refused.
    write_back: Option<WriteBackReport>,
}
