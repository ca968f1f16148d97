//! The one place where every failure becomes the envelope of `open-api.md`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use dutyhook_domain::DomainError;
use dutyhook_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::request_id::current_request_id;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    InvalidContentType(String),
    #[error("{0}")]
    LimitExceeded(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    AccessDenied(String),
    #[error("{0}")]
    ResourceNotFound(String),
    #[error("no route for {0}")]
    RouteNotFound(String),
    #[error("{0}")]
    MethodNotAllowed(String),
    #[error("{0}")]
    Conflict(String),
    /// A rate limit; the message says when to try again.
    #[error("{0}")]
    TooFrequent(String),
    #[error("request body is larger than 1 MiB")]
    EntityTooLarge,
    /// The database cannot be reached or cannot write; over when it is back.
    #[error("{0}; try again shortly")]
    ServiceUnavailable(String),
    #[error("internal error: {0}")]
    Internal(String),
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    /// One of InvalidParameter, InvalidContentType, LimitExceeded, Unauthorized,
    /// AccessDenied, ResourceNotFound, RouteNotFound, MethodNotAllowed, Conflict,
    /// EntityTooLarge, RequestTooFrequently, ServiceUnavailable, InternalError.
    /// The hosted product's codes wherever it has one.
    pub code: &'static str,
    pub message: String,
}

#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    pub request_id: String,
    pub error: ErrorBody,
}

impl ApiError {
    pub fn invalid(field: &str, message: impl std::fmt::Display) -> Self {
        ApiError::InvalidParameter(format!("{field}: {message}"))
    }

    fn code_and_status(&self) -> (&'static str, StatusCode) {
        match self {
            ApiError::InvalidParameter(_) => ("InvalidParameter", StatusCode::BAD_REQUEST),
            ApiError::InvalidContentType(_) => ("InvalidContentType", StatusCode::BAD_REQUEST),
            ApiError::LimitExceeded(_) => ("LimitExceeded", StatusCode::BAD_REQUEST),
            ApiError::Unauthorized(_) => ("Unauthorized", StatusCode::UNAUTHORIZED),
            ApiError::AccessDenied(_) => ("AccessDenied", StatusCode::FORBIDDEN),
            ApiError::ResourceNotFound(_) => ("ResourceNotFound", StatusCode::NOT_FOUND),
            ApiError::RouteNotFound(_) => ("RouteNotFound", StatusCode::NOT_FOUND),
            ApiError::MethodNotAllowed(_) => ("MethodNotAllowed", StatusCode::METHOD_NOT_ALLOWED),
            ApiError::Conflict(_) => ("Conflict", StatusCode::CONFLICT),
            ApiError::TooFrequent(_) => ("RequestTooFrequently", StatusCode::TOO_MANY_REQUESTS),
            ApiError::EntityTooLarge => ("EntityTooLarge", StatusCode::PAYLOAD_TOO_LARGE),
            ApiError::ServiceUnavailable(_) => {
                ("ServiceUnavailable", StatusCode::SERVICE_UNAVAILABLE)
            }
            ApiError::Internal(_) => ("InternalError", StatusCode::INTERNAL_SERVER_ERROR),
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(e: DomainError) -> Self {
        match e {
            DomainError::InvalidParameter { .. } => ApiError::InvalidParameter(e.to_string()),
            DomainError::NotFound { .. } => ApiError::ResourceNotFound(e.to_string()),
            DomainError::Conflict(m) => ApiError::Conflict(m),
            DomainError::LimitExceeded(m) => ApiError::LimitExceeded(m),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Domain(d) => d.into(),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Unavailable(m) => ApiError::ServiceUnavailable(m),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (code, status) = self.code_and_status();
        let message = match &self {
            ApiError::Internal(detail) => {
                tracing::error!(error = %detail, "internal error");
                "an internal error occurred; the server log has the details under this request_id"
                    .to_string()
            }
            other => other.to_string(),
        };
        if status.is_client_error() {
            tracing::debug!(code, %message, "request refused");
        }
        let body = ErrorEnvelope {
            request_id: current_request_id(),
            error: ErrorBody { code, message },
        };
        let mut resp = (status, axum::Json(body)).into_response();
        if status == StatusCode::PAYLOAD_TOO_LARGE {
            // The rest of the body is left unread, so this connection cannot carry another request.
            resp.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
        }
        resp
    }
}
