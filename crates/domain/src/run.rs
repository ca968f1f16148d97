//! A run: one trigger of a custom action, from the press to how it ended
//! (`custom-actions.md`, "Runs"). Every trigger makes one, sync or async,
//! success or failure.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use utoipa::ToSchema;

use crate::ids::{new_object_id, IncidentId, IntegrationId, RunId};
use crate::person::Person;

/// A run's message is cut to this many characters (an answer's `message`
/// longer than this is refused by the answer's rules instead).
pub const MESSAGE_CHARS: usize = 1000;

/// What an endpoint's answer may change on the incident.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum WriteBackKey {
    Labels,
    Fields,
    Comment,
    Links,
    Resolve,
}

impl WriteBackKey {
    pub const ALL: [WriteBackKey; 5] = [
        WriteBackKey::Labels,
        WriteBackKey::Fields,
        WriteBackKey::Comment,
        WriteBackKey::Links,
        WriteBackKey::Resolve,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            WriteBackKey::Labels => "labels",
            WriteBackKey::Fields => "fields",
            WriteBackKey::Comment => "comment",
            WriteBackKey::Links => "links",
            WriteBackKey::Resolve => "resolve",
        }
    }

    pub fn parse(key: &str) -> Option<WriteBackKey> {
        Self::ALL.into_iter().find(|k| k.as_str() == key)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    AwaitingApproval,
    Rejected,
    Expired,
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Cancelled,
}

impl RunStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RunStatus::AwaitingApproval => "awaiting_approval",
            RunStatus::Rejected => "rejected",
            RunStatus::Expired => "expired",
            RunStatus::Running => "running",
            RunStatus::Succeeded => "succeeded",
            RunStatus::Failed => "failed",
            RunStatus::TimedOut => "timed_out",
            RunStatus::Cancelled => "cancelled",
        }
    }

    /// Whether nothing can change the run any more.
    pub fn is_final(self) -> bool {
        !matches!(self, RunStatus::AwaitingApproval | RunStatus::Running)
    }
}

/// A key of an answer that was not applied, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Refusal {
    pub key: String,
    pub reason: String,
}

/// What an answer changed on the incident, and what it was refused.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct WriteBackReport {
    pub applied: Vec<WriteBackKey>,
    pub refused: Vec<Refusal>,
}

impl WriteBackReport {
    pub fn is_empty(&self) -> bool {
        self.applied.is_empty() && self.refused.is_empty()
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Run {
    #[schema(value_type = String)]
    pub run_id: RunId,
    /// The action's `integration_id`.
    #[schema(value_type = i64)]
    pub action_id: IntegrationId,
    /// The action's name when it was pressed.
    pub name: String,
    #[schema(value_type = String)]
    pub incident_id: IncidentId,
    pub status: RunStatus,
    pub requested_by: Person,
    pub approved_by: Option<Person>,
    #[schema(value_type = std::collections::HashMap<String, serde_json::Value>)]
    pub inputs: Map<String, Value>,
    /// The answer's `message`, or its first line, or why the call failed.
    pub message: String,
    /// 0–100, as last reported.
    pub progress: i64,
    pub write_back: WriteBackReport,
    /// Unix seconds.
    pub created_at: i64,
    pub updated_at: i64,
    /// 0 while the run is not final.
    pub finished_at: i64,
    /// The calls made for it, in the action's invocation history.
    pub invocation_ids: Vec<String>,
    /// `async` runs: when a run still running becomes `timed_out` (Unix
    /// seconds); 0 for `sync` runs.
    #[serde(default)]
    pub deadline: i64,
    /// `async` runs: the SHA-256 (hex) of the callback token; kept by the
    /// store beside the run, never shown.
    #[serde(skip)]
    #[schema(ignore)]
    pub token_hash: String,
    /// Creation in milliseconds: orders runs made in the same second.
    #[serde(default)]
    #[schema(ignore)]
    pub created_ms: i64,
}

impl Run {
    pub fn new(
        action_id: IntegrationId,
        name: &str,
        incident_id: &IncidentId,
        requested_by: &Person,
        now_ms: i64,
    ) -> Run {
        let now_s = now_ms.div_euclid(1000);
        Run {
            run_id: RunId::from(new_object_id(now_s)),
            action_id,
            name: name.to_string(),
            incident_id: incident_id.clone(),
            status: RunStatus::Running,
            requested_by: requested_by.clone(),
            approved_by: None,
            inputs: Map::new(),
            message: String::new(),
            progress: 0,
            write_back: WriteBackReport::default(),
            created_at: now_s,
            updated_at: now_s,
            finished_at: 0,
            invocation_ids: vec![],
            deadline: 0,
            token_hash: String::new(),
            created_ms: now_ms,
        }
    }

    /// Moves the run to `status` at `now_s`.
    pub fn set_status(&mut self, status: RunStatus, now_s: i64) {
        self.status = status;
        self.updated_at = now_s;
        if status.is_final() {
            self.finished_at = now_s;
            if status == RunStatus::Succeeded {
                self.progress = 100;
            }
        }
    }
}

/// The first line of `text`, trimmed and cut to the message limit.
pub fn first_line(text: &str) -> String {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty());
    crate::labels::truncate(line.unwrap_or(""), MESSAGE_CHARS)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn final_statuses() {
        for s in [RunStatus::AwaitingApproval, RunStatus::Running] {
            assert!(!s.is_final(), "{s:?}");
        }
        for s in [
            RunStatus::Rejected,
            RunStatus::Expired,
            RunStatus::Succeeded,
            RunStatus::Failed,
            RunStatus::TimedOut,
            RunStatus::Cancelled,
        ] {
            assert!(s.is_final(), "{s:?}");
            assert_eq!(json!(s), json!(s.as_str()));
        }
    }

    #[test]
    fn first_lines() {
        assert_eq!(
            first_line("\n  restarted db-7  \nuptime 3s"),
            "restarted db-7"
        );
        assert_eq!(first_line(""), "");
        assert_eq!(first_line(&"x".repeat(2000)).len(), MESSAGE_CHARS);
    }
}
