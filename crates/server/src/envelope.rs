//! The success envelope and the JSON body extractor.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
pub use crate::request_id::current_request_id;

pub const MAX_BODY_BYTES: usize = 1024 * 1024;

#[derive(Serialize, ToSchema)]
pub struct Envelope<T: ToSchema> {
    pub request_id: String,
    pub data: T,
}

/// `data` of calls that answer nothing in particular.
#[derive(Serialize, ToSchema, Default)]
pub struct Empty {}

pub type ApiResult<T> = Result<Envelope<T>, ApiError>;

pub fn ok<T: ToSchema>(data: T) -> ApiResult<T> {
    Ok(Envelope {
        request_id: current_request_id(),
        data,
    })
}

impl<T: Serialize + ToSchema> IntoResponse for Envelope<T> {
    fn into_response(self) -> Response {
        axum::Json(self).into_response()
    }
}

/// A JSON body: empty means `{}`; otherwise it must be `application/json`,
/// at most 1 MiB, and well-formed — errors say which field and where.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request<Body>, _state: &S) -> Result<Self, ApiError> {
        let content_type = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.to_ascii_lowercase());
        let declared_len = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<usize>().ok());
        if declared_len.is_some_and(|n| n > MAX_BODY_BYTES) {
            return Err(ApiError::EntityTooLarge);
        }
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| ApiError::EntityTooLarge)?;
        let body: &[u8] = if bytes.iter().all(u8::is_ascii_whitespace) {
            b"{}"
        } else {
            let is_json = content_type.as_deref().is_some_and(|ct| {
                ct.split(';')
                    .next()
                    .is_some_and(|m| m.trim() == "application/json")
            });
            if !is_json {
                return Err(ApiError::InvalidContentType(format!(
                    "Content-Type must be application/json, got {}",
                    content_type.as_deref().unwrap_or("none")
                )));
            }
            &bytes
        };
        if let Some(field) = nul_field(body) {
            return Err(ApiError::InvalidParameter(format!(
                "{field}: text must not contain the NUL character (\\u0000)"
            )));
        }
        let de = &mut serde_json::Deserializer::from_slice(body);
        let value = serde_path_to_error::deserialize(&mut *de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            if let Some(trailing) = trailing_data(body) {
                return trailing;
            }
            // A number too large for any type is a value error of its field,
            // though serde_json counts it as a syntax error.
            let malformed = (inner.is_syntax() || inner.is_eof())
                && !inner.to_string().starts_with("number out of range");
            ApiError::InvalidParameter(match (path.as_str(), malformed) {
                (".", true) => format!("body is not valid JSON: {inner}"),
                (_, true) => format!("body is not valid JSON (at {path}): {inner}"),
                (".", false) => format!("body: {inner}"),
                (_, false) => format!("{path}: {inner}"),
            })
        })?;
        de.end().map_err(|_| {
            trailing_data(body).unwrap_or_else(|| {
                ApiError::InvalidParameter("body: unexpected data after the JSON document".into())
            })
        })?;
        Ok(ApiJson(value))
    }
}

/// A body is one JSON document and nothing after it (whitespace aside).
/// Looked for when the body did not decode too: `{} xyz` is refused for what
/// follows the document, not for the fields the document lacks.
fn trailing_data(body: &[u8]) -> Option<ApiError> {
    use serde::Deserialize;
    let mut de = serde_json::Deserializer::from_slice(body);
    serde::de::IgnoredAny::deserialize(&mut de).ok()?;
    de.end().err().map(|e| {
        ApiError::InvalidParameter(format!(
            "body: unexpected data after the JSON document (line {}, column {})",
            e.line(),
            e.column()
        ))
    })
}

/// Where a body's text holds a NUL: PostgreSQL cannot store it, so no
/// database may (`open-api.md`, "Robustness"). JSON can only spell it as the
/// escape `\u0000`, so bodies without that sequence are not parsed twice.
fn nul_field(body: &[u8]) -> Option<String> {
    if !body.windows(6).any(|w| w == b"\\u0000") {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    nul_in(&value, String::new())
}

fn nul_in(value: &serde_json::Value, path: String) -> Option<String> {
    let named = |path: &str| {
        if path.is_empty() {
            "body".to_string()
        } else {
            path.to_string()
        }
    };
    match value {
        serde_json::Value::String(s) if s.contains('\0') => Some(named(&path)),
        serde_json::Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_in(v, format!("{path}[{i}]"))),
        serde_json::Value::Object(map) => map.iter().find_map(|(k, v)| {
            let at = if path.is_empty() {
                k.clone()
            } else {
                format!("{path}.{k}")
            };
            if k.contains('\0') {
                Some(format!("{} (a key)", named(&path)))
            } else {
                nul_in(v, at)
            }
        }),
        _ => None,
    }
}
