//! SQLite builds a temporary b-tree for each list of more than two values
//! after `IN` in a statement it runs (a partial index's condition too), for
//! each `IN (SELECT …)` and for a `RETURNING`: on the writer's own
//! connection the statements of a delivery's life — its insert, its lease
//! with its event read, its settling and its successor's promotion — build
//! none (see `direct_census`), nor do a claim's choice of integrations
//! and the reading of the subscriptions.

use super::tests::{comment, outcome, webhook, Sink};
use crate::direct_census::statements;
use crate::test_db::{open, Db};
use crate::writer::tests::create;
use crate::{DeliveryResolution, DeliveryStore};

#[tokio::test]
async fn a_deliverys_statements_build_no_temporary_btree() {
    let db = Db::sqlite().await;
    let store = open(&db).await;
    webhook(&*store).await;
    let a = create(&store, "Incident A").await.incident_id;
    comment(&*store, &a, "queued behind A's creation").await;
    let b = create(&store, "Incident B").await.incident_id;
    let sink = Sink::attach(&*store, 100);
    let heads = sink.take(&*store).await;
    assert_eq!(heads.len(), 2, "A's and B's creations");
    let (a_head, b_head) = if heads[0].event.subject_id == a.as_str() {
        (&heads[0], &heads[1])
    } else {
        (&heads[1], &heads[0])
    };
    assert_eq!(b_head.event.subject_id, b.as_str());
    store
        .complete_deliveries(vec![
            outcome(a_head, DeliveryResolution::Done),
            outcome(b_head, DeliveryResolution::Failed),
        ])
        .await
        .unwrap();
    let next = sink.take(&*store).await;
    assert_eq!(
        next.len(),
        1,
        "A's comment, promoted when A's head was done"
    );
    store
        .complete_deliveries(vec![outcome(&next[0], DeliveryResolution::Done)])
        .await
        .unwrap();

    let run = statements(db.url.trim_start_matches("sqlite://"));
    let of_a_delivery: Vec<_> = run
        .iter()
        .filter(|(text, _)| text.contains("deliveries") || text.contains("FROM events"))
        .collect();
    let ran = |part: &str| of_a_delivery.iter().any(|(t, _)| t.contains(part));
    assert!(
        ran("INSERT INTO deliveries")
            && ran("SET state = 'pending'")
            && ran("attempts = attempts +")
            && ran("SET state = 'leased'"),
        "inserted, promoted, settled and leased: {run:#?}"
    );
    let building: Vec<_> = of_a_delivery.iter().filter(|(_, n)| *n > 0).collect();
    assert!(
        building.is_empty(),
        "statements of a delivery that build temporary b-trees: {building:#?}"
    );
    // Nor those every claim and every reading of the subscriptions run.
    let of_integrations: Vec<_> = run
        .iter()
        .filter(|(text, _)| {
            text.contains("FROM integrations i") || text.contains("JOIN integrations i")
        })
        .collect();
    assert!(
        of_integrations.len() >= 2,
        "the claim's and the subscriptions' statements ran: {run:#?}"
    );
    let building: Vec<_> = of_integrations.iter().filter(|(_, n)| *n > 0).collect();
    assert!(
        building.is_empty(),
        "statements of integrations that build temporary b-trees: {building:#?}"
    );
}

/// The open deliveries' index, its condition written as comparisons, still
/// serves the queries that say [`OPEN`](super::fifo::OPEN).
#[tokio::test]
async fn queries_saying_open_use_the_open_deliveries_index() {
    let db = Db::sqlite().await;
    drop(open(&db).await);
    let conn = rusqlite::Connection::open(db.url.trim_start_matches("sqlite://")).unwrap();
    let open_state = super::fifo::OPEN;
    for query in [
        format!("SELECT MIN(id) FROM deliveries WHERE integration_id = 1 AND {open_state}"),
        format!("SELECT COUNT(*) FROM deliveries WHERE {open_state}"),
        format!("DELETE FROM deliveries WHERE integration_id = 1 AND {open_state}"),
    ] {
        let mut plan = conn
            .prepare(&format!("EXPLAIN QUERY PLAN {query}"))
            .unwrap();
        let steps: Vec<String> = plan
            .query_map([], |r| r.get::<_, String>(3))
            .unwrap()
            .map(|s| s.unwrap())
            .collect();
        assert!(
            steps.iter().any(|s| s.contains("deliveries_open")),
            "{query}: {steps:?}"
        );
    }
}
