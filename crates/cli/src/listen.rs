//! `dutyhook listen`: a receiver to point a webhook at while developing.

use std::collections::HashSet;
use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::header::CONTENT_TYPE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use clap::Args;
use dutyhook_delivery::signature::{secret_key, verify};
use serde_json::Value;

#[derive(Args)]
pub struct ListenArgs {
    /// Port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 9000)]
    port: u16,
    /// The webhook's signing secret (whsec_…), to verify each push.
    #[arg(long, env = "DUTYHOOK_LISTEN_SECRET", hide_env_values = true)]
    secret: Option<String>,
    /// HTTP status to answer with.
    #[arg(long, default_value_t = 200)]
    status: u16,
    /// Answer every push with this JSON document (`Content-Type:
    /// application/json`), e.g. a custom action's answer that writes back:
    /// '{"message": "restarted", "labels": {"restarted": "yes"}}'. Without
    /// it the answer's body is empty.
    #[arg(long, value_name = "JSON")]
    answer: Option<String>,
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> &'a str {
    h.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// One line describing a push: what, about what, signature, duplicate.
pub fn describe(
    headers: &HeaderMap,
    body: &[u8],
    key: Option<&[u8]>,
    seen: &mut HashSet<String>,
) -> String {
    let json: Option<Value> = serde_json::from_slice(body).ok();
    let event_type = json
        .as_ref()
        .and_then(|v| v["event_type"].as_str())
        .unwrap_or("?")
        .to_string();
    let subject = json
        .as_ref()
        .and_then(|v| {
            v["incident"]["incident_id"]
                .as_str()
                .map(|id| {
                    format!(
                        "incident {id} {:?}",
                        v["incident"]["title"].as_str().unwrap_or("")
                    )
                })
                .or_else(|| {
                    v["alert"]["alert_id"]
                        .as_str()
                        .map(|id| format!("alert {id}"))
                })
        })
        .unwrap_or_else(|| "(not a dutyhook payload)".into());
    let id = header(headers, "webhook-id").to_string();
    let signature = match (key, header(headers, "webhook-timestamp").parse::<i64>()) {
        (None, _) => "signature not checked (no --secret)".to_string(),
        (Some(_), Err(_)) => "signature INVALID: no webhook-timestamp".to_string(),
        (Some(k), Ok(ts)) => {
            if verify(k, &id, ts, body, header(headers, "webhook-signature")) {
                "signature ok".to_string()
            } else {
                "signature INVALID".to_string()
            }
        }
    };
    let duplicate = if !id.is_empty() && !seen.insert(id.clone()) {
        "duplicate"
    } else {
        "new"
    };
    format!("{event_type} {subject} event_id={id} {signature} {duplicate}")
}

pub async fn run(args: ListenArgs) -> Result<(), String> {
    let key = match &args.secret {
        Some(s) => Some(secret_key(s).map_err(|e| format!("--secret: {e}"))?),
        None => None,
    };
    let status = StatusCode::from_u16(args.status)
        .map_err(|_| format!("--status {} is not an HTTP status", args.status))?;
    if let Some(a) = &args.answer {
        serde_json::from_str::<Value>(a).map_err(|e| format!("--answer is not JSON: {e}"))?;
    }
    let answer = args.answer.clone();
    let seen: Arc<Mutex<HashSet<String>>> = Default::default();
    let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
        let (key, seen, answer) = (key.clone(), seen.clone(), answer.clone());
        async move {
            let line = describe(
                &headers,
                &body,
                key.as_deref(),
                &mut seen.lock().expect("seen lock"),
            );
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "{line}");
            let _ = out.flush();
            match answer {
                Some(json) => (status, [(CONTENT_TYPE, "application/json")], json).into_response(),
                None => (status, "").into_response(),
            }
        }
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", args.port))
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", args.port))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    println!(
        "listening on http://{addr}/ — point a webhook here; answering {}{}",
        status.as_u16(),
        if args.answer.is_some() {
            " with the --answer JSON"
        } else {
            ""
        }
    );
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}
