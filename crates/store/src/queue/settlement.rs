//! A delivery's outcome as the writer takes it. The attempt's request and
//! response are JSON text already, encoded where the attempt was made, so
//! the writer, which runs one batch at a time for everyone, only binds
//! them.

use crate::{AttemptRecord, Completion, DeliveryResolution};

/// A [`Completion`] as the writer takes it.
pub(crate) enum Settlement {
    Attempt {
        delivery_id: i64,
        resolution: DeliveryResolution,
        attempt: Box<AttemptRecord>,
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
                attempt: record,
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
