use async_trait::async_trait;
use dutyhook_domain::event::EventType;
use dutyhook_domain::ids::EventId;

use crate::event_rows::{EventRow, EVENT_COLS};
use crate::sql::Sql;
use crate::store::SqlStore;
use crate::{Listing, OutboxStore, Page, Result, StoredEvent};

#[async_trait]
impl OutboxStore for SqlStore {
    async fn events_after(&self, after_seq: i64, limit: i64) -> Result<Vec<StoredEvent>> {
        let mut q = Sql::new(&format!("SELECT {EVENT_COLS} FROM events WHERE seq > "));
        q.i64(after_seq).push(" ORDER BY seq LIMIT ").i64(limit);
        let rows: Vec<EventRow> = q.query_as().fetch_all(&self.read).await?;
        rows.into_iter().map(StoredEvent::try_from).collect()
    }

    async fn event(&self, event_id: &EventId) -> Result<Option<StoredEvent>> {
        let mut q = Sql::new(&format!(
            "SELECT {EVENT_COLS} FROM events WHERE event_id = "
        ));
        q.text(event_id);
        let row: Option<EventRow> = q.query_as().fetch_optional(&self.read).await?;
        row.map(StoredEvent::try_from).transpose()
    }

    async fn subject_events(
        &self,
        subject_id: &str,
        types: &[EventType],
        page: Page,
        asc: bool,
    ) -> Result<Listing<StoredEvent>> {
        let names: Vec<&str> = types.iter().map(|t| t.as_str()).collect();
        let filter = |q: &mut Sql| {
            q.text(subject_id);
            if !names.is_empty() {
                q.push(" AND event_type IN ").list_text(&names);
            }
        };
        let mut q = Sql::new(&format!(
            "SELECT {EVENT_COLS} FROM events WHERE subject_id = "
        ));
        filter(&mut q);
        q.push(if asc {
            " ORDER BY seq ASC"
        } else {
            " ORDER BY seq DESC"
        });
        q.push(" LIMIT ")
            .i64(page.limit)
            .push(" OFFSET ")
            .i64(page.offset());
        let rows: Vec<EventRow> = q.query_as().fetch_all(&self.read).await?;
        let mut c = Sql::new("SELECT COUNT(*) FROM events WHERE subject_id = ");
        filter(&mut c);
        let (total,): (i64,) = c.query_as().fetch_one(&self.read).await?;
        let items = rows
            .into_iter()
            .map(StoredEvent::try_from)
            .collect::<Result<_>>()?;
        Ok(Listing { items, total })
    }

    async fn count_events(&self) -> Result<i64> {
        let (n,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM events")
            .fetch_one(&self.read)
            .await?;
        Ok(n)
    }
}
