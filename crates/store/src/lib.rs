//! Storage: one interface ([`Store`]), two databases. SQLite is the embedded
//! default, PostgreSQL the scale-out store. Both run the same SQL through
//! sqlx's `Any` driver; what differs between them (connection set-up, the
//! single SQLite writer, row locks) lives in [`backend`].

#[macro_use]
mod rows;

mod accounts;
mod actions;
mod alerts;
mod backup;
mod channels;
mod connect;
mod dialect;
#[cfg(test)]
mod dialect_tests;
mod direct;
#[cfg(test)]
mod direct_census;
mod directory;
mod error;
mod event_rows;
mod gathered_log;
#[cfg(test)]
mod gathered_log_tests;
mod incidents;
mod integrations;
mod json_text;
mod kept;
#[cfg(test)]
mod kept_tests;
mod migrations;
mod nodes;
#[cfg(test)]
mod nodes_tests;
mod notify;
#[cfg(test)]
mod notify_tests;
mod outbox;
mod queue;
mod replays;
mod runs;
#[cfg(test)]
mod schema_tests;
pub mod secrets;
mod sql;
mod sqlite;
mod store;
mod subscribers;
#[cfg(test)]
mod subscribers_tests;
#[cfg(test)]
mod test_db;
mod topology;
mod types;
#[cfg(test)]
mod upgrade_tests;
mod wal;
mod write_conn;
mod writer;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use dutyhook_domain::action_guard::RateRule;
use dutyhook_domain::channel::Channel;
use dutyhook_domain::field::FieldDef;
use dutyhook_domain::ids::{
    AlertId, ChannelId, DeliveryId, EventId, IncidentId, IntegrationId, PersonId, RunId,
};
use dutyhook_domain::incident::Incident;
use dutyhook_domain::integration::IntegrationKind;
use dutyhook_domain::recorder::Recorder;
use dutyhook_domain::run::Run;
use dutyhook_domain::timeline::TimelineEntry;
use dutyhook_domain::DomainError;

pub use accounts::{AccountStore, Failures};
pub use backup::backup_sqlite;
pub use connect::{open, sqlite_key_path, sqlite_path};
pub use error::StoreError;
pub use json_text::JsonText;
pub use notify::{DueRound, NotifyStore, MAIL_INTEGRATION_NAME};
pub use replays::{NewReplay, ReplayInfo, ReplayState, ReplayStore, REPLAY_MAX_ITEMS};
pub use secrets::{generate_key, Keyring};
pub use topology::Backend;
pub use types::*;

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// An operation on incidents, run inside the store's transaction: it receives
/// the locked incidents (in the order asked for) and may change them, push
/// new ones, and record events and timeline records.
///
/// It may run more than once: if the batch it shares with other callers'
/// changes fails for another caller's data, it runs again on its own.
pub type IncidentOp = std::sync::Arc<
    dyn Fn(&mut Vec<Incident>, &mut Recorder) -> Result<(), DomainError> + Send + Sync,
>;

#[async_trait]
pub trait DirectoryStore: Send + Sync {
    async fn create_person(&self, p: NewPerson) -> Result<PersonRecord>;
    async fn person(&self, person_id: PersonId) -> Result<Option<PersonRecord>>;
    async fn person_by_email(&self, email: &str) -> Result<Option<PersonRecord>>;
    /// The people with these ids, in the order given; `NotFound` names the first missing one.
    async fn people(&self, ids: &[PersonId]) -> Result<Vec<PersonRecord>>;
    async fn list_people(&self, page: Page) -> Result<Listing<PersonRecord>>;
    async fn count_people(&self) -> Result<i64>;
    /// Sets a person's console password (its hash); `NotFound` for an unknown person.
    async fn set_password(&self, person_id: PersonId, password_hash: &str) -> Result<()>;
    /// `Conflict` naming `email` when another person has it.
    async fn update_person(
        &self,
        id: PersonId,
        name: &str,
        email: &str,
        role: dutyhook_domain::person::Role,
    ) -> Result<()>;
    /// Deactivating also deletes their app keys, ends their sessions and voids
    /// their invitation.
    async fn set_person_active(&self, person_id: PersonId, active: bool) -> Result<()>;

    async fn create_team(&self, name: &str, member_ids: &[PersonId]) -> Result<i64>;
    async fn update_team(
        &self,
        team_id: i64,
        name: Option<&str>,
        member_ids: Option<&[PersonId]>,
    ) -> Result<()>;
    async fn team(&self, team_id: i64) -> Result<Option<TeamRecord>>;
    async fn list_teams(&self, page: Page) -> Result<Listing<TeamRecord>>;

    async fn create_app_key(
        &self,
        person_id: PersonId,
        name: &str,
        key_hash: &str,
        key_hint: &str,
    ) -> Result<i64>;
    async fn list_app_keys(
        &self,
        person_id: Option<PersonId>,
        page: Page,
    ) -> Result<Listing<AppKeyRecord>>;
    async fn app_key(&self, app_key_id: i64) -> Result<Option<AppKeyRecord>>;
    async fn delete_app_key(&self, app_key_id: i64) -> Result<()>;
    async fn person_by_key_hash(&self, key_hash: &str) -> Result<Option<PersonRecord>>;
}

/// Channels, custom field definitions and the installation's settings.
#[async_trait]
pub trait ChannelStore: Send + Sync {
    async fn create_channel(&self, c: &Channel) -> Result<ChannelId>;
    async fn update_channel(&self, c: &Channel) -> Result<()>;
    async fn channel(&self, channel_id: ChannelId) -> Result<Option<Channel>>;
    async fn list_channels(&self, page: Page) -> Result<Listing<Channel>>;

    async fn create_field(&self, def: &FieldDef) -> Result<i64>;
    async fn update_field(&self, def: &FieldDef) -> Result<()>;
    async fn delete_field(&self, field_id: i64) -> Result<()>;
    async fn fields(&self) -> Result<Vec<FieldDef>>;

    /// A value kept for the installation, created with `init` on first use.
    async fn setting_or_init(&self, key: &str, init: &str) -> Result<String>;
}

#[async_trait]
pub trait IncidentStore: Send + Sync {
    /// Locks the incidents `ids`, runs `op`, and writes in ONE transaction the
    /// incidents it touched, their timeline records and their events. If any
    /// id is unknown or `op` fails, nothing is written.
    ///
    /// Operations from concurrent callers are applied one after another in
    /// the same transaction (group commit); each caller gets its own answer.
    async fn mutate_incidents(
        &self,
        ids: &[IncidentId],
        rec: Recorder,
        op: IncidentOp,
    ) -> Result<Vec<Incident>>;
    /// As `mutate_incidents` for one incident, with one of its runs read in
    /// the same transaction and handed to `op` in the recorder's `runs`:
    /// concurrent changes to a run (callbacks, the deadline, a cancel) apply
    /// one after another, on every process. `NotFound` when there is no
    /// such run.
    async fn mutate_run(
        &self,
        incident_id: &IncidentId,
        run_id: &RunId,
        rec: Recorder,
        op: IncidentOp,
    ) -> Result<Incident>;
    async fn incident(&self, incident_id: &IncidentId) -> Result<Option<Incident>>;
    async fn incidents(&self, ids: &[IncidentId]) -> Result<Vec<Incident>>;
    async fn list_incidents(
        &self,
        filter: &IncidentFilter,
        page: Page,
    ) -> Result<Listing<Incident>>;
    /// An incident's timeline; only the `kinds` named, when any are.
    async fn feed(
        &self,
        incident_id: &IncidentId,
        kinds: &[String],
        page: Page,
        asc: bool,
    ) -> Result<Listing<TimelineEntry>>;
    /// Ids of open incidents whose snooze ended at or before `now_s`.
    async fn due_snoozes(&self, now_s: i64, limit: i64) -> Result<Vec<IncidentId>>;
    /// Deletes the incidents for good, with their timeline, alerts (and
    /// their raw events) and custom action runs, in one transaction; the
    /// events already in the outbox stay. Unknown ids: nothing is deleted.
    async fn remove_incidents(&self, ids: &[IncidentId]) -> Result<()>;
}

#[async_trait]
pub trait OutboxStore: Send + Sync {
    /// Events in commit order, after sequence number `after_seq`.
    async fn events_after(&self, after_seq: i64, limit: i64) -> Result<Vec<StoredEvent>>;
    async fn count_events(&self) -> Result<i64>;
    async fn event(&self, event_id: &EventId) -> Result<Option<StoredEvent>>;
    /// The events about one subject (an alert's id, an incident's), in
    /// commit order (`asc`) or newest first; only `types` when any.
    async fn subject_events(
        &self,
        subject_id: &str,
        types: &[dutyhook_domain::event::EventType],
        page: Page,
        asc: bool,
    ) -> Result<Listing<StoredEvent>>;
}

#[async_trait]
pub trait IntegrationStore: Send + Sync {
    async fn create_integration(&self, r: &IntegrationRecord) -> Result<IntegrationId>;
    /// Writes name, team, enabled state and config (not the secrets).
    async fn update_integration(&self, r: &IntegrationRecord) -> Result<()>;
    async fn integration(&self, integration_id: IntegrationId)
        -> Result<Option<IntegrationRecord>>;
    async fn list_integrations(
        &self,
        kinds: &[IntegrationKind],
        page: Page,
    ) -> Result<Listing<IntegrationRecord>>;
    /// Deletes the integration and its unsent deliveries.
    async fn delete_integration(&self, integration_id: IntegrationId) -> Result<()>;
    async fn set_integration_enabled(
        &self,
        integration_id: IntegrationId,
        enabled: bool,
        reason: &str,
    ) -> Result<()>;
    /// The current secret becomes the previous one, signed with until `previous_until_ms`.
    async fn rotate_secret(
        &self,
        integration_id: IntegrationId,
        new_secret: &str,
        previous_until_ms: i64,
    ) -> Result<()>;
}

/// What a claim may take: how many, of which integrations, for how long.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ClaimBudget {
    pub limit: i64,
    /// Integrations not to claim for now (paused, or holding enough).
    pub exclude: Vec<IntegrationId>,
    /// How long a claimed delivery stays this process's.
    pub lease_ms: i64,
    /// With several processes: the in-flight cap of the cluster. While no
    /// other process holds a lease of an integration, this one's lanes are
    /// its cap (it may claim ahead, as on SQLite); otherwise a claim keeps
    /// all leases of the integration, ours in flight and everyone else's,
    /// within the cap.
    pub cluster_cap: Option<i64>,
    /// Per integration, how many more its lane takes: enough to keep it
    /// busy, few enough that none waits in it until its lease expires.
    pub lane_rooms: HashMap<IntegrationId, i64>,
    /// The room of an integration without an entry in `lane_rooms`.
    pub lane_depth: i64,
    /// Per integration: how many of ours are claimed and not yet pushed out.
    pub held: HashMap<IntegrationId, i64>,
}

impl ClaimBudget {
    /// How many more of one integration this claim may take.
    pub fn room(&self, integration_id: IntegrationId) -> i64 {
        let lane = self.lane_rooms.get(&integration_id).copied();
        self.limit.min(lane.unwrap_or(self.lane_depth))
    }
}

/// Who takes claimed deliveries (the process's dispatcher). Its budget is
/// read before each write batch opens; the batch claims within it, in the
/// same transaction as the changes that made deliveries due, and hands what
/// it claimed over once it has committed. Nothing of it runs while a
/// transaction is open.
pub trait Claimer: Send + Sync {
    fn budget(&self, now_ms: i64) -> ClaimBudget;
    fn take(&self, deliveries: Vec<ClaimedDelivery>);
}

#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Records attempts and settles or releases their deliveries, together
    /// with whatever else the writer's current batch holds.
    async fn complete_deliveries(&self, rows: Vec<Completion>) -> Result<()>;
    /// Claims due deliveries for the attached dispatcher now; answers how many.
    async fn claim_now(&self) -> Result<usize>;
    async fn release_expired_leases(&self, now_ms: i64) -> Result<u64>;
    /// Opens an integration's circuit for every process until `until_ms`.
    async fn open_circuit(&self, integration_id: IntegrationId, until_ms: i64) -> Result<()>;
    /// Closes it again after a successful push.
    async fn close_circuit(&self, integration_id: IntegrationId) -> Result<()>;
    /// A new delivery of a recorded event (resend).
    async fn enqueue_delivery(
        &self,
        event_id: &EventId,
        integration_id: IntegrationId,
        now_ms: i64,
    ) -> Result<DeliveryId>;
    /// An attempt outside the queue (test pushes, custom actions).
    async fn record_attempt(&self, attempt: &AttemptRecord) -> Result<()>;
    async fn list_attempts(
        &self,
        filter: &AttemptFilter,
        page: Page,
    ) -> Result<Listing<AttemptRecord>>;
    async fn attempt(&self, invocation_id: &str) -> Result<Option<AttemptRecord>>;
    /// `(state, attempts, next_at)` of a delivery.
    async fn delivery_state(&self, delivery_id: DeliveryId) -> Result<Option<(String, i64, i64)>>;
    /// Deletes attempts (and finished deliveries) older than `before_ms`.
    async fn prune_attempts(&self, before_ms: i64) -> Result<u64>;
    async fn delivery_stats(&self) -> Result<DeliveryStats>;
    /// How an integration's pushes have been going.
    async fn delivery_health(
        &self,
        integration_id: IntegrationId,
        now_ms: i64,
    ) -> Result<DeliveryHealth>;
}

/// Where a trigger with an idempotency key stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PressSlot {
    /// The first with this key: run it, then finish it.
    Fresh,
    /// The first with this key is still running.
    Running,
    /// The first result, as stored.
    Done(String),
    /// The key was used for another incident or action.
    Mismatch,
}

#[async_trait]
pub trait ActionStore: Send + Sync {
    /// Creates (`integration_id` 0) or updates a custom action bound to
    /// `channel_ids`. Refuses with `LimitExceeded` when any channel would hold
    /// more than `per_channel` actions, and with `Conflict` when a channel
    /// already has an action of that name; then nothing is saved.
    async fn save_action(
        &self,
        r: &IntegrationRecord,
        channel_ids: &[ChannelId],
        per_channel: usize,
    ) -> Result<IntegrationId>;
    /// `(action_id, name)` of a channel's actions, in creation order.
    async fn channel_actions(&self, channel_id: ChannelId) -> Result<Vec<(IntegrationId, String)>>;
    /// Takes the key for a trigger unless it was taken within `window_ms`.
    async fn begin_press(
        &self,
        person_id: PersonId,
        key: &str,
        fingerprint: &str,
        now_ms: i64,
        window_ms: i64,
    ) -> Result<PressSlot>;
    /// Stores the result for the key, or (`None`) frees the key.
    async fn finish_press(
        &self,
        person_id: PersonId,
        key: &str,
        result: Option<&str>,
    ) -> Result<()>;
    /// An incident's runs, newest first.
    async fn incident_runs(&self, incident_id: &IncidentId) -> Result<Vec<Run>>;
    async fn run(&self, run_id: &RunId) -> Result<Option<Run>>;
    /// The run whose callback token hashes to `token_hash`.
    async fn run_by_token(&self, token_hash: &str) -> Result<Option<Run>>;
    /// Runs awaiting approval on any incident, oldest first.
    async fn awaiting_runs(&self, limit: i64) -> Result<Vec<Run>>;
    /// Writes `run` if `rule` allows a run of its action on its incident at
    /// `now_ms`; else writes nothing and answers when one may start (ms).
    async fn reserve_run(&self, run: &Run, rule: RateRule, now_ms: i64) -> Result<Option<i64>>;
    /// Runs running or awaiting approval at `now_s` past their deadline.
    async fn overdue_runs(&self, now_s: i64, limit: i64) -> Result<Vec<Run>>;
}

#[async_trait]
pub trait AlertStore: Send + Sync {
    /// Stores and groups the events of one request in one transaction, with
    /// the events they cause; answers their alert keys.
    async fn ingest_alerts(
        &self,
        source: dutyhook_domain::alert::Source,
        events: Vec<dutyhook_domain::alert::AlertEvent>,
        rec: Recorder,
    ) -> Result<Vec<String>>;
    /// Moves alerts into the open incident `to` by hand (`a_merge` each),
    /// with the incidents they leave and join, in one transaction; an unknown
    /// id, or `to` unknown or Closed, changes nothing.
    async fn move_alerts(
        &self,
        ids: Vec<AlertId>,
        to: IncidentId,
        by: dutyhook_domain::person::Person,
        rec: Recorder,
    ) -> Result<()>;
    /// Closes open alerts by hand (`a_close`); unknown ids change nothing.
    async fn close_alerts(
        &self,
        ids: Vec<AlertId>,
        by: dutyhook_domain::person::Person,
        rec: Recorder,
    ) -> Result<Vec<dutyhook_domain::alert::Alert>>;
    async fn alert(&self, alert_id: &AlertId) -> Result<Option<dutyhook_domain::alert::Alert>>;
    /// The newest raw events of an alert.
    async fn alert_events(&self, alert_id: &AlertId, limit: i64) -> Result<Vec<serde_json::Value>>;
    /// Raw events of any alert received in [start, end) (Unix s), newest
    /// first, each with its alert.
    async fn list_alert_events(
        &self,
        filter: &AlertEventFilter,
        page: Page,
    ) -> Result<Listing<(dutyhook_domain::alert::Alert, serde_json::Value)>>;
    /// The raw events of each incident's alerts, summed (incidents without
    /// alerts are left out).
    async fn alert_event_counts(&self, ids: &[IncidentId]) -> Result<HashMap<IncidentId, i64>>;
    async fn list_alerts(
        &self,
        filter: &AlertFilter,
        page: Page,
    ) -> Result<Listing<dutyhook_domain::alert::Alert>>;
    /// An incident's alerts, most recently updated first.
    async fn recent_alerts(
        &self,
        incident_id: &IncidentId,
        limit: i64,
    ) -> Result<Vec<dutyhook_domain::alert::Alert>>;
    async fn create_alert_source(
        &self,
        r: &IntegrationRecord,
        key_hash: &str,
    ) -> Result<IntegrationId>;
    async fn alert_source_by_key(&self, key_hash: &str) -> Result<Option<IntegrationId>>;
}

#[async_trait]
pub trait Store:
    DirectoryStore
    + ChannelStore
    + IncidentStore
    + OutboxStore
    + IntegrationStore
    + DeliveryStore
    + ActionStore
    + AlertStore
    + AccountStore
    + ReplayStore
    + NotifyStore
{
    fn backend(&self) -> Backend;
    /// Whether this process is the only one using the database (SQLite):
    /// then what it finds leased at start is its own, and no cluster-wide
    /// cap needs counting.
    fn owned_by_this_process(&self) -> bool {
        self.backend().owned_by_one_process()
    }
    async fn ping(&self) -> Result<()>;
    /// Whether the database answers and can write: a read and a small
    /// write through the writer, as every change goes.
    async fn health(&self) -> Result<()>;
    /// Woken when another process sharing the database committed deliveries
    /// (PostgreSQL LISTEN/NOTIFY); never on SQLite, which one process owns.
    fn remote_commits(&self) -> Arc<tokio::sync::Notify>;
    /// The processes alive on the database, this one included, as its last
    /// liveness beat saw them (always 1 on SQLite).
    fn processes(&self) -> i64;
    /// Whether this process runs the background role `role` (snooze expiry,
    /// history pruning): on PostgreSQL one process of the cluster at a time
    /// holds it, until its session ends; on SQLite always.
    async fn try_lead(&self, role: &str) -> Result<bool>;
    /// The dispatcher that claims deliveries (held weakly: it holds the store).
    fn attach_claimer(&self, sink: std::sync::Weak<dyn Claimer>);
    async fn close(&self);
}
