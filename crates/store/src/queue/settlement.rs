//! A delivery's outcome as the writer takes it: the attempt's request and
//! response already encoded, so the writer, which runs one batch at a time
//! for everyone, only binds them.

use crate::{AttemptRecord, Completion, DeliveryResolution};

/// An attempt ready for its row, its request and response already JSON
/// text: encoded by the caller, so the writer, which runs one batch at a
/// time for everyone, only binds them.
pub(crate) struct EncodedAttempt {
    /// Without its request and response (taken out as text).
    pub record: Box<AttemptRecord>,
    pub request: String,
    pub response: String,
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
        note: Option<Box<dutyhook_domain::timeline::TimelineEntry>>,
    },
    Release {
        delivery_id: i64,
        next_at: i64,
    },
    Skip {
        delivery_id: i64,
    },
}

impl From<Completion> for Settlement {
    fn from(c: Completion) -> Settlement {
        match c {
            Completion::Attempt {
                delivery_id,
                resolution,
                record,
                note,
            } => Settlement::Attempt {
                delivery_id: delivery_id.into(),
                resolution,
                attempt: EncodedAttempt::new(record),
                note,
            },
            Completion::Release {
                delivery_id,
                next_at,
            } => Settlement::Release {
                delivery_id: delivery_id.into(),
                next_at,
            },
            Completion::Skip { delivery_id } => Settlement::Skip {
                delivery_id: delivery_id.into(),
            },
        }
    }
}
