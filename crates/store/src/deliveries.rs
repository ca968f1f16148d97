//! The delivery queue and the invocation history. Work is claimed with a
//! lease in one short statement; per (integration, subject) only the oldest
//! unfinished delivery is ever due, so order holds across processes.

use async_trait::async_trait;
use sqlx::{Any, FromRow, Transaction};

use crate::backend::{Backend, SqlStore};
use crate::outbox::EventRow;
use crate::sql::Sql;
use crate::{
    AttemptFilter, AttemptRecord, ClaimedDelivery, DeliveryResolution, DeliveryStats,
    DeliveryStore, Listing, Page, Result,
};

#[derive(FromRow)]
struct ClaimRow {
    id: i64,
    integration_id: i64,
    attempts: i64,
    #[sqlx(flatten)]
    event: EventRow,
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

async fn insert_attempt(tx: &mut Transaction<'_, Any>, a: &AttemptRecord) -> Result<()> {
    let mut q = Sql::new(&format!("INSERT INTO attempts ({ATTEMPT_COLS}) VALUES "));
    push_attempt_values(&mut q, a);
    q.query().execute(&mut **tx).await?;
    Ok(())
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

async fn settle(
    tx: &mut Transaction<'_, Any>,
    delivery_id: i64,
    resolution: DeliveryResolution,
) -> Result<()> {
    let mut q =
        Sql::new("UPDATE deliveries SET attempts = attempts + 1, lease_until = 0, state = ");
    match resolution {
        DeliveryResolution::Done => q.push("'done'"),
        DeliveryResolution::Failed => q.push("'failed'"),
        DeliveryResolution::RetryAt(at) => q.push("'pending', next_at = ").i64(at),
    };
    q.push(" WHERE id = ").i64(delivery_id);
    q.query().execute(&mut **tx).await?;
    Ok(())
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
    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_ms: i64,
        limit: i64,
        exclude: &[i64],
    ) -> Result<Vec<ClaimedDelivery>> {
        let mut tx = self.write.begin().await?;
        // First attempts, then retries, each from its own index: a backlog of
        // retries never holds back fresh events.
        let mut ids: Vec<(i64,)> = vec![];
        for first in [true, false] {
            let room = limit - ids.len() as i64;
            if room <= 0 {
                break;
            }
            let mut q = Sql::new("UPDATE deliveries SET state = 'leased', lease_until = ");
            q.i64(now_ms + lease_ms);
            q.push(" WHERE id IN (SELECT d.id FROM deliveries d WHERE d.state = 'pending' AND ");
            q.push(if first {
                "d.attempts = 0"
            } else {
                "d.attempts > 0"
            });
            q.push(" AND d.next_at <= ").i64(now_ms);
            if !exclude.is_empty() {
                q.push(" AND d.integration_id NOT IN ").list_i64(exclude);
            }
            q.push(
                " AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.integration_id = d.integration_id \
                 AND e.subject_key = d.subject_key AND e.state IN ('pending', 'leased') AND e.id < d.id) \
                 ORDER BY d.next_at, d.id LIMIT ",
            );
            q.i64(room);
            if self.backend == Backend::Postgres {
                q.push(" FOR UPDATE SKIP LOCKED");
            }
            q.push(") RETURNING id");
            ids.extend(q.query_as::<(i64,)>().fetch_all(&mut *tx).await?);
        }
        if ids.is_empty() {
            tx.commit().await?;
            return Ok(vec![]);
        }
        let ids: Vec<i64> = ids.into_iter().map(|(id,)| id).collect();
        let mut q = Sql::new(
            "SELECT d.id, d.integration_id, d.attempts, e.seq, e.event_id, e.event_type, e.subject_kind, e.subject_id, \
             e.event_time, e.payload FROM deliveries d JOIN events e ON e.seq = d.event_seq WHERE d.id IN ",
        );
        q.list_i64(&ids).push(" ORDER BY d.id");
        let rows: Vec<ClaimRow> = q.query_as().fetch_all(&mut *tx).await?;
        tx.commit().await?;
        Ok(rows
            .into_iter()
            .map(|r| ClaimedDelivery {
                delivery_id: r.id,
                integration_id: r.integration_id,
                attempts: r.attempts,
                event: r.event.into(),
            })
            .collect())
    }

    async fn complete_delivery(
        &self,
        delivery_id: i64,
        resolution: DeliveryResolution,
        attempt: &AttemptRecord,
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        insert_attempt(&mut tx, attempt).await?;
        let mut q =
            Sql::new("UPDATE deliveries SET attempts = attempts + 1, lease_until = 0, state = ");
        match resolution {
            DeliveryResolution::Done => q.push("'done'"),
            DeliveryResolution::Failed => q.push("'failed'"),
            DeliveryResolution::RetryAt(at) => q.push("'pending', next_at = ").i64(at),
        };
        q.push(" WHERE id = ").i64(delivery_id);
        q.query().execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn complete_deliveries(
        &self,
        done: &[(i64, DeliveryResolution, AttemptRecord)],
    ) -> Result<()> {
        let mut tx = self.write.begin().await?;
        // Few large statements: on SQLite every statement is a round trip to
        // the connection's thread.
        for chunk in done.chunks(500) {
            let mut q = Sql::new(&format!("INSERT INTO attempts ({ATTEMPT_COLS}) VALUES "));
            for (i, (_, _, a)) in chunk.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                push_attempt_values(&mut q, a);
            }
            q.query().execute(&mut *tx).await?;
        }
        for (state, wanted) in [
            ("'done'", DeliveryResolution::Done),
            ("'failed'", DeliveryResolution::Failed),
        ] {
            let ids: Vec<i64> = done
                .iter()
                .filter(|(_, r, _)| *r == wanted)
                .map(|(id, _, _)| *id)
                .collect();
            for chunk in ids.chunks(1000) {
                let mut q = Sql::new(
                    "UPDATE deliveries SET attempts = attempts + 1, lease_until = 0, state = ",
                );
                q.push(state).push(" WHERE id IN ").list_i64(chunk);
                q.query().execute(&mut *tx).await?;
            }
        }
        for (id, resolution, _) in done {
            if let DeliveryResolution::RetryAt(_) = resolution {
                settle(&mut tx, *id, *resolution).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn release_delivery(&self, delivery_id: i64, next_at_ms: i64) -> Result<()> {
        let mut q =
            Sql::new("UPDATE deliveries SET state = 'pending', lease_until = 0, next_at = ");
        q.i64(next_at_ms)
            .push(" WHERE id = ")
            .i64(delivery_id)
            .push(" AND state = 'leased'");
        q.query().execute(&self.write).await?;
        Ok(())
    }

    async fn release_expired_leases(&self, now_ms: i64) -> Result<u64> {
        let mut q = Sql::new("UPDATE deliveries SET state = 'pending', lease_until = 0 WHERE state = 'leased' AND lease_until < ");
        q.i64(now_ms);
        Ok(q.query().execute(&self.write).await?.rows_affected())
    }

    async fn enqueue_delivery(
        &self,
        event_id: &str,
        integration_id: i64,
        now_ms: i64,
    ) -> Result<i64> {
        let mut q = Sql::new("INSERT INTO deliveries (event_seq, integration_id, subject_key, state, next_at, created_at) SELECT seq, ");
        q.i64(integration_id)
            .push(", subject_id, 'pending', ")
            .i64(now_ms)
            .push(", ")
            .i64(now_ms);
        q.push(" FROM events WHERE event_id = ")
            .text(event_id)
            .push(" RETURNING id");
        let row: Option<(i64,)> = q.query_as().fetch_optional(&self.write).await?;
        let id = row
            .map(|(id,)| id)
            .ok_or_else(|| dutyhook_domain::DomainError::not_found("event", event_id))?;
        self.notify.notify_waiters();
        Ok(id)
    }

    async fn record_attempt(&self, attempt: &AttemptRecord) -> Result<()> {
        let mut tx = self.write.begin().await?;
        insert_attempt(&mut tx, attempt).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn list_attempts(
        &self,
        filter: &AttemptFilter,
        page: Page,
    ) -> Result<Listing<AttemptRecord>> {
        let mut q = Sql::new(&format!("SELECT {ATTEMPT_COLS} FROM attempts"));
        push_attempt_filter(&mut q, filter);
        q.push(" ORDER BY started_at DESC, invocation_id DESC LIMIT ")
            .i64(page.limit)
            .push(" OFFSET ")
            .i64(page.offset());
        let rows: Vec<AttemptRow> = q.query_as().fetch_all(&self.read).await?;
        let mut c = Sql::new("SELECT COUNT(*) FROM attempts");
        push_attempt_filter(&mut c, filter);
        let (total,): (i64,) = c.query_as().fetch_one(&self.read).await?;
        Ok(Listing {
            items: rows
                .into_iter()
                .map(AttemptRow::into_record)
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
        let mut q = Sql::new("DELETE FROM attempts WHERE started_at < ");
        q.i64(before_ms);
        let n = q.query().execute(&self.write).await?.rows_affected();
        let mut q =
            Sql::new("DELETE FROM deliveries WHERE state IN ('done', 'failed') AND created_at < ");
        q.i64(before_ms);
        q.query().execute(&self.write).await?;
        Ok(n)
    }

    async fn delivery_stats(&self) -> Result<DeliveryStats> {
        let (pending, oldest): (i64, Option<i64>) = sqlx::query_as(
            "SELECT COUNT(*), MIN(created_at) FROM deliveries WHERE state IN ('pending', 'leased')",
        )
        .fetch_one(&self.read)
        .await?;
        Ok(DeliveryStats {
            pending,
            oldest_pending_at: oldest.unwrap_or(0),
        })
    }
}
