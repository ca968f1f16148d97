//! The invocation history: one row per attempt.

use dutyhook_domain::ids::{DeliveryId, IntegrationId};
use dutyhook_domain::integration::IntegrationKind;
use sqlx::FromRow;

use crate::sql::Sql;
use crate::types::{stored_event_type, stored_subject_kind};
use crate::write_conn::WriteConn;
use crate::{AttemptFilter, AttemptRecord, JsonText, Result, StoreError};

row_struct! {
    pub(crate) struct AttemptRow {
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
}

/// An attempt and the count of all that matched (`COUNT(*) OVER ()`).
pub(crate) struct CountedAttemptRow {
    pub row: AttemptRow,
    pub total: i64,
}

impl<'r> FromRow<'r, sqlx::any::AnyRow> for CountedAttemptRow {
    fn from_row(row: &'r sqlx::any::AnyRow) -> Result<Self, sqlx::Error> {
        use sqlx::Row as _;
        Ok(CountedAttemptRow {
            row: AttemptRow::from_row(row)?,
            total: row.try_get("total")?,
        })
    }
}

pub(crate) const ATTEMPT_COLS: &str = "invocation_id, integration_id, integration_kind, delivery_id, event_id, event_type, subject_kind, subject_id, attempt, test, event_time, started_at, duration_ms, success, http_status, error_class, error, request, response";

impl AttemptRow {
    pub(crate) fn into_record(self) -> Result<AttemptRecord> {
        let integration_kind = IntegrationKind::parse(&self.integration_kind).ok_or_else(|| {
            StoreError::Corrupt(format!(
                "attempt {}: integration kind {:?}",
                self.invocation_id, self.integration_kind
            ))
        })?;
        Ok(AttemptRecord {
            invocation_id: self.invocation_id,
            integration_id: IntegrationId(self.integration_id),
            integration_kind,
            delivery_id: DeliveryId(self.delivery_id),
            event_id: self.event_id.into(),
            event_type: stored_event_type(&self.event_type)?,
            subject_kind: stored_subject_kind(&self.subject_kind)?,
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
            request: JsonText::parse(self.request)?,
            response: JsonText::parse(self.response)?,
        })
    }
}

pub(crate) async fn insert_attempts(
    conn: &mut WriteConn<'_>,
    attempts: &[&AttemptRecord],
) -> Result<()> {
    for chunk in attempts.chunks(ATTEMPTS_PER_STATEMENT) {
        let mut q = Sql::on(conn, "");
        push_attempts(&mut q, chunk);
        conn.execute(&q).await?;
    }
    Ok(())
}

/// 19 values a row: well under both databases' limits on bound values.
pub(crate) const ATTEMPTS_PER_STATEMENT: usize = 500;

pub(crate) fn push_attempts(q: &mut Sql, attempts: &[&AttemptRecord]) {
    q.push(&format!("INSERT INTO attempts ({ATTEMPT_COLS}) VALUES "));
    for a in attempts {
        push_attempt_values(q, a);
    }
}

pub(crate) fn push_attempt_values(q: &mut Sql, a: &AttemptRecord) {
    q.row_start();
    q.text(&a.invocation_id)
        .push(", ")
        .i64(a.integration_id)
        .push(", ")
        .text(a.integration_kind.as_str())
        .push(", ");
    q.i64(a.delivery_id)
        .push(", ")
        .text(&a.event_id)
        .push(", ")
        .text(a.event_type.as_str())
        .push(", ");
    q.text(a.subject_kind.as_str())
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
        .text(a.request.as_str())
        .push(", ");
    q.text(a.response.as_str()).row_end();
}

pub(crate) fn push_attempt_filter(q: &mut Sql, f: &AttemptFilter) {
    q.push(" WHERE started_at >= ")
        .i64(f.from)
        .push(" AND started_at < ")
        .i64(f.to);
    if let Some(s) = &f.subject_id {
        q.push(" AND subject_id = ").text(s.clone());
    }
    if let Some(id) = f.integration_id {
        q.push(" AND integration_id = ").i64(id);
    }
    if !f.event_types.is_empty() {
        let types: Vec<&str> = f.event_types.iter().map(|t| t.as_str()).collect();
        q.push(" AND event_type IN ").list_text(&types);
    }
    if let Some(id) = &f.event_id {
        q.push(" AND event_id = ").text(id.as_str());
    }
    if let Some(ok) = f.success {
        q.push(" AND success = ").i64(ok as i64);
    }
}
