//! An incident's timeline (`/incident/feed`), in the hosted product's feed
//! shape: times in milliseconds, `creator_id` (0 for dutyhook itself),
//! `ref_id`, and a `detail` per type (`from`/`to` for edits, `to` for
//! assignments, the action for `i_custom`, …).

use axum::extract::State;
use dutyhook_domain::alert::ALERT_RECORDS;
use dutyhook_domain::event::EventType;
use dutyhook_domain::ids::IncidentId;
use dutyhook_domain::notify::NOTIFIED;
use dutyhook_domain::ops::MERGE_DISABLED;
use dutyhook_domain::person::Person;
use dutyhook_domain::timeline::TimelineEntry;
use dutyhook_domain::write_back::LINKS_ADDED;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::openapi::schema::Array;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::choices::name_list_schema;
use super::feed_detail::FeedDetail;
use super::incidents::{existing, incident_id};
use super::{Paging, TAG_INCIDENTS};
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

/// Feed types of the hosted product that dutyhook never writes; a filter on
/// them is valid and matches nothing.
const PRODUCT_ONLY_TYPES: &[&str] = &[
    "i_m_flapping",
    "i_m_reply",
    "i_wr_create",
    "i_wr_delete",
    "i_auto_refresh",
];
/// A timeline record without an event: a label enrichment.
const LABELS: &str = "i_labels";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(incident_feed))
}

#[derive(Deserialize, ToSchema)]
pub struct IncidentFeed {
    #[schema(pattern = "^[0-9a-f]{24}$")]
    #[schema(value_type = String)]
    pub incident_id: IncidentId,
    #[schema(minimum = 1)]
    pub p: Option<i64>,
    #[schema(minimum = 1, maximum = 100)]
    pub limit: Option<i64>,
    /// Oldest first when true; newest first by default.
    pub asc: Option<bool>,
    #[schema(schema_with = feed_types_schema)]
    pub types: Option<Vec<String>>,
}

/// One timeline record.
#[derive(Serialize, ToSchema)]
pub struct FeedItem {
    /// The incident's id.
    #[schema(value_type = String)]
    pub ref_id: IncidentId,
    /// The event type (`i_ack`, …) or `i_labels`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Who did it; 0 when dutyhook did (snooze expiry, alerts recovering).
    pub creator_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person: Option<Person>,
    pub account_id: i64,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds (= `created_at`: records do not change).
    pub updated_at: i64,
    #[schema(value_type = FeedDetail)]
    pub detail: Value,
}

impl FeedItem {
    fn from(e: TimelineEntry, account_id: i64) -> Self {
        FeedItem {
            creator_id: e.person.as_ref().map_or(0, |p| p.person_id.0),
            ref_id: e.incident_id,
            kind: e.kind,
            person: e.person,
            account_id,
            created_at: e.created_at,
            updated_at: e.created_at,
            detail: e.detail,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct FeedData {
    pub items: Vec<FeedItem>,
    pub total: i64,
    pub has_next_page: bool,
}

/// What a feed may be filtered by: every incident event type, the records
/// without an event, and the hosted product's types.
fn feed_type_names() -> Vec<&'static str> {
    EventType::INCIDENT
        .iter()
        .map(|t| t.as_str())
        .chain([LABELS, MERGE_DISABLED, LINKS_ADDED, NOTIFIED])
        .chain(ALERT_RECORDS)
        .chain(PRODUCT_ONLY_TYPES.iter().copied())
        .collect()
}

fn feed_types_schema() -> Array {
    name_list_schema(feed_type_names(), "Only records of these types.")
}

fn feed_types(types: Option<Vec<String>>) -> Result<Vec<String>, ApiError> {
    let types = types.unwrap_or_default();
    let known = feed_type_names();
    if let Some(t) = types.iter().find(|t| !known.contains(&t.as_str())) {
        return Err(ApiError::invalid(
            "types",
            format!("{t:?} is not an incident timeline type (i_new, i_ack, i_comm, …, i_labels)"),
        ));
    }
    Ok(types)
}

#[utoipa::path(post, path = "/incident/feed", tag = TAG_INCIDENTS, request_body = IncidentFeed,
    responses((status = 200, body = Envelope<FeedData>), (status = "4XX", body = ErrorEnvelope)))]
async fn incident_feed(
    State(app): State<AppState>,
    _caller: Caller,
    ApiJson(req): ApiJson<IncidentFeed>,
) -> ApiResult<FeedData> {
    let id = incident_id("incident_id", &req.incident_id)?;
    let page = Paging {
        p: req.p,
        limit: req.limit,
    }
    .page()?;
    let types = feed_types(req.types)?;
    existing(&app, &id).await?;
    let asc = req.asc.unwrap_or(false);
    let listing = app.store.feed(&id, &types, page, asc).await?;
    let has_next_page = listing.has_next_page(page);
    let account_id = app.render.account_id;
    ok(FeedData {
        items: listing
            .items
            .into_iter()
            .map(|e| FeedItem::from(e, account_id))
            .collect(),
        total: listing.total,
        has_next_page,
    })
}
