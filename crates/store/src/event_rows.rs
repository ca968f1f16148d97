//! An event as its row holds it: read by the outbox's readers and by a
//! claim, which hands the events of what it leased to the dispatcher.

use crate::types::{stored_event_type, stored_subject_kind};
use crate::{Result, StoredEvent};

row_struct! {
    /// An event as stored.
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

pub(crate) const EVENT_COLS: &str =
    "seq, event_id, event_type, subject_kind, subject_id, event_time, payload";
