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

/// How a write batch begins on SQLite: it takes its write lock at once, so
/// a batch never fails half way for want of it.
pub(crate) const BEGIN_SQLITE: &str = "BEGIN IMMEDIATE";

/// How a write batch begins on PostgreSQL, all in the `BEGIN`'s own round
/// trip (sent apart, the lock and settings were one more statement of every
/// batch):
///
/// - one cluster-wide lock, so the batches of several processes apply one
///   after another (no deadlocks, and the queue's FIFO bookkeeping needs no
///   finer locks);
/// - index scans, neither bitmap scans (they never mark the index entries
///   of dead rows as dead, so each batch re-read the thousands a busy queue
///   leaves in its partial indexes until autovacuum came round: the cluster
///   cap's count took 2-3 ms a batch, 0.1 ms with index scans) nor
///   sequential scans where an index serves;
/// - no JIT: a plan that must scan a small table without an index (the
///   open circuits) costs more than JIT's threshold with sequential scans
///   off, and compiling it took 150-200 ms a batch;
/// - generic plans, each statement planned once rather than at every run
///   (planning was 1.2 ms of a batch's 2.9 ms in PostgreSQL at one webhook);
/// - with `replan`, every plan made again, for the tables' sizes of now: a
///   generic plan is made for the sizes of the moment, and a table that
///   grows from empty (a fresh database, a burst) kept plans fit for a few
///   rows (a lookup that read a whole index: 200 ms a batch). The writer
///   asks for it every `PLAN_LIFETIME` (`writer/mod.rs`).
///
/// With `kept_at`, the batch fails with [`RARE_CHANGES_MOVED`] unless the
/// count of committed rare changes is still `kept_at`, where the
/// subscriptions kept were read: checked under the lock, in the same round
/// trip, so that no other process's change can come between.
pub(crate) fn begin_postgres(replan: bool, kept_at: Option<i64>) -> String {
    let mut sql = String::from("BEGIN; ");
    if replan {
        sql.push_str("DISCARD PLANS; ");
    }
    sql.push_str(
        "SELECT pg_advisory_xact_lock(7343230690172101), \
         set_config('enable_bitmapscan', 'off', true), \
         set_config('enable_seqscan', 'off', true), \
         set_config('jit', 'off', true), \
         set_config('plan_cache_mode', 'force_generic_plan', true)",
    );
    if let Some(at) = kept_at {
        sql.push_str(&format!("; SELECT dutyhook_rare_changes_are({at})"));
    }
    sql
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
