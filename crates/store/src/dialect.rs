//! The few statements that differ between SQLite and PostgreSQL; the rest
//! of the SQL is the same text for both (sqlx's `Any` driver, `$n`
//! placeholders, `ON CONFLICT … DO UPDATE`).

use crate::topology::Backend;

/// The PostgreSQL channel on which a process announces committed deliveries;
/// the payload is the sender's token, so a process ignores its own.
pub(crate) const DELIVERIES_CHANNEL: &str = "dutyhook_deliveries";

/// The channel on which a process announces a committed rare change (people,
/// keys, fields, integrations…): the others forget what they keep (`kept.rs`).
pub(crate) const CHANGES_CHANNEL: &str = "dutyhook_changes";

/// A stable 63-bit key for an advisory lock named `role`.
pub(crate) fn lock_key(role: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("dutyhook:{role}").bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    (h >> 1) as i64
}

/// How a write batch begins. SQLite takes its write lock at once, so a
/// batch never fails half way for want of it.
///
/// PostgreSQL's batch begins with one cluster-wide lock, so the batches of
/// several processes apply one after another (no deadlocks, and the queue's
/// FIFO bookkeeping needs no finer locks); index scans, not bitmap scans
/// (bitmap scans never mark the index entries of dead rows as dead, so each
/// batch re-read the thousands a busy queue leaves in its partial indexes
/// until autovacuum came round: the cluster cap's count took 2-3 ms a batch,
/// 0.1 ms with index scans); custom plans only (a statement text that
/// recurs, a claim of 100 ids say, got a generic plan after five runs that
/// read the whole open queue instead of 100 keys: 45 ms against 2 ms). All
/// of it in the `BEGIN`'s own round trip: sent apart, the lock and settings
/// were one more statement of every batch.
pub(crate) fn begin(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => {
            "BEGIN; SELECT pg_advisory_xact_lock(7343230690172101), \
             set_config('enable_bitmapscan', 'off', true), \
             set_config('plan_cache_mode', 'force_custom_plan', true)"
        }
    }
}

/// PostgreSQL's `begin`, which also fails with [`RARE_CHANGES_MOVED`]
/// unless the count of committed rare changes is still `kept_at`, where the
/// subscriptions kept were read: checked under the lock, in the same round
/// trip, so that no other process's change can come between.
pub(crate) fn begin_checking_rare_changes(kept_at: i64) -> String {
    format!(
        "{}; SELECT dutyhook_rare_changes_are({kept_at})",
        begin(Backend::Postgres)
    )
}

/// The SQLSTATE of a batch whose kept subscriptions another process's
/// change made stale.
pub(crate) const RARE_CHANGES_MOVED: &str = "DH001";

/// Counts a batch of rare changes, in the statement that tells the other
/// processes of it at commit (PostgreSQL).
pub(crate) const COUNT_RARE_CHANGES: &str =
    "WITH counted AS (UPDATE rare_changes SET n = n + 1 WHERE id = 1) SELECT pg_notify($1, $2)";

/// Claims skip rows another process is leasing this very moment.
pub(crate) fn skip_locked(backend: Backend) -> &'static str {
    match backend {
        Backend::Sqlite => "",
        Backend::Postgres => " FOR UPDATE SKIP LOCKED",
    }
}
