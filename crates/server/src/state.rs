use std::ops::Deref;
use std::sync::Arc;

use crate::runtime::Runtime;

/// What the API's handlers share: the process's [`Runtime`] and what only
/// HTTP needs. It dereferences to the runtime so that a handler reaches the
/// store, clock and invoker as `state.store`, `state.clock`, `state.invoker`.
///
/// One shared allocation: axum clones the state for every extractor of
/// every request, and a field-by-field clone (the runtime's strings, lists
/// and a few dozen counted references) was 1.4 % of the server's CPU at 16
/// clients creating incidents.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

pub struct Shared {
    pub runtime: Runtime,
    pub key_secret: Arc<Vec<u8>>,
    pub passwords: Arc<crate::passwords::Passwords>,
    pub actions_per_channel: usize,
    pub sources: crate::source_cache::SourceCache,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Arc<Vec<ipnet::IpNet>>,
    /// SHA-256 of the token `/metrics` asks for, if any.
    pub metrics_token: Option<Arc<Vec<u8>>>,
    /// Set on SIGTERM: `/ready` then answers 503.
    pub stopping: Arc<std::sync::atomic::AtomicBool>,
}

impl AppState {
    pub fn new(shared: Shared) -> Self {
        AppState(Arc::new(shared))
    }
}

impl Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

impl Deref for Shared {
    type Target = Runtime;

    fn deref(&self) -> &Runtime {
        &self.runtime
    }
}
