//! The delivery queue and the invocation history.
//!
//! Order per (integration, subject) is kept by state: only the oldest
//! unfinished delivery of a key is `pending` (or `leased`); later ones are
//! `waiting` and the settling of their predecessor promotes the next. Claims
//! therefore read heads only, however long the queue behind them, and the
//! order holds across processes because it lives in the database.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use async_trait::async_trait;
use sqlx::{AnyConnection, FromRow};

use crate::backend::{Backend, SqlStore};
use crate::sql::Sql;
use crate::writer::{Answer, CompleteJob, Effects, Job, Reply};
use crate::{
    AttemptFilter, AttemptRecord, ClaimSink, ClaimedDelivery, Completion, DeliveryResolution,
    DeliveryStats, DeliveryStore, Listing, Page, Result, StoreError, StoredEvent,
};

/// A delivery to create with its event.
pub(crate) struct NewDelivery {
    pub event_seq: i64,
    pub integration_id: i64,
    pub subject_key: String,
    pub at: i64,
}

const OPEN: &str = "('waiting', 'pending', 'leased')";

/// How long an outcome is offered again while the database is unavailable:
/// half the default lease (2 minutes), after which the delivery may be
/// another process's.
const OUTCOME_RETRY_FOR: std::time::Duration = std::time::Duration::from_secs(60);

/// An attempt ready for its row, its request and response already JSON
/// text: encoded by the caller, so the writer, which runs one batch at a
/// time for everyone, only binds them.
pub(crate) struct EncodedAttempt {
    /// Without its request and response (taken out as text).
    record: Box<AttemptRecord>,
    request: String,
    response: String,
}

impl EncodedAttempt {
    pub(crate) fn new(mut record: Box<AttemptRecord>) -> EncodedAttempt {
        let request = std::mem::take(&mut record.request).to_string();
        let response = std::mem::take(&mut record.response).to_string();
        EncodedAttempt {
            record,
            request,
            response,
        }
    }
}

/// A [`Completion`] as the writer takes it.
pub(crate) enum Settlement {
    Attempt {
        delivery_id: i64,
        resolution: DeliveryResolution,
        attempt: EncodedAttempt,
    },
    Release {
        delivery_id: i64,
        next_at: i64,
    },
}

impl From<Completion> for Settlement {
    fn from(c: Completion) -> Settlement {
        match c {
            Completion::Attempt {
                delivery_id,
                resolution,
                record,
            } => Settlement::Attempt {
                delivery_id,
                resolution,
                attempt: EncodedAttempt::new(record),
            },
            Completion::Release {
                delivery_id,
                next_at,
            } => Settlement::Release {
                delivery_id,
                next_at,
            },
        }
    }
}

#[derive(FromRow)]
struct AttemptRow {
    invocation_id: String,
    integration_id: i64,
    integration_kind: String,
    delivery_id: i64,
    event_id: String,
    event_type: String,
    subject_kind: String,
    subject_id: String,
    attempt: i64,
    test: i64,
    event_time: i64,
    started_at: i64,
    duration_ms: i64,
    success: i64,
    http_status: i64,
    error_class: String,
    error: String,
    request: String,
    response: String,
}

#[derive(sqlx::FromRow)]
struct CountedAttemptRow {
    #[sqlx(flatten)]
    row: AttemptRow,
    total: i64,
}

const ATTEMPT_COLS: &str = "invocation_id, integration_id, integration_kind, delivery_id, event_id, event_type, subject_kind, subject_id, attempt, test, event_time, started_at, duration_ms, success, http_status, error_class, error, request, response";

impl AttemptRow {
    fn into_record(self) -> Result<AttemptRecord> {
        Ok(AttemptRecord {
            invocation_id: self.invocation_id,
            integration_id: self.integration_id,
            integration_kind: self.integration_kind,
            delivery_id: self.delivery_id,
            event_id: self.event_id,
            event_type: self.event_type,
            subject_kind: self.subject_kind,
            subject_id: self.subject_id,
            attempt: self.attempt,
            test: self.test != 0,
            event_time: self.event_time,
            started_at: self.started_at,
            duration_ms: self.duration_ms,
            success: self.success != 0,
            http_status: self.http_status,
            error_class: self.error_class,
            error: self.error,
            request: serde_json::from_str(&self.request)?,
            response: serde_json::from_str(&self.response)?,
        })
    }
}

async fn insert_attempts(conn: &mut AnyConnection, attempts: &[&EncodedAttempt]) -> Result<()> {
    // 19 values a row.
    for chunk in attempts.chunks(500) {
        let mut q = Sql::on(
            conn,
            &format!("INSERT INTO attempts ({ATTEMPT_COLS}) VALUES "),
        );
        for (i, a) in chunk.iter().enumerate() {
            if i > 0 {
                q.push(", ");
            }
            push_attempt_values(&mut q, a);
        }
        q.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// `WITH v(i, s) AS (VALUES ($1, $2), …)` for (integration, subject) keys.
fn keys_cte(q: &mut Sql, keys: &[(i64, &str)]) {
    q.push("WITH v(i, s) AS (VALUES ");
    for (n, (i, s)) in keys.iter().enumerate() {
        q.push(if n == 0 { "(" } else { ", (" });
        q.i64(*i).push(", ").text(*s).push(")");
    }
    q.push(") ");
}

/// Inserts deliveries, in order: each is `pending` when nothing of its key is
/// unfinished, else `waiting`, linked from the key's newest delivery (its
/// `next_id`) and made the key's tail. Answers their ids, in order.
pub(crate) async fn insert_deliveries(
    conn: &mut AnyConnection,
    rows: &[NewDelivery],
) -> Result<Vec<i64>> {
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let mut keys: Vec<(i64, &str)> = rows
        .iter()
        .map(|d| (d.integration_id, d.subject_key.as_str()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    // The unfinished tail of each key: what a new delivery queues behind.
    let mut tails: HashMap<(i64, String), i64> = HashMap::new();
    for chunk in keys.chunks(1000) {
        let mut q = Sql::on(conn, "");
        keys_cte(&mut q, chunk);
        q.push(
            "SELECT t.integration_id, t.subject_key, t.tail_id FROM v \
                JOIN delivery_tails t ON t.integration_id = v.i AND t.subject_key = v.s \
                JOIN deliveries d ON d.id = t.tail_id WHERE d.state IN ",
        )
        .push(OPEN);
        let found: Vec<(i64, String, i64)> = q.query_as().fetch_all(&mut *conn).await?;
        tails.extend(found.into_iter().map(|(i, s, t)| ((i, s), t)));
    }
    let mut busy: HashSet<(i64, &str)> = tails.keys().map(|(i, s)| (*i, s.as_str())).collect();
    let mut ids: HashMap<(i64, i64), i64> = HashMap::with_capacity(rows.len());
    for chunk in rows.chunks(1000) {
        let mut q = Sql::on(
            conn,
            "INSERT INTO deliveries (event_seq, integration_id, subject_key, state, next_at, created_at) VALUES ",
        );
        for (i, d) in chunk.iter().enumerate() {
            // The first of a free key leads; the rest of the batch queues behind it.
            let state = if busy.insert((d.integration_id, d.subject_key.as_str())) {
                "'pending'"
            } else {
                "'waiting'"
            };
            q.push(if i == 0 { "(" } else { ", (" });
            q.i64(d.event_seq)
                .push(", ")
                .i64(d.integration_id)
                .push(", ");
            q.text(d.subject_key.clone())
                .push(", ")
                .push(state)
                .push(", ");
            q.i64(d.at).push(", ").i64(d.at).push(")");
        }
        q.push(" RETURNING id, event_seq, integration_id");
        let found: Vec<(i64, i64, i64)> = q.query_as().fetch_all(&mut *conn).await?;
        ids.extend(found.into_iter().map(|(id, seq, i)| ((seq, i), id)));
    }
    let mut in_order = Vec::with_capacity(rows.len());
    let mut links: Vec<(i64, i64)> = vec![];
    for d in rows {
        let id = *ids.get(&(d.event_seq, d.integration_id)).ok_or_else(|| {
            StoreError::Corrupt(format!("delivery of event {} was not stored", d.event_seq))
        })?;
        if let Some(prev) = tails.insert((d.integration_id, d.subject_key.clone()), id) {
            links.push((prev, id));
        }
        in_order.push(id);
    }
    for chunk in links.chunks(500) {
        let mut q = Sql::on(conn, "UPDATE deliveries SET next_id = CASE id");
        for (prev, next) in chunk {
            q.push(" WHEN ").i64(*prev).push(" THEN ").i64(*next);
        }
        let prevs: Vec<i64> = chunk.iter().map(|(p, _)| *p).collect();
        q.push(" ELSE next_id END WHERE id IN ").list_i64(&prevs);
        q.query().execute(&mut *conn).await?;
    }
    let new_tails: Vec<(&(i64, String), &i64)> = tails.iter().collect();
    for chunk in new_tails.chunks(1000) {
        let mut q = Sql::on(
            conn,
            "INSERT INTO delivery_tails (integration_id, subject_key, tail_id) VALUES ",
        );
        for (n, ((i, s), t)) in chunk.iter().enumerate() {
            q.push(if n == 0 { "(" } else { ", (" });
            q.i64(*i)
                .push(", ")
                .text(s.clone())
                .push(", ")
                .i64(**t)
                .push(")");
        }
        q.push(
            " ON CONFLICT (integration_id, subject_key) DO UPDATE SET tail_id = excluded.tail_id",
        );
        q.query().execute(&mut *conn).await?;
    }
    Ok(in_order)
}

/// `UPDATE deliveries SET <set>, next_at = CASE id … END WHERE id IN (…)`.
async fn update_with_next_at(
    conn: &mut AnyConnection,
    set: &str,
    rows: &[(i64, i64)],
    extra_where: &str,
) -> Result<()> {
    for chunk in rows.chunks(500) {
        let mut q = Sql::on(conn, "UPDATE deliveries SET ");
        q.push(set).push(", next_at = CASE id");
        for (id, at) in chunk {
            q.push(" WHEN ").i64(*id).push(" THEN ").i64(*at);
        }
        q.push(" ELSE next_at END WHERE id IN ");
        let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
        q.list_i64(&ids).push(extra_where);
        q.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Marks deliveries done or failed and, in the same statement, promotes the
/// next delivery of each one's key (its `next_id`, if waiting) to head.
async fn settle_finished(conn: &mut AnyConnection, done: &[i64], failed: &[i64]) -> Result<()> {
    let finished: Vec<(i64, bool)> = done
        .iter()
        .map(|id| (*id, true))
        .chain(failed.iter().map(|id| (*id, false)))
        .collect();
    for chunk in finished.chunks(1000) {
        let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
        let done: Vec<i64> = chunk
            .iter()
            .filter(|(_, d)| *d)
            .map(|(id, _)| *id)
            .collect();
        let mut q = Sql::on(conn, "UPDATE deliveries SET state = CASE WHEN id IN ");
        q.list_i64(&done)
            .push(" THEN 'done' WHEN id IN ")
            .list_i64(&ids)
            .push(" THEN 'failed' WHEN state = 'waiting' THEN 'pending' ELSE state END");
        q.push(", attempts = CASE WHEN id IN ")
            .list_i64(&ids)
            .push(" THEN attempts + 1 ELSE attempts END");
        q.push(", lease_until = CASE WHEN id IN ")
            .list_i64(&ids)
            .push(" THEN 0 ELSE lease_until END");
        // One IN over a union, not an OR of two: each side stays an index lookup.
        q.push(" WHERE id IN (SELECT next_id FROM deliveries WHERE next_id > 0 AND id IN ")
            .list_i64(&ids)
            .push(" UNION ALL VALUES ");
        for (n, id) in ids.iter().enumerate() {
            q.push(if n == 0 { "(" } else { ", (" }).i64(*id).push(")");
        }
        q.push(")");
        q.query().execute(&mut *conn).await?;
    }
    Ok(())
}

/// Records attempts and settles their deliveries; promotes the next delivery
/// of every key whose head finished; gives released ones back.
pub(crate) async fn apply_completions(
    conn: &mut AnyConnection,
    jobs: &[CompleteJob],
    replies: &mut Vec<Reply>,
    effects: &mut Effects,
) -> Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let mut attempts = vec![];
    let (mut done, mut failed, mut retry, mut release) = (vec![], vec![], vec![], vec![]);
    for job in jobs {
        for row in job.rows.iter() {
            match row {
                Settlement::Attempt {
                    delivery_id,
                    resolution,
                    attempt,
                } => {
                    attempts.push(attempt);
                    match resolution {
                        DeliveryResolution::Done => done.push(*delivery_id),
                        DeliveryResolution::Failed => failed.push(*delivery_id),
                        DeliveryResolution::RetryAt(at) => retry.push((*delivery_id, *at)),
                    }
                }
                Settlement::Release {
                    delivery_id,
                    next_at,
                } => release.push((*delivery_id, *next_at)),
            }
        }
        // Answered only once the batch has committed (or failed).
        let answer = job.answer.clone();
        replies.push(Box::new(move || answer.send(Ok(()))));
    }
    insert_attempts(conn, &attempts).await?;
    settle_finished(conn, &done, &failed).await?;
    update_with_next_at(
        conn,
        "state = 'pending', attempts = attempts + 1, lease_until = 0",
        &retry,
        "",
    )
    .await?;
    update_with_next_at(
        conn,
        "state = 'pending', lease_until = 0",
        &release,
        " AND state = 'leased'",
    )
    .await?;
    effects.deliveries_moved |=
        !(done.is_empty() && failed.is_empty() && retry.is_empty() && release.is_empty());
    Ok(())
}

/// Leases due heads for the attached dispatcher: first attempts before
/// retries, each from its own index, so a backlog of retries never holds back
/// fresh events.
pub(crate) async fn claim(
    conn: &mut AnyConnection,
    backend: Backend,
    sink: &dyn ClaimSink,
    owner: &str,
) -> Result<Vec<ClaimedDelivery>> {
    let now = crate::sql::now_ms();
    let wants = sink.wants(now);
    if wants.limit <= 0 {
        return Ok(vec![]);
    }
    let mut q = Sql::on(
        conn,
        "SELECT id FROM integrations WHERE kind IN ('incident_webhook', 'alert_webhook')",
    );
    if !wants.exclude.is_empty() {
        q.push(" AND id NOT IN ").list_i64(&wants.exclude);
    }
    q.push(" AND id NOT IN (SELECT integration_id FROM circuits WHERE open_until > ")
        .i64(now)
        .push(")");
    let mut integrations: Vec<(i64, i64)> = q
        .query_as::<(i64,)>()
        .fetch_all(&mut *conn)
        .await?
        .into_iter()
        .map(|(id,)| (id, wants.room(id)))
        .collect();
    if let Some(cap) = wants.cluster_cap {
        let mut q = Sql::on(
            conn,
            "SELECT integration_id, COUNT(*) FROM deliveries WHERE state = 'leased'",
        );
        if !wants.own.is_empty() {
            q.push(" AND id NOT IN ").list_i64(&wants.own);
        }
        q.push(" GROUP BY integration_id");
        let others: HashMap<i64, i64> = q
            .query_as::<(i64, i64)>()
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
        for (id, room) in integrations.iter_mut() {
            *room = cluster_room(
                *room,
                cap,
                others.get(id).copied().unwrap_or(0),
                wants.held.get(id).copied().unwrap_or(0),
            );
        }
    }
    integrations.retain(|(_, room)| *room > 0);
    if integrations.is_empty() {
        return Ok(vec![]);
    }
    let candidates = due(conn, &integrations, now, wants.limit).await?;
    let ids = pick(candidates, &integrations, wants.limit);
    if ids.is_empty() {
        return Ok(vec![]);
    }
    // The events come back with their deliveries: one round trip, not two.
    let mut q = Sql::on(
        conn,
        "UPDATE deliveries SET state = 'leased', lease_until = ",
    );
    q.i64(now + wants.lease_ms);
    q.push(", lease_owner = ").text(owner);
    q.push(" WHERE id IN (SELECT id FROM deliveries WHERE state = 'pending' AND id IN ")
        .list_i64(&ids);
    if backend == Backend::Postgres {
        q.push(" FOR UPDATE SKIP LOCKED");
    }
    q.push(") RETURNING id, integration_id, attempts, event_seq");
    for col in [
        "event_id",
        "event_type",
        "subject_kind",
        "subject_id",
        "event_time",
        "payload",
    ] {
        q.push(&format!(
            ", (SELECT {col} FROM events WHERE events.seq = deliveries.event_seq) AS {col}"
        ));
    }
    let mut rows: Vec<LeasedRow> = q.query_as().fetch_all(&mut *conn).await?;
    rows.sort_unstable_by_key(|r| r.id);
    // Fan-out leases one event to several integrations: they share it.
    let mut events: HashMap<i64, Arc<StoredEvent>> = HashMap::with_capacity(rows.len());
    rows.into_iter()
        .map(|r| {
            let event = match events.get(&r.event_seq) {
                Some(e) => e.clone(),
                None => {
                    let e = Arc::new(r.event()?);
                    events.insert(r.event_seq, e.clone());
                    e
                }
            };
            Ok(ClaimedDelivery {
                delivery_id: r.id,
                integration_id: r.integration_id,
                attempts: r.attempts,
                event,
            })
        })
        .collect()
}

/// How many deliveries of one integration a claim may lease under the
/// cluster's cap, given the leases other processes hold (`others`) and ours
/// not yet pushed out (`held`).
///
/// Alone on the integration, our lanes are the cap and we may claim ahead
/// (`limit`): nothing else is in flight. Otherwise all leases stay within the
/// cap. Why that holds the cap in flight: a process claims ahead only when no
/// one else holds a lease; anyone claiming after it counts all its leases,
/// and its pushes in flight never exceed its leases.
fn cluster_room(limit: i64, cap: i64, others: i64, held: i64) -> i64 {
    if others == 0 {
        limit
    } else {
        limit.min(cap - others - held)
    }
}

/// A delivery as the claim leased it, with its event (NULL if the event is
/// missing, which a foreign key forbids).
#[derive(FromRow)]
struct LeasedRow {
    id: i64,
    integration_id: i64,
    attempts: i64,
    event_seq: i64,
    event_id: Option<String>,
    event_type: Option<String>,
    subject_kind: Option<String>,
    subject_id: Option<String>,
    event_time: Option<i64>,
    payload: Option<String>,
}

impl LeasedRow {
    fn event(&self) -> Result<StoredEvent> {
        let missing = || {
            StoreError::Corrupt(format!(
                "delivery {}: event {} is missing",
                self.id, self.event_seq
            ))
        };
        Ok(StoredEvent {
            seq: self.event_seq,
            event_id: self.event_id.clone().ok_or_else(missing)?,
            event_type: self.event_type.clone().ok_or_else(missing)?,
            subject_kind: self.subject_kind.clone().ok_or_else(missing)?,
            subject_id: self.subject_id.clone().ok_or_else(missing)?,
            event_time: self.event_time.ok_or_else(missing)?,
            payload: self.payload.clone().ok_or_else(missing)?,
        })
    }
}

/// A due delivery: a retry or a first attempt, when it came due, its id and
/// its integration. Sorted, first attempts come before retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Due {
    retry: bool,
    next_at: i64,
    id: i64,
    integration_id: i64,
}

/// Up to `room` (and `limit`) of the earliest due first attempts and as many
/// retries of each integration, in one statement. Each integration and kind
/// is a range scan of its own: a long backlog of one integration that is
/// excluded from this claim (its lane is full) costs nothing to skip.
async fn due(
    conn: &mut AnyConnection,
    integrations: &[(i64, i64)],
    now: i64,
    limit: i64,
) -> Result<Vec<Due>> {
    let mut out = vec![];
    // Two selects per integration; SQLite allows 500 in one compound select.
    for chunk in integrations.chunks(100) {
        let mut q = Sql::on(conn, "");
        for (n, (integration_id, room)) in chunk.iter().enumerate() {
            for retry in [false, true] {
                if n > 0 || retry {
                    q.push(" UNION ALL ");
                }
                q.push(&format!(
                    "SELECT * FROM (SELECT CAST({} AS BIGINT), next_at, id, integration_id FROM deliveries WHERE integration_id = ",
                    retry as i64
                ))
                .i64(*integration_id);
                q.push(" AND state = 'pending' AND ").push(if retry {
                    "attempts > 0"
                } else {
                    "attempts = 0"
                });
                q.push(" AND next_at <= ").i64(now);
                q.push(" ORDER BY next_at, id LIMIT ").i64(limit.min(*room));
                q.push(&format!(") AS d{n}_{}", retry as i64));
            }
        }
        let rows: Vec<(i64, i64, i64, i64)> = q.query_as().fetch_all(&mut *conn).await?;
        out.extend(
            rows.into_iter()
                .map(|(retry, next_at, id, integration_id)| Due {
                    retry: retry != 0,
                    next_at,
                    id,
                    integration_id,
                }),
        );
    }
    Ok(out)
}

/// What a claim leases of the due deliveries: the earliest first attempts,
/// then retries, which always get a share (an eighth of the limit at least)
/// so that neither can starve the other. First attempts and retries share
/// each integration's room (its lane's, and under a cluster cap the cap's).
fn pick(mut due: Vec<Due>, rooms: &[(i64, i64)], limit: i64) -> Vec<i64> {
    due.sort_unstable();
    let limit = limit.max(0) as usize;
    let mut room: HashMap<i64, i64> = rooms.iter().copied().collect();
    let firsts = due.iter().filter(|d| !d.retry).count().min(limit);
    let retries = (limit - firsts).max((limit / 8).max(1));
    let mut picked = Vec::with_capacity(firsts + retries);
    let (mut taken_first, mut taken_retry) = (0, 0);
    for d in &due {
        let taken = if d.retry {
            &mut taken_retry
        } else {
            &mut taken_first
        };
        if *taken >= if d.retry { retries } else { firsts } {
            continue;
        }
        let r = room.entry(d.integration_id).or_insert(0);
        if *r <= 0 {
            continue;
        }
        *r -= 1;
        *taken += 1;
        picked.push(d.id);
    }
    picked
}

fn push_attempt_values(q: &mut Sql, encoded: &EncodedAttempt) {
    let a = &encoded.record;
    q.push("(");
    q.text(&a.invocation_id)
        .push(", ")
        .i64(a.integration_id)
        .push(", ")
        .text(&a.integration_kind)
        .push(", ");
    q.i64(a.delivery_id)
        .push(", ")
        .text(&a.event_id)
        .push(", ")
        .text(&a.event_type)
        .push(", ");
    q.text(&a.subject_kind)
        .push(", ")
        .text(&a.subject_id)
        .push(", ")
        .i64(a.attempt)
        .push(", ");
    q.i64(a.test as i64)
        .push(", ")
        .i64(a.event_time)
        .push(", ")
        .i64(a.started_at)
        .push(", ");
    q.i64(a.duration_ms)
        .push(", ")
        .i64(a.success as i64)
        .push(", ")
        .i64(a.http_status)
        .push(", ");
    q.text(&a.error_class)
        .push(", ")
        .text(&a.error)
        .push(", ")
        .text(encoded.request.as_str())
        .push(", ");
    q.text(encoded.response.as_str()).push(")");
}

fn push_attempt_filter(q: &mut Sql, f: &AttemptFilter) {
    q.push(" WHERE integration_id = ").i64(f.integration_id);
    q.push(" AND started_at >= ")
        .i64(f.from)
        .push(" AND started_at < ")
        .i64(f.to);
    if let Some(s) = &f.subject_id {
        q.push(" AND subject_id = ").text(s.clone());
    }
    if let Some(t) = &f.event_type {
        q.push(" AND event_type = ").text(t.clone());
    }
    if let Some(ok) = f.success {
        q.push(" AND success = ").i64(ok as i64);
    }
}

#[async_trait]
impl DeliveryStore for SqlStore {
    async fn complete_deliveries(&self, rows: Vec<Completion>) -> Result<()> {
        let rows: Arc<[Settlement]> = rows.into_iter().map(Settlement::from).collect();
        // A push that was made is recorded, not made again: while the
        // database cannot take the outcome (it is down, its disk is full),
        // it is offered again, for as long as the lease surely holds.
        let give_up = std::time::Instant::now() + OUTCOME_RETRY_FOR;
        let mut pause = std::time::Duration::from_millis(100);
        loop {
            let (answer, rx) = Answer::new();
            self.writer
                .send(Job::Complete(CompleteJob {
                    rows: rows.clone(),
                    answer,
                }))
                .await?;
            match rx.await.map_err(|_| StoreError::Closed)? {
                Err(StoreError::Unavailable(cause))
                    if std::time::Instant::now() + pause < give_up =>
                {
                    tracing::debug!(%cause, "an outcome waits for the database");
                    tokio::time::sleep(pause).await;
                    pause = (pause * 2).min(std::time::Duration::from_secs(2));
                }
                done => return done,
            }
        }
    }

    async fn claim_now(&self) -> Result<usize> {
        let (answer, rx) = Answer::new();
        self.writer.send(Job::Tick(answer)).await?;
        rx.await.map_err(|_| StoreError::Closed)?
    }

    async fn open_circuit(&self, integration_id: i64, until_ms: i64) -> Result<()> {
        let mut q = Sql::new("INSERT INTO circuits (integration_id, open_until) VALUES (");
        q.i64(integration_id).push(", ").i64(until_ms);
        q.push(") ON CONFLICT (integration_id) DO UPDATE SET open_until = excluded.open_until");
        self.exec(q).await.map(|_| ())
    }

    async fn close_circuit(&self, integration_id: i64) -> Result<()> {
        let mut q = Sql::new("DELETE FROM circuits WHERE integration_id = ");
        q.i64(integration_id);
        self.exec(q).await.map(|_| ())
    }

    async fn release_expired_leases(&self, now_ms: i64) -> Result<u64> {
        let mut q = Sql::new("UPDATE deliveries SET state = 'pending', lease_until = 0 WHERE state = 'leased' AND lease_until < ");
        q.i64(now_ms);
        self.exec(q).await
    }

    async fn enqueue_delivery(
        &self,
        event_id: &str,
        integration_id: i64,
        now_ms: i64,
    ) -> Result<i64> {
        let event_id = event_id.to_string();
        let id = self
            .writer
            .tx(move |c| {
                let event_id = event_id.clone();
                Box::pin(async move {
                    let mut q = Sql::new("SELECT seq, subject_id FROM events WHERE event_id = ");
                    q.text(&event_id);
                    let (event_seq, subject_key): (i64, String) =
                        q.query_as().fetch_optional(&mut *c).await?.ok_or_else(|| {
                            dutyhook_domain::DomainError::not_found("event", &event_id)
                        })?;
                    let ids = insert_deliveries(
                        c,
                        &[NewDelivery {
                            event_seq,
                            integration_id,
                            subject_key,
                            at: now_ms,
                        }],
                    )
                    .await?;
                    Ok(ids[0])
                })
            })
            .await?;
        self.claim_now().await?;
        Ok(id)
    }

    async fn record_attempt(&self, attempt: &AttemptRecord) -> Result<()> {
        let attempt = Arc::new(EncodedAttempt::new(Box::new(attempt.clone())));
        self.writer
            .tx(move |c| {
                let attempt = attempt.clone();
                Box::pin(async move { insert_attempts(c, &[&attempt]).await })
            })
            .await
    }

    async fn list_attempts(
        &self,
        filter: &AttemptFilter,
        page: Page,
    ) -> Result<Listing<AttemptRecord>> {
        // The total comes from the same statement as the page, so a page
        // never disagrees with its total while attempts are being written.
        let mut q = Sql::new(&format!(
            "SELECT {ATTEMPT_COLS}, COUNT(*) OVER () AS total FROM attempts"
        ));
        push_attempt_filter(&mut q, filter);
        q.push(" ORDER BY started_at DESC, invocation_id DESC LIMIT ")
            .i64(page.limit)
            .push(" OFFSET ")
            .i64(page.offset());
        let rows: Vec<CountedAttemptRow> = q.query_as().fetch_all(&self.read).await?;
        let total = match rows.first() {
            Some(r) => r.total,
            None if page.offset() == 0 => 0,
            None => {
                let mut c = Sql::new("SELECT COUNT(*) FROM attempts");
                push_attempt_filter(&mut c, filter);
                let (total,): (i64,) = c.query_as().fetch_one(&self.read).await?;
                total
            }
        };
        Ok(Listing {
            items: rows
                .into_iter()
                .map(|r| r.row.into_record())
                .collect::<Result<_>>()?,
            total,
        })
    }

    async fn attempt(&self, invocation_id: &str) -> Result<Option<AttemptRecord>> {
        let mut q = Sql::new(&format!(
            "SELECT {ATTEMPT_COLS} FROM attempts WHERE invocation_id = "
        ));
        q.text(invocation_id);
        let row: Option<AttemptRow> = q.query_as().fetch_optional(&self.read).await?;
        row.map(AttemptRow::into_record).transpose()
    }

    async fn delivery_state(&self, delivery_id: i64) -> Result<Option<(String, i64, i64)>> {
        let mut q = Sql::new("SELECT state, attempts, next_at FROM deliveries WHERE id = ");
        q.i64(delivery_id);
        Ok(q.query_as().fetch_optional(&self.read).await?)
    }

    async fn prune_attempts(&self, before_ms: i64) -> Result<u64> {
        // In chunks, each its own batch: a large prune never holds the writer long.
        const CHUNK: u64 = 5000;
        let mut total = 0;
        loop {
            let mut q = Sql::new("DELETE FROM attempts WHERE invocation_id IN (SELECT invocation_id FROM attempts WHERE started_at < ");
            q.i64(before_ms).push(" LIMIT ").i64(CHUNK as i64).push(")");
            let n = self.exec(q).await?;
            total += n;
            if n < CHUNK {
                break;
            }
        }
        // Keys with nothing unfinished need no tail.
        let mut q = Sql::new("DELETE FROM delivery_tails WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.id = delivery_tails.tail_id AND d.state IN ");
        q.push(OPEN).push(")");
        self.exec(q).await?;
        loop {
            let mut q = Sql::new("DELETE FROM deliveries WHERE id IN (SELECT id FROM deliveries WHERE state IN ('done', 'failed') AND created_at < ");
            q.i64(before_ms)
                .push(" ORDER BY id LIMIT ")
                .i64(CHUNK as i64)
                .push(")");
            if self.exec(q).await? < CHUNK {
                break;
            }
        }
        Ok(total)
    }

    async fn delivery_stats(&self) -> Result<DeliveryStats> {
        let (pending, oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(created_at) FROM deliveries WHERE state IN ('waiting', 'pending', 'leased')",
        )
        .fetch_one(&self.read)
        .await?;
        Ok(DeliveryStats {
            pending,
            oldest_pending_at: oldest.unwrap_or(0),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn due(retry: bool, next_at: i64, id: i64, integration_id: i64) -> Due {
        Due {
            retry,
            next_at,
            id,
            integration_id,
        }
    }

    #[test]
    fn first_attempts_go_first_and_retries_keep_an_eighth() {
        let mut all: Vec<Due> = (0..20).map(|i| due(true, i, 100 + i, 1)).collect();
        all.extend((0..20).map(|i| due(false, 50 + i, i, 1)));
        let picked = pick(all, &[(1, 100)], 16);
        assert_eq!(picked.len(), 16 + 2, "16 first attempts and 2 retries");
        assert_eq!(picked[..16], (0..16).collect::<Vec<i64>>()[..]);
        assert_eq!(picked[16..], [100, 101], "the oldest retries");
        let only_retries: Vec<Due> = (0..20).map(|i| due(true, i, i, 1)).collect();
        assert_eq!(pick(only_retries, &[(1, 100)], 16).len(), 16);
    }

    #[test]
    fn first_attempts_and_retries_share_each_integrations_room() {
        let mut all: Vec<Due> = (0..5).map(|i| due(false, i, i, 1)).collect();
        all.extend((0..5).map(|i| due(true, i, 10 + i, 1)));
        all.extend((0..5).map(|i| due(true, i, 20 + i, 2)));
        let picked = pick(all, &[(1, 6), (2, 2)], 100);
        assert_eq!(picked, vec![0, 1, 2, 3, 4, 10, 20, 21]);
    }

    #[test]
    fn alone_a_process_claims_ahead_and_with_others_all_leases_stay_in_the_cap() {
        assert_eq!(cluster_room(512, 16, 0, 30), 512, "alone: the lanes limit");
        assert_eq!(cluster_room(512, 16, 4, 5), 7);
        assert_eq!(cluster_room(3, 16, 4, 5), 3);
        assert!(cluster_room(512, 16, 20, 0) <= 0, "others over the cap");
    }
}
