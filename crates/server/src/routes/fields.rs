use axum::extract::State;
use dutyhook_domain::field::{validate_def, FieldDef, FieldType};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::{positive_id, TAG_PEOPLE};
use crate::auth::Caller;
use crate::envelope::{ok, ApiJson, ApiResult, Empty, Envelope};
use crate::error::{ApiError, ErrorEnvelope};
use crate::state::AppState;

pub const MAX_FIELDS: usize = 100;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(field_create))
        .routes(routes!(field_update))
        .routes(routes!(field_delete))
        .routes(routes!(field_list))
}

#[derive(Deserialize, ToSchema)]
pub struct FieldWrite {
    /// Required to update or delete; absent to create.
    pub field_id: Option<i64>,
    pub field_name: Option<String>,
    pub display_name: Option<String>,
    pub field_type: Option<FieldType>,
    pub options: Option<Vec<String>>,
    /// Any JSON value the field's type takes; `null` clears it.
    #[schema(value_type = Option<serde_json::Value>)]
    pub default_value: Option<Value>,
}

#[derive(Serialize, ToSchema)]
pub struct FieldId {
    pub field_id: i64,
}

#[derive(Serialize, ToSchema)]
pub struct FieldItems {
    pub items: Vec<FieldDef>,
}

fn merge(mut def: FieldDef, req: FieldWrite) -> Result<FieldDef, ApiError> {
    if let Some(n) = req.field_name {
        def.field_name = n;
    }
    if let Some(d) = req.display_name {
        def.display_name = d.trim().to_string();
    }
    if let Some(t) = req.field_type {
        def.field_type = t;
    }
    if let Some(o) = req.options {
        def.options = o;
    }
    if let Some(v) = req.default_value {
        def.default_value = (!v.is_null()).then_some(v);
    }
    validate_def(&def)?;
    Ok(def)
}

#[utoipa::path(post, path = "/field/create", tag = TAG_PEOPLE, request_body = FieldWrite,
    responses((status = 200, body = Envelope<FieldId>), (status = "4XX", body = ErrorEnvelope)))]
async fn field_create(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<FieldWrite>,
) -> ApiResult<FieldId> {
    caller.require_admin()?;
    let field_name = req
        .field_name
        .clone()
        .ok_or_else(|| ApiError::invalid("field_name", "is required"))?;
    let field_type = req.field_type.ok_or_else(|| {
        ApiError::invalid(
            "field_type",
            "is required: text, number, checkbox, single_select or multi_select",
        )
    })?;
    let display_name = req
        .display_name
        .clone()
        .unwrap_or_else(|| field_name.clone());
    let def = merge(
        FieldDef {
            field_id: 0,
            field_name,
            display_name,
            field_type,
            options: vec![],
            default_value: None,
        },
        req,
    )?;
    if app.store.fields().await?.len() >= MAX_FIELDS {
        return Err(ApiError::LimitExceeded(format!(
            "at most {MAX_FIELDS} custom fields"
        )));
    }
    ok(FieldId {
        field_id: app.store.create_field(&def).await?,
    })
}

#[utoipa::path(post, path = "/field/update", tag = TAG_PEOPLE, request_body = FieldWrite,
    responses((status = 200, body = Envelope<FieldId>), (status = "4XX", body = ErrorEnvelope)))]
async fn field_update(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<FieldWrite>,
) -> ApiResult<FieldId> {
    caller.require_admin()?;
    let id = positive_id(
        "field_id",
        req.field_id
            .ok_or_else(|| ApiError::invalid("field_id", "is required"))?,
    )?;
    let current = app
        .store
        .fields()
        .await?
        .into_iter()
        .find(|f| f.field_id == id)
        .ok_or_else(|| ApiError::ResourceNotFound(format!("field {id} does not exist")))?;
    if req.field_type.is_some_and(|t| t != current.field_type) {
        return Err(ApiError::invalid(
            "field_type",
            "cannot change once created; create another field",
        ));
    }
    let def = merge(current, req)?;
    app.store.update_field(&def).await?;
    ok(FieldId { field_id: id })
}

#[derive(Deserialize, ToSchema)]
pub struct FieldDelete {
    pub field_id: i64,
}

#[utoipa::path(post, path = "/field/delete", tag = TAG_PEOPLE, request_body = FieldDelete,
    responses((status = 200, body = Envelope<Empty>), (status = "4XX", body = ErrorEnvelope)))]
async fn field_delete(
    State(app): State<AppState>,
    caller: Caller,
    ApiJson(req): ApiJson<FieldDelete>,
) -> ApiResult<Empty> {
    caller.require_admin()?;
    app.store
        .delete_field(positive_id("field_id", req.field_id)?)
        .await?;
    ok(Empty {})
}

#[utoipa::path(post, path = "/field/list", tag = TAG_PEOPLE, request_body = Empty,
    responses((status = 200, body = Envelope<FieldItems>), (status = "4XX", body = ErrorEnvelope)))]
async fn field_list(
    State(app): State<AppState>,
    _caller: Caller,
    _body: ApiJson<serde::de::IgnoredAny>,
) -> ApiResult<FieldItems> {
    ok(FieldItems {
        items: app.store.fields().await?,
    })
}
