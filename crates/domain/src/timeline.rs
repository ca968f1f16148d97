use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::ids::IncidentId;
use crate::person::Person;

/// One record of an incident's timeline (`/incident/feed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct TimelineEntry {
    #[serde(skip)]
    pub incident_id: IncidentId,
    /// The event type of the operation (`i_ack`, …) or `i_labels` for an
    /// enrichment that emits no event.
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub person: Option<Person>,
    /// Unix milliseconds.
    pub created_at: i64,
    #[schema(value_type = Object)]
    pub detail: Value,
}
