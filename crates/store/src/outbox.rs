use async_trait::async_trait;
use dutyhook_domain::ids::EventId;

use crate::sql::Sql;
use crate::store::SqlStore;
use crate::types::{stored_event_type, stored_subject_kind};
use crate::{OutboxStore, Result, StoredEvent};

row_struct! {
    pub(crate) struct EventRow {
        seq: i64,
        event_id: String,
        event_type: String,
        subject_kind: String,
        subject_id: String,
        event_time: i64,
        payload: String,
    }
}

impl TryFrom<EventRow> for StoredEvent {
    type Error = crate::StoreError;

    fn try_from(r: EventRow) -> Result<Self> {
        Ok(StoredEvent {
            seq: r.seq,
            event_id: r.event_id.into(),
            event_type: stored_event_type(&r.event_type)?,
            subject_kind: stored_subject_kind(&r.subject_kind)?,
            subject_id: r.subject_id,
            event_time: r.event_time,
            payload: r.payload,
        })
    }
}

#[async_trait]
impl OutboxStore for SqlStore {
    async fn events_after(&self, after_seq: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        let mut q = Sql::new("SELECT seq, event_id, event_type, subject_kind, subject_id, event_time, payload FROM events WHERE seq > ");
        q.i64(after_seq).push(" ORDER BY seq LIMIT ").i64(limit);
        let rows: Vec<EventRow> = q.query_as().fetch_all(&self.read).await?;
        rows.into_iter().map(StoredEvent::try_from).collect()
    }

    async fn event(&self, event_id: &EventId) -> Result<Option<StoredEvent>> {
        let mut q = Sql::new("SELECT seq, event_id, event_type, subject_kind, subject_id, event_time, payload FROM events WHERE event_id = ");
        q.text(event_id);
        let row: Option<EventRow> = q.query_as().fetch_optional(&self.read).await?;
        row.map(StoredEvent::try_from).transpose()
    }

    async fn count_events(&self) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM events")
            .fetch_one(&self.read)
            .await?;
        Ok(n)
    }
}
