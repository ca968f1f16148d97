//! Every operation on incidents, as pure functions over the incident state.
//! Each records exactly the events of `events.md` through the [`Recorder`]
//! and changes nothing (and emits nothing) when the stored value would not
//! change. Errors leave the caller to roll everything back.

mod common;
mod create;
mod edits;
mod lifecycle;
mod people;
mod validate;

pub use create::*;
pub use edits::*;
pub use lifecycle::*;
pub use people::*;
pub use validate::*;
