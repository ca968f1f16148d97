//! Delivery: how a push is made. The rules that must be exact — signatures,
//! retry schedules, the outbound address policy — are pure functions here,
//! tested against the spec's vectors and fuzzable.

mod attempt_record;
mod auth;
pub mod clients;
pub mod custom_action;
pub mod dispatcher;
mod error_chain;
pub mod invoker;
pub mod lanes;
pub mod mail;
pub mod metrics;
pub mod outbound;
pub mod push;
pub mod retry;
mod shown;
pub mod signature;
pub mod text_format;
mod tls;

pub use dutyhook_domain::clock::now_ms;
