use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::ChannelId;
use crate::DomainError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Channel {
    #[schema(value_type = i64)]
    pub channel_id: ChannelId,
    pub channel_name: String,
    pub team_id: i64,
    pub description: String,
    pub grouping: Grouping,
    pub storm_thresholds: Vec<i64>,
    /// Who is mailed beyond the responders, and re-notify rounds.
    #[serde(default)]
    pub notify: crate::notify::ChannelNotify,
    pub created_at: i64,
}

/// How alerts of a channel group into incidents (`alerts.md`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Grouping {
    pub method: GroupingMethod,
    #[serde(default)]
    pub dimensions: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_minutes: Option<i64>,
    #[serde(default)]
    pub window_start: WindowStart,
    #[serde(default)]
    pub strict: bool,
}

/// `n`: every alert opens its own incident; `p`: alerts alike in the
/// grouping's dimensions share one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
pub enum GroupingMethod {
    #[default]
    #[serde(rename = "n")]
    EachAlert,
    #[serde(rename = "p")]
    ByRule,
}

impl GroupingMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupingMethod::EachAlert => "n",
            GroupingMethod::ByRule => "p",
        }
    }
}

/// What a grouping window is counted from: the incident's first alert, or
/// the latest alert that joined it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema, Default)]
#[serde(rename_all = "lowercase")]
pub enum WindowStart {
    #[default]
    Incident,
    Merge,
}

impl Default for Grouping {
    fn default() -> Self {
        Self {
            method: GroupingMethod::EachAlert,
            dimensions: vec![],
            window_minutes: None,
            window_start: WindowStart::Incident,
            strict: false,
        }
    }
}

pub fn validate_channel_name(name: &str) -> Result<String, DomainError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(DomainError::invalid(
            "channel_name",
            "must be 1 to 100 characters",
        ));
    }
    Ok(name.to_string())
}

pub fn validate_description(field: &str, text: &str, max_chars: usize) -> Result<(), DomainError> {
    if text.chars().count() > max_chars {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    Ok(())
}

pub fn validate_grouping(g: &Grouping) -> Result<(), DomainError> {
    if g.method == GroupingMethod::ByRule {
        if g.dimensions.is_empty() || g.dimensions.len() > 5 {
            return Err(DomainError::invalid(
                "grouping.dimensions",
                "rule-based grouping needs 1 to 5 dimensions",
            ));
        }
        for d in &g.dimensions {
            let ok = d == "title"
                || d == "description"
                || d.strip_prefix("labels.")
                    .is_some_and(crate::labels::is_label_name);
            if !ok {
                return Err(DomainError::invalid(
                    "grouping.dimensions",
                    format!("{d:?} is not one of title, description, labels.<name>"),
                ));
            }
        }
    }
    if let Some(w) = g.window_minutes {
        if !(1..=1440).contains(&w) {
            return Err(DomainError::invalid(
                "grouping.window_minutes",
                "must be from 1 to 1440",
            ));
        }
    }
    Ok(())
}

pub fn validate_storm_thresholds(t: &[i64]) -> Result<Vec<i64>, DomainError> {
    if t.len() > 5 {
        return Err(DomainError::invalid(
            "storm_thresholds",
            "at most 5 thresholds",
        ));
    }
    if let Some(bad) = t.iter().find(|v| !(2..=10_000).contains(*v)) {
        return Err(DomainError::invalid(
            "storm_thresholds",
            format!("{bad} is out of range: each threshold is from 2 to 10000"),
        ));
    }
    let mut sorted = t.to_vec();
    sorted.sort_unstable();
    sorted.dedup();
    Ok(sorted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grouping_rules() {
        assert!(validate_grouping(&Grouping::default()).is_ok());
        let mut g = Grouping {
            method: GroupingMethod::ByRule,
            dimensions: vec!["labels.host".into()],
            ..Default::default()
        };
        assert!(validate_grouping(&g).is_ok());
        g.dimensions = vec!["labels.bad-name".into()];
        assert!(validate_grouping(&g).is_err());
        g.dimensions = vec![];
        assert!(validate_grouping(&g).is_err());
        g.dimensions = vec!["title".into()];
        g.window_minutes = Some(0);
        assert!(validate_grouping(&g).is_err());
        g.window_minutes = Some(1440);
        assert!(validate_grouping(&g).is_ok());
    }

    #[test]
    fn storm_thresholds() {
        assert_eq!(
            validate_storm_thresholds(&[10, 2, 10]).unwrap(),
            vec![2, 10]
        );
        assert!(validate_storm_thresholds(&[1]).is_err());
        assert!(validate_storm_thresholds(&[10_001]).is_err());
        assert!(validate_storm_thresholds(&[2, 3, 4, 5, 6, 7]).is_err());
    }
}
