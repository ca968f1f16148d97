//! The fixed choices request fields take, typed so that the OpenAPI document
//! lists them for generated clients and a wrong one is refused naming its
//! field. The hosted product's clients send "" for a choice left unset, so
//! optional choices read through [`blank_is_none`].

use serde::de::{value::StringDeserializer, DeserializeOwned};
use serde::{Deserialize, Deserializer};
use utoipa::openapi::schema::{Array, ArrayBuilder, ObjectBuilder, SchemaType, Type};
use utoipa::ToSchema;

use crate::error::ApiError;

/// An optional choice: absent, `null` and "" all mean "not given".
pub fn blank_is_none<'de, D, T>(de: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: DeserializeOwned,
{
    match Option::<String>::deserialize(de)? {
        Some(s) if !s.trim().is_empty() => {
            T::deserialize(StringDeserializer::<D::Error>::new(s.trim().to_string())).map(Some)
        }
        _ => Ok(None),
    }
}

/// Several choices in one string, separated by commas (`Critical,Warning`);
/// blanks between commas are skipped.
pub fn comma_list<T>(
    field: &str,
    list: Option<&str>,
    parse: impl Fn(&str) -> Option<T>,
    one_of: &str,
) -> Result<Vec<T>, ApiError> {
    list.unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            parse(s)
                .ok_or_else(|| ApiError::invalid(field, format!("{s:?} is not one of {one_of}")))
        })
        .collect()
}

/// `created_at` (the default) or `updated_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TimeOrder {
    #[default]
    CreatedAt,
    UpdatedAt,
}

/// `created_at` (the default) or `channel_name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ChannelOrder {
    #[default]
    CreatedAt,
    ChannelName,
}

/// Lists of events and pushes are ordered by when the event happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventTimeOrder {
    #[default]
    EventTime,
}

/// An alert is open (`Triggered`) or `Closed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
pub enum AlertProgress {
    Triggered,
    Closed,
}

/// How a recorded attempt ended, as dutyhook's history names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AttemptOutcome {
    Success,
    Failure,
}

/// How a push ended, as the hosted product's webhook history names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PushStatus {
    Success,
    Failed,
}

/// The hosted product's grouping methods: `n` (each alert its own
/// incident), `p` (by `equals`), `i` (intelligent; not supported).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
pub enum ProductGroupMethod {
    #[serde(rename = "n")]
    EachAlert,
    #[serde(rename = "p")]
    ByRule,
    #[serde(rename = "i")]
    Intelligent,
}

/// The hosted product's grouping windows: `tumbling` (from the incident's
/// creation) or `sliding` (restarting at each alert that joins).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProductWindowType {
    Tumbling,
    Sliding,
}

/// What an async action's endpoint reports: `running`, or one of the final
/// `succeeded` and `failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallbackStatus {
    Running,
    Succeeded,
    Failed,
}

/// The schema of an optional list whose items are each one of `names`
/// (`schema_with` takes no doc comment, hence the description here).
pub fn name_list_schema(names: Vec<&'static str>, description: &str) -> Array {
    ArrayBuilder::new()
        .schema_type(SchemaType::from_iter([Type::Array, Type::Null]))
        .items(
            ObjectBuilder::new()
                .schema_type(Type::String)
                .enum_values(Some(names)),
        )
        .description(Some(description))
        .build()
}
