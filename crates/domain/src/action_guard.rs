//! The guardrails of a custom action (`custom-actions.md`, "Guardrails"):
//! where it shows, who approves its runs, and how often it may run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::incident::Incident;
use crate::run::RunStatus;
use crate::severity::{Progress, Severity};
use crate::DomainError;

pub const APPROVAL_EXPIRES_S: std::ops::RangeInclusive<i64> = 60..=86_400;
pub const DEFAULT_APPROVAL_EXPIRES_S: i64 = 3600;
pub const COOLDOWN_S: std::ops::RangeInclusive<i64> = 0..=86_400;
pub const RUNS_PER_HOUR: std::ops::RangeInclusive<i64> = 0..=10_000;

fn default_expires() -> i64 {
    DEFAULT_APPROVAL_EXPIRES_S
}

/// A run waits until a second person approves it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Approval {
    /// Only members of this team (and admins) may approve; 0: any member.
    #[serde(default)]
    pub team_id: i64,
    /// 60 to 86400, default 3600: unanswered this long, the run is `expired`.
    #[serde(default = "default_expires")]
    pub expires_s: i64,
}

/// A label condition: one value, or any of several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum LabelValues {
    One(String),
    Any(Vec<String>),
}

impl LabelValues {
    fn holds(&self, value: &str) -> bool {
        match self {
            LabelValues::One(v) => v == value,
            LabelValues::Any(vs) => vs.iter().any(|v| v == value),
        }
    }

    fn text(&self) -> String {
        match self {
            LabelValues::One(v) => v.clone(),
            LabelValues::Any(vs) => vs.join(" or "),
        }
    }
}

/// Where an action shows and may run: every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ShowWhen {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub severities: Vec<Severity>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub progress: Vec<Progress>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, LabelValues>,
}

impl ShowWhen {
    pub fn validate(&self) -> Result<(), DomainError> {
        for (key, values) in &self.labels {
            if key.is_empty() || key.chars().count() > 128 {
                return Err(DomainError::invalid(
                    "show_when.labels",
                    "label keys are 1 to 128 characters",
                ));
            }
            if matches!(values, LabelValues::Any(vs) if vs.is_empty() || vs.len() > 50) {
                return Err(DomainError::invalid(
                    format!("show_when.labels.{key}"),
                    "lists 1 to 50 values",
                ));
            }
        }
        Ok(())
    }

    /// The first condition `incident` does not meet, as the refusal names it.
    pub fn unmet(&self, incident: &Incident) -> Option<DomainError> {
        let severity = incident.incident_severity;
        one_of("severities", &self.severities, severity, Severity::as_str)
            .or_else(|| {
                one_of(
                    "progress",
                    &self.progress,
                    incident.progress,
                    Progress::as_str,
                )
            })
            .or_else(|| self.unmet_label(incident))
    }

    fn unmet_label(&self, incident: &Incident) -> Option<DomainError> {
        for (key, values) in &self.labels {
            let have = incident.labels.get(key);
            if !have.is_some_and(|v| values.holds(v)) {
                return Some(DomainError::invalid(
                    format!("show_when.labels.{key}"),
                    format!(
                        "the action runs only where label {key} is {}; here it is {}",
                        values.text(),
                        have.map_or("not set".to_string(), |v| v.clone())
                    ),
                ));
            }
        }
        None
    }
}

/// Refuses `have` when `allowed` is given and does not hold it.
fn one_of<T: PartialEq + Copy>(
    field: &str,
    allowed: &[T],
    have: T,
    name: fn(T) -> &'static str,
) -> Option<DomainError> {
    if allowed.is_empty() || allowed.contains(&have) {
        return None;
    }
    let names: Vec<&str> = allowed.iter().map(|x| name(*x)).collect();
    Some(DomainError::invalid(
        format!("show_when.{field}"),
        format!(
            "the action runs only on {} incidents; this one is {}",
            names.join(", "),
            name(have)
        ),
    ))
}

/// Runs in these statuses start a cooldown on their incident; a failed,
/// timed-out, cancelled, rejected or expired one lets a person press again.
pub const COOLDOWN_STATUSES: [RunStatus; 3] = [
    RunStatus::Running,
    RunStatus::Succeeded,
    RunStatus::AwaitingApproval,
];

/// Runs in these statuses called nothing and never will: the hourly cap
/// counts every other run.
pub const UNCAPPED_STATUSES: [RunStatus; 2] = [RunStatus::Rejected, RunStatus::Expired];

/// How often an action may run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct RateRule {
    /// After a run on an incident, none on that incident for this long.
    pub cooldown_s: i64,
    /// Runs across all incidents in any sliding hour; 0: no cap.
    pub max_runs_per_hour: i64,
}

impl RateRule {
    pub fn is_none(&self) -> bool {
        self.cooldown_s == 0 && self.max_runs_per_hour == 0
    }

    /// When a new run may start (Unix ms), given the creation times (ms) of
    /// the runs that count: those on this incident towards the cooldown,
    /// and those of the action towards the cap. `None`: it may start now.
    pub fn next_allowed(
        &self,
        now_ms: i64,
        incident_runs: &[i64],
        action_runs: &[i64],
    ) -> Option<i64> {
        let cooldown_ms = self.cooldown_s * 1000;
        let cooled = incident_runs
            .iter()
            .filter(|&&t| t > now_ms - cooldown_ms)
            .map(|t| t + cooldown_ms)
            .max();
        let capped = match self.max_runs_per_hour {
            0 => None,
            cap => {
                let mut window: Vec<i64> = action_runs
                    .iter()
                    .copied()
                    .filter(|&t| t > now_ms - 3_600_000)
                    .collect();
                window.sort_unstable();
                let over = window.len() as i64 - cap;
                // The run that must leave the window before another may start.
                (over >= 0).then(|| window[over as usize] + 3_600_000)
            }
        };
        cooled.into_iter().chain(capped).max()
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn cooldown_and_cap() {
        let rule = RateRule {
            cooldown_s: 60,
            max_runs_per_hour: 2,
        };
        let now = 10_000_000;
        assert_eq!(rule.next_allowed(now, &[], &[]), None);
        assert_eq!(
            rule.next_allowed(now, &[now - 10_000], &[]),
            Some(now + 50_000)
        );
        assert_eq!(rule.next_allowed(now, &[now - 60_000], &[]), None);
        let hour = [now - 3_000_000, now - 1_000_000];
        assert_eq!(rule.next_allowed(now, &[], &hour), Some(now + 600_000));
        assert_eq!(rule.next_allowed(now, &[], &hour[1..]), None);
    }

    proptest! {
        /// Whatever the history, a run started when the rule allows keeps
        /// every sliding hour within the cap.
        #[test]
        fn the_cap_holds_in_every_hour(cap in 1i64..5, gaps in proptest::collection::vec(0i64..2_000_000, 1..30)) {
            let rule = RateRule { cooldown_s: 0, max_runs_per_hour: cap };
            let mut runs: Vec<i64> = vec![];
            let mut now = 0;
            for gap in gaps {
                now += gap;
                if rule.next_allowed(now, &[], &runs).is_none_or(|t| t <= now) {
                    runs.push(now);
                }
                let in_hour = runs.iter().filter(|&&t| t > now - 3_600_000).count() as i64;
                prop_assert!(in_hour <= cap);
            }
        }
    }
}
