pub mod accounts;
pub mod action_presses;
pub mod actions;
pub mod alert_lookups;
pub mod alert_reads;
pub mod alerts;
pub mod channel_group;
pub mod channels;
pub mod choices;
pub mod credentials;
pub mod directory;
pub mod email;
pub mod feed;
pub mod feed_detail;
pub mod fields;
pub mod history;
pub mod incident_grouping;
pub mod incident_ops;
pub mod incident_reads;
pub mod incidents;
pub mod integration;
pub mod integration_health;
pub mod lookups;
pub mod replays;
pub mod runs;
pub mod samples;
pub mod source_admin;
pub mod system;
pub mod webhook_history;
pub mod webhook_presets;
pub mod webhook_preview;
pub mod webhook_test;
pub mod webhooks;

use dutyhook_store::{Listing, Page};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

pub const TAG_PEOPLE: &str = "People, teams, keys, channels, fields";
pub const TAG_INCIDENTS: &str = "Incidents";
pub const TAG_SYSTEM: &str = "System";
pub const TAG_ALERTS: &str = "Alerts and alert sources";

/// `p` from 1, `limit` from 1 to 100 (default 20).
#[derive(Debug, Deserialize, ToSchema, Default)]
pub struct Paging {
    #[schema(minimum = 1)]
    pub p: Option<i64>,
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
}

impl Paging {
    pub fn page(&self) -> Result<Page, ApiError> {
        let p = self.p.unwrap_or(1);
        let limit = self.limit.unwrap_or(20);
        if p < 1 {
            return Err(ApiError::invalid(
                "p",
                format!("must be 1 or more, got {p}"),
            ));
        }
        if !(1..=100).contains(&limit) {
            return Err(ApiError::invalid(
                "limit",
                format!("must be from 1 to 100, got {limit}"),
            ));
        }
        if p.checked_mul(limit).is_none_or(|n| n > 1_000_000_000) {
            return Err(ApiError::invalid("p", "is too large"));
        }
        Ok(Page { p, limit })
    }
}

#[derive(Serialize, ToSchema)]
pub struct ListData<T: ToSchema> {
    pub items: Vec<T>,
    pub total: i64,
    pub has_next_page: bool,
}

impl<T: ToSchema> ListData<T> {
    pub fn from<S>(listing: Listing<S>, page: Page, f: impl FnMut(S) -> T) -> Self {
        let has_next_page = listing.has_next_page(page);
        ListData {
            items: listing.items.into_iter().map(f).collect(),
            total: listing.total,
            has_next_page,
        }
    }
}

/// `start_time` and `end_time` of a listing: both required, Unix seconds
/// from 0, the end after the start.
pub fn time_range(start: Option<i64>, end: Option<i64>) -> Result<(i64, i64), ApiError> {
    let start =
        start.ok_or_else(|| ApiError::invalid("start_time", "is required (Unix seconds)"))?;
    let end = end.ok_or_else(|| ApiError::invalid("end_time", "is required (Unix seconds)"))?;
    if start < 0 || end <= start {
        return Err(ApiError::invalid(
            "end_time",
            "must be after start_time, both Unix seconds ≥ 0",
        ));
    }
    Ok((start, end))
}

pub fn positive_id<T: Copy + Into<i64>>(field: &str, id: T) -> Result<T, ApiError> {
    let n: i64 = id.into();
    if n <= 0 {
        return Err(ApiError::invalid(
            field,
            format!("must be a positive id, got {n}"),
        ));
    }
    Ok(id)
}

/// A field of the hosted product's request that dutyhook cannot honour: set
/// to anything but its "no restriction" value, the call is refused naming
/// it, rather than answered as if it had been applied.
pub fn unsupported(field: &str, set: bool, why: &str) -> Result<(), ApiError> {
    if set {
        return Err(ApiError::invalid(
            field,
            format!("is not supported by dutyhook ({why}); leave it out"),
        ));
    }
    Ok(())
}
