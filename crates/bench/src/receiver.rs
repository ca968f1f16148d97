//! The fast receiver the load pushes to, and an endpoint that never answers.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::Path;

pub(crate) fn micros() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64
}

/// Counts pushes per endpoint and the latency of each (from the `t=` stamp
/// the load put in the comment to arrival).
#[derive(Default)]
pub(crate) struct Receiver {
    pub(crate) count: AtomicU64,
    pub(crate) per_endpoint: Mutex<HashMap<u32, u64>>,
    /// Per endpoint: (when the API call was made, latency), µs.
    pub(crate) latencies_us: Mutex<HashMap<u32, Vec<(u64, u64)>>>,
    /// Distinct `event_id`s per endpoint, to count what arrived without repeats.
    pub(crate) event_ids: Mutex<HashMap<u32, HashSet<String>>>,
}

pub(crate) async fn start_receiver(rx: Arc<Receiver>) -> String {
    let app = axum::Router::new().route(
        "/e/{n}",
        axum::routing::post(move |Path(n): Path<u32>, body: Bytes| {
            let rx = rx.clone();
            async move {
                let now = micros();
                rx.count.fetch_add(1, Ordering::Relaxed);
                *rx.per_endpoint.lock().unwrap().entry(n).or_default() += 1;
                if let Some(id) = find_str(&body, "\"event_id\":\"") {
                    rx.event_ids
                        .lock()
                        .unwrap()
                        .entry(n)
                        .or_default()
                        .insert(id.to_string());
                }
                if let Some(t) = find_stamp(&body) {
                    rx.latencies_us
                        .lock()
                        .unwrap()
                        .entry(n)
                        .or_default()
                        .push((t, now.saturating_sub(t)));
                }
                "ok"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// The `t=<micros>` stamp inside the comment (or a new incident's
/// description), found without parsing all JSON.
pub(crate) fn find_stamp(body: &[u8]) -> Option<u64> {
    find_str(body, "\"comment\":\"t=")
        .or_else(|| find_str(body, "\"description\":\"t="))?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

/// The string value that follows `prefix` in `body`.
pub(crate) fn find_str<'b>(body: &'b [u8], prefix: &str) -> Option<&'b str> {
    let s = std::str::from_utf8(body).ok()?;
    let i = s.find(prefix)? + prefix.len();
    s[i..].split('"').next()
}

/// A server that accepts connections and never answers.
pub(crate) async fn blackhole() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/e/999", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = vec![];
        while let Ok((s, _)) = listener.accept().await {
            held.push(s);
        }
    });
    url
}
