//! `TestReceiver`: a real HTTP server on 127.0.0.1 that records every push and
//! answers as scripted (status codes, delays, headers).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::Value;

#[derive(Debug, Clone)]
pub struct Received {
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Received {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
pub struct Reply {
    pub status: u16,
    pub delay: Duration,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

impl Reply {
    pub fn status(status: u16) -> Reply {
        Reply {
            status,
            delay: Duration::ZERO,
            headers: vec![],
            body: "ok".into(),
        }
    }
}

#[derive(Default)]
struct Shared {
    received: Vec<Received>,
    script: VecDeque<Reply>,
    /// Pushes being answered, per incident.
    in_flight: std::collections::HashMap<String, usize>,
    /// Pushes that arrived while another push of the same incident was unanswered.
    overlaps: usize,
    /// Pushes being answered now, and the most at once.
    answering: usize,
    most_at_once: usize,
}

struct Answered {
    shared: Arc<Mutex<Shared>>,
    incident: String,
}

impl Drop for Answered {
    fn drop(&mut self) {
        let mut g = self.shared.lock().unwrap();
        *g.in_flight.entry(self.incident.clone()).or_default() -= 1;
        g.answering -= 1;
    }
}

#[derive(Clone)]
pub struct TestReceiver {
    pub url: String,
    shared: Arc<Mutex<Shared>>,
}

impl TestReceiver {
    pub async fn start() -> TestReceiver {
        Self::start_on("127.0.0.1").await
    }

    /// Listens on another loopback address (`127.0.0.2`, …), for tests that
    /// block one address and allow another.
    pub async fn start_on(ip: &str) -> TestReceiver {
        let shared: Arc<Mutex<Shared>> = Default::default();
        let s = shared.clone();
        let app = axum::Router::new().fallback(move |headers: HeaderMap, body: Bytes| {
            let s = s.clone();
            async move {
                let incident = serde_json::from_slice::<Value>(&body)
                    .ok()
                    .and_then(|v| v["incident"]["incident_id"].as_str().map(String::from))
                    .unwrap_or_default();
                let reply = {
                    let mut g = s.lock().unwrap();
                    g.received.push(Received { headers, body });
                    let n = g.in_flight.entry(incident.clone()).or_default();
                    *n += 1;
                    if *n > 1 && !incident.is_empty() {
                        g.overlaps += 1;
                    }
                    g.answering += 1;
                    g.most_at_once = g.most_at_once.max(g.answering);
                    g.script.pop_front().unwrap_or_else(|| Reply::status(200))
                };
                // Counted out also when the handler is dropped because the
                // sender died mid-push (hyper cancels it when the connection
                // closes), or the incident would look busy for ever.
                let answered = Answered {
                    shared: s.clone(),
                    incident,
                };
                tokio::time::sleep(reply.delay).await;
                drop(answered);
                let mut resp =
                    (StatusCode::from_u16(reply.status).unwrap(), reply.body).into_response();
                for (k, v) in reply.headers {
                    resp.headers_mut().insert(k, v.parse().unwrap());
                }
                resp
            }
        });
        let listener = tokio::net::TcpListener::bind((ip, 0)).await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        TestReceiver { url, shared }
    }

    /// Answers the next pushes with these replies, then 200.
    pub fn script(&self, replies: impl IntoIterator<Item = Reply>) {
        self.shared.lock().unwrap().script.extend(replies);
    }

    /// How often a push arrived while an earlier push of the same incident
    /// was still unanswered (0 when order per incident holds).
    pub fn overlaps(&self) -> usize {
        self.shared.lock().unwrap().overlaps
    }

    /// The most pushes that were being answered at the same time.
    pub fn most_at_once(&self) -> usize {
        self.shared.lock().unwrap().most_at_once
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.lock().unwrap().received.clone()
    }

    /// Waits (up to 30 s) until at least `n` pushes arrived.
    pub async fn wait_for(&self, n: usize) -> Vec<Received> {
        for _ in 0..3000 {
            let got = self.received();
            if got.len() >= n {
                return got;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let got = self.received();
        panic!("expected {n} pushes, got {}", got.len());
    }
}
