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
    let mut sql = begun(replan, "pg_advisory_xact_lock");
    if let Some(at) = kept_at {
        sql.push_str(&format!("; SELECT dutyhook_rare_changes_are({at})"));
    }
    sql
}

/// As [`begin_postgres`], for a batch whose transaction the writer runs in
/// plain SQL (`writer/chain.rs`): the count of committed rare changes is
/// read rather than checked, in a statement after the lock's, so that its
/// snapshot is taken once the lock is held. Rows: the lock's, the count.
pub(crate) fn begin_postgres_reading(replan: bool) -> String {
    format!(
        "{}; {READ_RARE_CHANGES}",
        begun(replan, "pg_advisory_xact_lock")
    )
}

/// Takes the lock in a transaction begun without it, then reads the count
/// of rare changes. Rows: the lock's, the count.
pub(crate) fn lock_postgres_reading() -> String {
    format!("SELECT pg_advisory_xact_lock({BATCH_LOCK}); {READ_RARE_CHANGES}")
}

/// Commits the open transaction, after telling the other processes that
/// deliveries were queued when `notify` names this process; then, with
/// `next` (whether to plan again), begins the next batch's transaction in
/// the same round trip. The next transaction only tries the lock: a
/// process waiting for it has it first, and the answers of the batch that
/// committed never wait for another's. Rows, after the commit: whether the
/// lock was taken, the count of rare changes (read under the lock when it
/// was).
pub(crate) fn commit_postgres(notify: Option<&str>, next: Option<bool>) -> String {
    let mut sql = String::new();
    if let Some(token) = notify {
        sql.push_str(&format!(
            "SELECT pg_notify('{DELIVERIES_CHANNEL}', {}); ",
            quoted(token)
        ));
    }
    sql.push_str("COMMIT");
    if let Some(replan) = next {
        sql.push_str(&format!(
            "; {}; {READ_RARE_CHANGES}",
            begun(replan, "pg_try_advisory_xact_lock")
        ));
    }
    sql
}

/// The key of the cluster-wide lock every write batch takes.
const BATCH_LOCK: i64 = 7343230690172101;

const READ_RARE_CHANGES: &str = "SELECT n FROM rare_changes WHERE id = 1";

/// `BEGIN`, the plans made again with `replan`, then `lock` (a function of
/// the lock's key) with the batch's settings, in one statement.
fn begun(replan: bool, lock: &str) -> String {
    let mut sql = String::from("BEGIN; ");
    if replan {
        sql.push_str("DISCARD PLANS; ");
    }
    sql.push_str(&format!(
        "SELECT {lock}({BATCH_LOCK}), \
         set_config('enable_bitmapscan', 'off', true), \
         set_config('enable_seqscan', 'off', true), \
         set_config('jit', 'off', true), \
         set_config('plan_cache_mode', 'force_generic_plan', true)"
    ));
    sql
}

/// `text` as a string literal (standard-conforming: only `'` is doubled).
fn quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
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
