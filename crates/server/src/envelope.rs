//! Request ids, the success envelope and the JSON body extractor.

use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{header, HeaderValue};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tracing::Instrument;
use utoipa::ToSchema;

use crate::error::ApiError;

pub const MAX_BODY_BYTES: usize = 1024 * 1024;

tokio::task_local! {
    static REQUEST_ID: String;
}

pub fn current_request_id() -> String {
    REQUEST_ID.try_with(|id| id.clone()).unwrap_or_default()
}

fn new_request_id() -> String {
    let mut b = [0u8; 16];
    rand::thread_rng().fill_bytes(&mut b);
    hex::encode(b)
}

/// Gives every request an id: in the envelope, the `x-request-id` header and
/// every log line written while it is handled.
pub async fn request_id_layer(req: Request, next: Next) -> Response {
    let id = new_request_id();
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.uri().path());
    let mut resp = REQUEST_ID
        .scope(
            id.clone(),
            async move {
                let resp = next.run(req).await;
                tracing::info!(status = resp.status().as_u16(), "handled");
                resp
            }
            .instrument(span),
        )
        .await;
    if let Ok(v) = HeaderValue::from_str(&id) {
        resp.headers_mut().insert("x-request-id", v);
    }
    resp
}

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
            return Err(ApiError::PayloadTooLarge);
        }
        let bytes = axum::body::to_bytes(req.into_body(), MAX_BODY_BYTES)
            .await
            .map_err(|_| ApiError::PayloadTooLarge)?;
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
        let de = &mut serde_json::Deserializer::from_slice(body);
        match serde_path_to_error::deserialize(de) {
            Ok(v) => Ok(ApiJson(v)),
            Err(e) => {
                let path = e.path().to_string();
                let inner = e.into_inner();
                let msg = if inner.is_syntax() || inner.is_eof() {
                    format!("body is not valid JSON: {inner}")
                } else if path == "." {
                    format!("body: {inner}")
                } else {
                    format!("{path}: {inner}")
                };
                Err(ApiError::InvalidParameter(msg))
            }
        }
    }
}
