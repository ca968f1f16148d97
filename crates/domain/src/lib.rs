//! The pure heart of dutyhook: incidents, people, channels, custom fields,
//! events and their payloads. No I/O: every function takes the time it needs
//! as an argument, so every rule here can be unit- and property-tested.

pub mod action;
pub mod action_guard;
pub mod action_inputs;
pub mod alert;
pub mod channel;
pub mod chat_presets;
pub mod clock;
pub mod endpoint_auth;
pub mod error;
pub mod event;
pub mod event_text;
pub mod field;
pub mod headers;
pub mod ids;
pub mod incident;
pub mod integration;
pub mod labels;
pub mod notify;
pub mod ops;
pub mod person;
pub mod recorder;
pub mod run;
pub mod run_changes;
pub mod severity;
pub mod template;
pub mod template_text;
pub mod timeline;
pub mod webhook;
pub mod write_back;

pub use error::DomainError;
