//! Every request's id: in the envelope, the `x-request-id` and
//! `Flashcat-Request-Id` headers (the hosted product's SDK reads the latter)
//! and every log line written while it is handled.

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use rand::RngCore;
use tracing::Instrument;

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

/// Gives every request an id: in the envelope, both headers and every log
/// line written while it is handled.
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
        resp.headers_mut().insert("x-request-id", v.clone());
        resp.headers_mut().insert("flashcat-request-id", v);
    }
    resp
}
