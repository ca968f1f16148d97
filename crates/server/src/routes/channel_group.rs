//! The hosted product's channel settings: `group`, read as dutyhook's
//! `grouping` (and `storm_thresholds`), and the settings of features
//! dutyhook does not have. What maps is applied; what dutyhook does not do
//! is refused naming the field.

use dutyhook_domain::channel::{
    validate_grouping, validate_storm_thresholds, Grouping, GroupingMethod, WindowStart,
};
use dutyhook_domain::DomainError;
use serde::Deserialize;
use serde_json::Value;
use utoipa::ToSchema;

use super::choices::{blank_is_none, ProductGroupMethod, ProductWindowType};
use super::unsupported;
use crate::error::ApiError;

/// `group` as the hosted product's `/channel/create` takes it.
#[derive(Deserialize, ToSchema)]
pub struct ProductGroup {
    /// `n`: every alert its own incident; `p`: by `equals`; `i` is not supported.
    pub method: ProductGroupMethod,
    /// One list of keys (`title`, `description`, `labels.<name>`).
    pub equals: Option<Vec<Vec<String>>>,
    /// Seconds; alerts group only within it (rounded up to minutes).
    pub time_window: Option<i64>,
    /// `tumbling` (from the incident's creation, default) or `sliding`
    /// (restarting at each alert that joins).
    #[serde(default, deserialize_with = "blank_is_none")]
    pub window_type: Option<ProductWindowType>,
    /// true: an empty key value never matches.
    pub all_equals_required: Option<bool>,
    pub storm_threshold: Option<i64>,
    pub storm_thresholds: Option<Vec<i64>>,
    /// Not supported (refused when not empty).
    #[schema(value_type = Option<Vec<Object>>)]
    pub cases: Option<Vec<Value>>,
    /// Not supported (refused when not empty).
    pub i_keys: Option<Vec<String>>,
}

/// The grouping and storm thresholds `group` stands for.
pub fn from_product(g: &ProductGroup) -> Result<(Grouping, Option<Vec<i64>>), ApiError> {
    let method = match g.method {
        ProductGroupMethod::EachAlert => GroupingMethod::EachAlert,
        ProductGroupMethod::ByRule => GroupingMethod::ByRule,
        ProductGroupMethod::Intelligent => {
            return Err(ApiError::invalid(
                "group.method",
                "\"i\" (intelligent grouping) is not supported: use \"p\" with equals",
            ))
        }
    };
    let cases = g.cases.as_ref().is_some_and(|c| !c.is_empty());
    unsupported("group.cases", cases, "group by equals")?;
    let i_keys = g.i_keys.as_ref().is_some_and(|k| !k.is_empty());
    unsupported("group.i_keys", i_keys, "there is no intelligent grouping")?;
    let equals = g.equals.clone().unwrap_or_default();
    if equals.len() > 1 {
        return Err(ApiError::invalid(
            "group.equals",
            "dutyhook groups by one list of keys: give one",
        ));
    }
    let window_minutes = match g.time_window {
        None | Some(0) => None,
        Some(s) if s < 0 => {
            return Err(ApiError::invalid(
                "group.time_window",
                "must be 0 or more seconds",
            ))
        }
        Some(s) => Some((s + 59) / 60),
    };
    let window_start = match g.window_type {
        None | Some(ProductWindowType::Tumbling) => WindowStart::Incident,
        Some(ProductWindowType::Sliding) => WindowStart::Merge,
    };
    let grouping = Grouping {
        method,
        dimensions: equals.into_iter().next().unwrap_or_default(),
        window_minutes,
        window_start,
        strict: g.all_equals_required.unwrap_or(false),
    };
    validate_grouping(&grouping).map_err(renamed)?;
    let storms = match (g.storm_threshold, &g.storm_thresholds) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "group.storm_threshold",
                "give storm_threshold or storm_thresholds, not both",
            ))
        }
        (Some(t), None) => Some(vec![t]),
        (None, Some(t)) => Some(t.clone()),
        (None, None) => None,
    };
    let storms = storms
        .map(|t| validate_storm_thresholds(&t))
        .transpose()
        .map_err(|e| renamed_to(e, "group.storm_thresholds"))?;
    Ok((grouping, storms))
}

/// A grouping error, named as the product's field the value came from.
fn renamed(e: DomainError) -> ApiError {
    let field = match &e {
        DomainError::InvalidParameter { field, .. } if field.ends_with("window_minutes") => {
            "group.time_window"
        }
        _ => "group.equals",
    };
    renamed_to(e, field)
}

fn renamed_to(e: DomainError, field: &str) -> ApiError {
    match e {
        DomainError::InvalidParameter { message, .. } => ApiError::invalid(field, message),
        other => other.into(),
    }
}
