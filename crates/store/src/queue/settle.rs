//! Settling deliveries in a write batch: their attempts recorded, heads
//! done, failed or due again, the next of each finished key promoted.

use super::attempts::{insert_attempts, push_attempts, ATTEMPTS_PER_STATEMENT};
use super::fifo::{
    finished, push_settle, settle_finished, update_with_next_at, SETTLED_PER_STATEMENT,
};
use crate::incidents::rows::{insert_timeline, push_timeline, TIMELINE_PER_STATEMENT};
use crate::sql::Sql;
use crate::write_conn::WriteConn;
use crate::writer::jobs::{CompleteJob, Effects, Reply};
use crate::{Completion, DeliveryResolution, Result};

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
                Completion::Attempt {
                    delivery_id,
                    resolution,
                    record,
                    note,
                } => {
                    attempts.push(&**record);
                    notes.extend(note.as_deref().cloned());
                    let id = delivery_id.get();
                    match resolution {
                        DeliveryResolution::Done => done.push(id),
                        DeliveryResolution::Failed => failed.push(id),
                        DeliveryResolution::RetryAt(at) => retry.push((id, *at)),
                    }
                }
                Completion::Release {
                    delivery_id,
                    next_at,
                } => release.push((delivery_id.get(), *next_at)),
                Completion::Skip { delivery_id } => skipped.push(delivery_id.get()),
            }
        }
        // Answered only once the batch has committed (or failed).
        let answer = job.answer.clone();
        replies.push(Box::new(move || answer.send(Ok(()))));
    }
    let finished = finished(&done, &failed, &skipped);
    // On PostgreSQL in one statement when each part fits one: a round trip
    // each is most of what a batch's statements cost there.
    let together = conn.postgres()
        && !finished.is_empty()
        && finished.len() <= SETTLED_PER_STATEMENT
        && attempts.len() <= ATTEMPTS_PER_STATEMENT
        && notes.len() <= TIMELINE_PER_STATEMENT;
    if together {
        let mut q = Sql::on(conn, "");
        if !attempts.is_empty() {
            q.with_part(|q| {
                push_attempts(q, &attempts);
                Ok(())
            })?;
        }
        if !notes.is_empty() {
            q.with_part(|q| push_timeline(q, &notes))?;
        }
        push_settle(&mut q, conn.backend(), &finished);
        conn.execute(&q).await?;
    } else {
        insert_attempts(conn, &attempts).await?;
        insert_timeline(conn, &notes).await?;
        settle_finished(conn, &finished).await?;
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
    effects.deliveries_moved |= !(done.is_empty()
        && failed.is_empty()
        && retry.is_empty()
        && release.is_empty()
        && skipped.is_empty());
    Ok(())
}
