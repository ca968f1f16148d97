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
use tokio::sync::oneshot;

use crate::backend::{Backend, SqlStore};
use crate::outbox::EventRow;
use crate::sql::Sql;
use crate::writer::{CompleteJob, Effects, Job, Reply};
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

async fn insert_attempts(conn: &mut AnyConnection, attempts: &[&AttemptRecord]) -> Result<()> {
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

/// Records attempts and settles their deliveries; promotes the next delivery
/// of every key whose head finished; gives released ones back.
pub(crate) async fn apply_completions(
    conn: &mut AnyConnection,
    jobs: Vec<CompleteJob>,
    replies: &mut Vec<Reply>,
    effects: &mut Effects,
) -> Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let mut attempts = vec![];
    let (mut done, mut failed, mut retry, mut release) = (vec![], vec![], vec![], vec![]);
    for row in jobs.iter().flat_map(|j| &j.rows) {
        match row {
            Completion::Attempt {
                delivery_id,
                resolution,
                record,
            } => {
                attempts.push(record.as_ref());
                match resolution {
                    DeliveryResolution::Done => done.push(*delivery_id),
                    DeliveryResolution::Failed => failed.push(*delivery_id),
                    DeliveryResolution::RetryAt(at) => retry.push((*delivery_id, *at)),
                }
            }
            Completion::Release {
                delivery_id,
                next_at,
            } => release.push((*delivery_id, *next_at)),
        }
    }
    insert_attempts(conn, &attempts).await?;
    for (state, ids) in [("'done'", &done), ("'failed'", &failed)] {
        for chunk in ids.chunks(1000) {
            let mut q = Sql::on(
                conn,
                "UPDATE deliveries SET attempts = attempts + 1, lease_until = 0, state = ",
            );
            q.push(state).push(" WHERE id IN ").list_i64(chunk);
            q.query().execute(&mut *conn).await?;
        }
    }
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
    // The next of each finished delivery's key takes its place as head.
    let finished: Vec<i64> = done.iter().chain(&failed).copied().collect();
    for chunk in finished.chunks(1000) {
        let mut q = Sql::on(
            conn,
            "UPDATE deliveries SET state = 'pending' WHERE state = 'waiting' AND id IN \
             (SELECT next_id FROM deliveries WHERE next_id > 0 AND id IN ",
        );
        q.list_i64(chunk).push(")");
        q.query().execute(&mut *conn).await?;
    }
    effects.deliveries_moved |=
        !(done.is_empty() && failed.is_empty() && retry.is_empty() && release.is_empty());
    for job in jobs {
        let reply = job.reply;
        replies.push(Box::new(move |committed: Result<(), String>| {
            let _ = reply.send(committed.map_err(StoreError::Commit));
        }));
    }
    Ok(())
}

/// Leases due heads for the attached dispatcher: first attempts before
/// retries, each from its own index, so a backlog of retries never holds back
/// fresh events.
pub(crate) async fn claim(
    conn: &mut AnyConnection,
    backend: Backend,
    sink: &dyn ClaimSink,
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
        .map(|(id,)| (id, wants.limit))
        .collect();
    if let Some(cap) = wants.cluster_cap {
        let mut q = Sql::on(
            conn,
            "SELECT integration_id, COUNT(*) FROM deliveries WHERE state = 'leased'",
        );
        if !wants.settling.is_empty() {
            q.push(" AND id NOT IN ").list_i64(&wants.settling);
        }
        q.push(" GROUP BY integration_id");
        let leased: HashMap<i64, i64> = q
            .query_as::<(i64, i64)>()
            .fetch_all(&mut *conn)
            .await?
            .into_iter()
            .collect();
        for (id, room) in integrations.iter_mut() {
            *room = (*room).min(cap - leased.get(id).copied().unwrap_or(0));
        }
        integrations.retain(|(_, room)| *room > 0);
    }
    if integrations.is_empty() {
        return Ok(vec![]);
    }
    // Retries always get a share of each claim, so they cannot starve either.
    let mut picked = due(conn, &integrations, true, now, wants.limit).await?;
    let retries = (wants.limit - picked.len() as i64).max((wants.limit / 8).max(1));
    if wants.cluster_cap.is_some() {
        // The cap is shared by first attempts and retries.
        for (id, room) in integrations.iter_mut() {
            *room -= picked.iter().filter(|p| p.2 == *id).count() as i64;
        }
        integrations.retain(|(_, room)| *room > 0);
    }
    picked.extend(due(conn, &integrations, false, now, retries).await?);
    if picked.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<i64> = picked.iter().map(|p| p.1).collect();
    let mut q = Sql::on(
        conn,
        "UPDATE deliveries SET state = 'leased', lease_until = ",
    );
    q.i64(now + wants.lease_ms);
    q.push(" WHERE id IN (SELECT id FROM deliveries WHERE state = 'pending' AND id IN ")
        .list_i64(&ids);
    if backend == Backend::Postgres {
        q.push(" FOR UPDATE SKIP LOCKED");
    }
    q.push(") RETURNING id, integration_id, attempts, event_seq");
    let mut rows: Vec<(i64, i64, i64, i64)> = q.query_as().fetch_all(&mut *conn).await?;
    if rows.is_empty() {
        return Ok(vec![]);
    }
    let mut seqs: Vec<i64> = rows.iter().map(|r| r.3).collect();
    seqs.sort_unstable();
    seqs.dedup();
    let mut events: HashMap<i64, Arc<StoredEvent>> = HashMap::with_capacity(seqs.len());
    for chunk in seqs.chunks(1000) {
        let mut q = Sql::on(conn, "SELECT seq, event_id, event_type, subject_kind, subject_id, event_time, payload FROM events WHERE seq IN ");
        q.list_i64(chunk);
        let found: Vec<EventRow> = q.query_as().fetch_all(&mut *conn).await?;
        events.extend(found.into_iter().map(|r| {
            let e = StoredEvent::from(r);
            (e.seq, Arc::new(e))
        }));
    }
    rows.sort_unstable();
    rows.into_iter()
        .map(|(id, integration_id, attempts, seq)| {
            let event = events.get(&seq).cloned().ok_or_else(|| {
                StoreError::Corrupt(format!("delivery {id}: event {seq} is missing"))
            })?;
            Ok(ClaimedDelivery {
                delivery_id: id,
                integration_id,
                attempts,
                event,
            })
        })
        .collect()
}

/// The `limit` earliest due deliveries (first attempts or retries) across
/// `integrations` (each with its room), as (next_at, id, integration). Each integration is a range scan of its
/// own: a long backlog of one integration that is excluded from this claim
/// (its lane is full) costs nothing to skip.
async fn due(
    conn: &mut AnyConnection,
    integrations: &[(i64, i64)],
    first: bool,
    now: i64,
    limit: i64,
) -> Result<Vec<(i64, i64, i64)>> {
    let mut out: Vec<(i64, i64, i64)> = vec![];
    for chunk in integrations.chunks(100) {
        let mut q = Sql::on(conn, "");
        for (n, (integration_id, room)) in chunk.iter().enumerate() {
            if n > 0 {
                q.push(" UNION ALL ");
            }
            q.push("SELECT * FROM (SELECT next_at, id, integration_id FROM deliveries WHERE integration_id = ")
                .i64(*integration_id);
            q.push(" AND state = 'pending' AND ").push(if first {
                "attempts = 0"
            } else {
                "attempts > 0"
            });
            q.push(" AND next_at <= ").i64(now);
            q.push(" ORDER BY next_at, id LIMIT ").i64(limit.min(*room));
            q.push(&format!(") AS d{n}"));
        }
        out.extend(
            q.query_as::<(i64, i64, i64)>()
                .fetch_all(&mut *conn)
                .await?,
        );
    }
    out.sort_unstable();
    out.truncate(limit.max(0) as usize);
    Ok(out)
}

fn push_attempt_values(q: &mut Sql, a: &AttemptRecord) {
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
        .text(a.request.to_string())
        .push(", ");
    q.text(a.response.to_string()).push(")");
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
        let (reply, answer) = oneshot::channel();
        self.writer
            .send(Job::Complete(CompleteJob { rows, reply }))
            .await?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn claim_now(&self) -> Result<usize> {
        let (reply, answer) = oneshot::channel();
        self.writer.send(Job::Tick(reply)).await?;
        answer.await.map_err(|_| StoreError::Closed)?
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
        let attempt = attempt.clone();
        self.writer
            .tx(move |c| Box::pin(async move { insert_attempts(c, &[&attempt]).await }))
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
