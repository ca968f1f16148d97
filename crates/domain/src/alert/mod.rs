//! Alerts (`alerts.md`): what an ingested event is, how events merge into
//! alerts, how alerts group into incidents, recovery and storms. Pure: the
//! store loads the state an event needs into [`IngestState`], runs
//! [`ingest`] over it and writes what changed.

mod grouping;
mod model;
mod moves;
mod wire;

pub use grouping::*;
pub use model::*;
pub use moves::*;
pub use wire::*;
