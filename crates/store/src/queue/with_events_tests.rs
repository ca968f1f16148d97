//! New incidents' deliveries, written with their events (on PostgreSQL in
//! the events' own statement): one per webhook, each with its own event, and
//! each its key's tail that later deliveries queue behind.

use crate::queue::tests::{comment, count, webhook, Sink};
use crate::test_db::{on_both, open, Db};
use crate::writer::tests::create_together;
use crate::Store;

async fn new_incidents_deliveries_carry_their_own_events(db: Db) {
    let store = open(&db).await;
    let hooks = [webhook(&*store).await, webhook(&*store).await];
    let sink = Sink::attach(&*store, 100);
    let created = create_together(&store, &["A", "B", "C"]).await.unwrap();
    let [a, b, c] = [&created[0], &created[1], &created[2]];
    let got = sink.take(&*store).await;
    let mut pairs: Vec<(String, i64)> = (got.iter())
        .map(|d| (d.event.subject_id.clone(), d.integration_id.get()))
        .collect();
    pairs.sort();
    let mut want: Vec<(String, i64)> = [a, b, c]
        .iter()
        .flat_map(|i| hooks.map(|h| (i.incident_id.to_string(), h)))
        .collect();
    want.sort();
    assert_eq!(
        pairs, want,
        "each incident's creation to each webhook, once"
    );
    assert!(got.iter().all(|d| d.event.event_type.as_str() == "i_new"));
    let stray = "SELECT COUNT(*) FROM deliveries d JOIN events e ON e.seq = d.event_seq \
                 WHERE e.subject_id <> d.subject_key";
    assert_eq!(
        count(&store, stray).await,
        0,
        "each delivery is of its own event"
    );

    comment(&*store, &a.incident_id, "behind the creation").await;
    assert!(
        sink.take(&*store).await.is_empty(),
        "the comment waits for the creation's push to each webhook"
    );
    let waiting = "SELECT COUNT(*) FROM deliveries WHERE state = 'waiting'";
    assert_eq!(count(&store, waiting).await, 2);
    store.close().await;
    db.drop().await;
}

on_both!(new_incidents_deliveries_carry_their_own_events);
