//! Deliveries leased as their batch inserts them, on both databases: the
//! batch's claim keeps them within the cluster's cap like any other, and
//! gives back the ones without room.

use std::time::{Duration, Instant};

use dutyhook_domain::ids::{DeliveryId, IntegrationId};

use super::tests::{webhook, Sink};
use crate::test_db::{on_both, open, Db};
use crate::writer::tests::create;
use crate::{ClaimedDelivery, OutboxStore, Store};

/// What the sink was handed by the batches so far, waiting for the one
/// that committed last to hand it over (it answers its callers first).
async fn handed(sink: &Sink, at_least: usize) -> Vec<ClaimedDelivery> {
    let until = Instant::now() + Duration::from_secs(5);
    while sink.got.lock().unwrap().len() < at_least && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    std::mem::take(&mut *sink.got.lock().unwrap())
}

async fn new_deliveries_are_claimed_by_their_own_batch_within_the_cap(db: Db) {
    let store = open(&db).await;
    let a = webhook(&*store).await;
    let sink = Sink::attach(&*store, 0);
    // Another process's lease: claimed here, then made theirs.
    create(&store, "theirs").await;
    sink.wants.lock().unwrap().limit = 100;
    let theirs = sink.take(&*store).await;
    assert_eq!(theirs.len(), 1);
    sink.lease_to_another_process(&store, theirs[0].delivery_id)
        .await;
    sink.wants.lock().unwrap().cluster_cap = Some(2);

    // Room for one beside theirs: the new delivery is handed out by the
    // batch that made it. Counted as another process's lease, it would
    // have filled the cap and waited for a later claim.
    create(&store, "ours").await;
    let (state,): (String,) =
        sqlx::query_as("SELECT state FROM deliveries ORDER BY id DESC LIMIT 1")
            .fetch_one(&store.read)
            .await
            .unwrap();
    assert_eq!(state, "leased", "leased as the create committed");
    let ours = handed(&sink, 1).await;
    assert_eq!(ours.len(), 1, "claimed by the create's own batch");
    assert_eq!(ours[0].integration_id, IntegrationId(a));
    assert_eq!(ours[0].attempts, 0);
    assert_eq!(ours[0].event.event_type.as_str(), "i_new");
    // Handed out as the batch wrote it, not read back: the same event.
    let stored = store.event(&ours[0].event.event_id).await.unwrap();
    assert_eq!(stored.as_ref(), Some(&*ours[0].event));

    // Theirs and ours fill the cap: the next one is given back, pending.
    sink.wants.lock().unwrap().held.insert(IntegrationId(a), 1);
    create(&store, "no room").await;
    let held: Vec<DeliveryId> = [&theirs[0], &ours[0]]
        .iter()
        .map(|d| d.delivery_id)
        .collect();
    let rows: Vec<(i64, String, String, i64)> =
        sqlx::query_as("SELECT id, state, lease_owner, lease_until FROM deliveries ORDER BY id")
            .fetch_all(&store.read)
            .await
            .unwrap();
    assert_eq!(rows.len(), 3);
    let (id, state, owner, until) = &rows[2];
    assert!(!held.contains(&DeliveryId(*id)));
    assert_eq!((state.as_str(), owner.as_str(), *until), ("pending", "", 0));
    assert!(sink.got.lock().unwrap().is_empty());

    // Without the cap, the next claim takes it.
    {
        let mut wants = sink.wants.lock().unwrap();
        wants.held.clear();
        wants.cluster_cap = None;
    }
    let later = sink.take(&*store).await;
    assert_eq!(
        later.iter().map(|d| d.delivery_id).collect::<Vec<_>>(),
        [DeliveryId(*id)]
    );
    store.close().await;
    db.drop().await;
}

on_both!(new_deliveries_are_claimed_by_their_own_batch_within_the_cap);
