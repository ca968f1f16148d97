//! Settling deliveries in a write batch: their attempts recorded, heads
//! done, failed or due again, the next of each finished key promoted.

use super::attempts::insert_attempts;
use super::fifo::{settle_finished, update_with_next_at};
use super::settlement::Settlement;
use crate::write_conn::WriteConn;
use crate::writer::jobs::{CompleteJob, Effects, Reply};
use crate::{DeliveryResolution, Result};

/// Records attempts and settles their deliveries; promotes the next delivery
/// of every key whose head finished; gives released ones back.
pub(crate) async fn apply_completions(
    conn: &mut WriteConn<'_>,
    jobs: &[CompleteJob],
    replies: &mut Vec<Reply>,
    effects: &mut Effects,
) -> Result<()> {
    if jobs.is_empty() {
        return Ok(());
    }
    let mut attempts = vec![];
    let (mut done, mut failed, mut retry, mut release) = (vec![], vec![], vec![], vec![]);
    let mut skipped = vec![];
    let mut notes = vec![];
    for job in jobs {
        for row in job.rows.iter() {
            match row {
                Settlement::Attempt {
                    delivery_id,
                    resolution,
                    attempt,
                    note,
                } => {
                    attempts.push(attempt);
                    notes.extend(note.as_deref().cloned());
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
                Settlement::Skip { delivery_id } => skipped.push(*delivery_id),
            }
        }
        // Answered only once the batch has committed (or failed).
        let answer = job.answer.clone();
        replies.push(Box::new(move || answer.send(Ok(()))));
    }
    insert_attempts(conn, &attempts).await?;
    crate::incidents::rows::insert_timeline(conn, &notes).await?;
    settle_finished(conn, &done, &failed, &skipped).await?;
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
    effects.deliveries_moved |= !(done.is_empty()
        && failed.is_empty()
        && retry.is_empty()
        && release.is_empty()
        && skipped.is_empty());
    Ok(())
}
