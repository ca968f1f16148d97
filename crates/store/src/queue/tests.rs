//! The delivery queue without HTTP, on both databases: FIFO per incident,
//! leases, first attempts before retries, circuits.

use std::sync::{Arc, Mutex};

use dutyhook_domain::ids::{DeliveryId, IncidentId, IntegrationId};
use dutyhook_domain::integration::{IntegrationConfig, IntegrationKind};
use dutyhook_domain::ops;
use dutyhook_domain::webhook::{RetryPolicy, WebhookConfig, WebhookKind};
use serde_json::json;

use crate::test_db::{ada, on_both, open, recorder, Db};
use crate::writer::tests::create;
use crate::{
    AttemptRecord, ClaimBudget, ClaimedDelivery, Claimer, Completion, DeliveryResolution,
    DeliveryStore, IncidentOp, IntegrationRecord, IntegrationStore, Store,
};

/// Stands in for the dispatcher: takes what it is given, wants what it is told.
pub(super) struct Sink {
    pub(super) wants: Mutex<ClaimBudget>,
    pub(super) got: Mutex<Vec<ClaimedDelivery>>,
}

impl Claimer for Sink {
    fn budget(&self, _now_ms: i64) -> ClaimBudget {
        self.wants.lock().unwrap().clone()
    }

    fn take(&self, deliveries: Vec<ClaimedDelivery>) {
        self.got.lock().unwrap().extend(deliveries);
    }
}

impl Sink {
    pub(super) fn attach(store: &dyn Store, limit: i64) -> Arc<Sink> {
        let sink = Arc::new(Sink {
            wants: Mutex::new(ClaimBudget {
                limit,
                lease_ms: 60_000,
                lane_depth: 1000,
                ..Default::default()
            }),
            got: Default::default(),
        });
        let dyn_sink: Arc<dyn Claimer> = sink.clone();
        store.attach_claimer(Arc::downgrade(&dyn_sink));
        // The store holds it weakly; keep one strong reference alive.
        std::mem::forget(dyn_sink);
        sink
    }

    /// Makes `id`'s lease another process's, as if it had claimed it; its
    /// batch claims nothing.
    pub(super) async fn lease_to_another_process(
        &self,
        store: &crate::store::SqlStore,
        id: DeliveryId,
    ) {
        let limit = std::mem::take(&mut self.wants.lock().unwrap().limit);
        let changed = store
            .writer
            .tx(move |conn| {
                Box::pin(async move {
                    let done = sqlx::query(
                        "UPDATE deliveries SET lease_owner = 'another process' WHERE id = $1",
                    )
                    .bind(id.get())
                    .execute(conn)
                    .await?;
                    Ok(done.rows_affected())
                })
            })
            .await
            .unwrap();
        assert_eq!(changed, 1);
        self.wants.lock().unwrap().limit = limit;
    }

    /// What was claimed since the last look (a claim runs first).
    pub(super) async fn take(&self, store: &dyn Store) -> Vec<ClaimedDelivery> {
        store.claim_now().await.unwrap();
        let mut got = std::mem::take(&mut *self.got.lock().unwrap());
        got.sort_by_key(|d| d.delivery_id);
        got
    }
}

pub(crate) async fn webhook(store: &dyn Store) -> i64 {
    store
        .create_integration(&IntegrationRecord {
            integration_id: IntegrationId(0),
            kind: IntegrationKind::IncidentWebhook,
            name: "w".into(),
            team_id: 0,
            enabled: true,
            disabled_reason: String::new(),
            config: IntegrationConfig::Webhook(WebhookConfig {
                kind: WebhookKind::Incident,
                name: "w".into(),
                description: String::new(),
                team_id: 0,
                endpoint: "http://127.0.0.1:9/".into(),
                headers: vec![],
                tls_verify: true,
                channel_ids: None,
                event_types: vec![],
                body_template: None,
                timeout_ms: 1000,
                retry_policy: RetryPolicy::Backoff,
                auth: Default::default(),
            }),
            secret: "whsec_dGVzdA==".into(),
            previous_secret: String::new(),
            previous_secret_until: 0,
            created_at: 0,
            updated_at: 0,
        })
        .await
        .unwrap()
        .into()
}

pub(super) async fn comment(store: &dyn Store, incident_id: &str, text: &'static str) {
    let op: IncidentOp = Arc::new(move |incs, rec| ops::comment(incs, text, &ada(), rec));
    store
        .mutate_incidents(&[incident_id.to_string().into()], recorder(), op)
        .await
        .unwrap();
}

pub(super) fn outcome(d: &ClaimedDelivery, resolution: DeliveryResolution) -> Completion {
    Completion::Attempt {
        delivery_id: d.delivery_id,
        resolution,
        note: None,
        record: Box::new(AttemptRecord {
            invocation_id: format!("inv{}-{}", d.delivery_id, d.attempts),
            integration_id: d.integration_id,
            integration_kind: IntegrationKind::IncidentWebhook,
            delivery_id: d.delivery_id,
            event_id: d.event.event_id.clone(),
            event_type: d.event.event_type,
            subject_kind: d.event.subject_kind,
            subject_id: d.event.subject_id.clone(),
            attempt: d.attempts + 1,
            test: false,
            event_time: d.event.event_time,
            started_at: crate::sql::now_ms(),
            duration_ms: 1,
            success: resolution == DeliveryResolution::Done,
            http_status: 200,
            error_class: String::new(),
            error: String::new(),
            request: json!({}).into(),
            response: json!({}).into(),
        }),
    }
}

fn kinds(got: &[ClaimedDelivery]) -> Vec<(IncidentId, String, i64)> {
    got.iter()
        .map(|d| {
            (
                IncidentId::from(d.event.subject_id.as_str()),
                d.event.event_type.as_str().to_string(),
                d.attempts,
            )
        })
        .collect()
}

async fn fifo_per_incident_and_leases(db: Db) {
    let store = open(&db).await;
    webhook(&*store).await;
    let a = create(&store, "Incident A").await.incident_id;
    comment(&*store, &a, "a1").await;
    comment(&*store, &a, "a2").await;
    let b = create(&store, "Incident B").await.incident_id;
    comment(&*store, &b, "b1").await;
    let sink = Sink::attach(&*store, 100);

    // Only each incident's head.
    let heads = sink.take(&*store).await;
    assert_eq!(
        kinds(&heads),
        vec![
            (a.clone(), "i_new".into(), 0),
            (b.clone(), "i_new".into(), 0)
        ]
    );
    assert!(
        sink.take(&*store).await.is_empty(),
        "heads are leased, the rest wait"
    );

    // A's head done: its next comes due; B's head due again: it comes again,
    // and nothing behind it.
    let (a_head, b_head) = (&heads[0], &heads[1]);
    let past = crate::sql::now_ms() - 1;
    store
        .complete_deliveries(vec![
            outcome(a_head, DeliveryResolution::Done),
            outcome(b_head, DeliveryResolution::RetryAt(past)),
        ])
        .await
        .unwrap();
    let next = sink.take(&*store).await;
    assert_eq!(
        kinds(&next),
        vec![
            (a.clone(), "i_comm".into(), 0),
            (b.clone(), "i_new".into(), 1)
        ]
    );
    // B's head given up: B's comment is next.
    let b_retry = next
        .iter()
        .find(|d| d.event.subject_id == b.as_str())
        .unwrap();
    store
        .complete_deliveries(vec![outcome(b_retry, DeliveryResolution::Failed)])
        .await
        .unwrap();
    assert_eq!(
        kinds(&sink.take(&*store).await),
        vec![(b.clone(), "i_comm".into(), 0)]
    );

    // A lease that runs out gives its delivery back.
    let released = store
        .release_expired_leases(crate::sql::now_ms() + 120_000)
        .await
        .unwrap();
    assert_eq!(released, 2, "A's and B's comments were leased");
    let again = sink.take(&*store).await;
    assert_eq!(
        kinds(&again),
        vec![
            (a.clone(), "i_comm".into(), 0),
            (b.clone(), "i_comm".into(), 0)
        ]
    );
    store.close().await;
    db.drop().await;
}

async fn retries_never_hold_back_first_attempts(db: Db) {
    let store = open(&db).await;
    webhook(&*store).await;
    for n in 0..6 {
        create(&store, &format!("retried {n}")).await;
    }
    let sink = Sink::attach(&*store, 100);
    let first = sink.take(&*store).await;
    assert_eq!(first.len(), 6);
    let past = crate::sql::now_ms() - 1;
    sink.wants.lock().unwrap().limit = 0; // nothing claimed meanwhile
    store
        .complete_deliveries(
            first
                .iter()
                .map(|d| outcome(d, DeliveryResolution::RetryAt(past)))
                .collect(),
        )
        .await
        .unwrap();
    for n in 0..2 {
        create(&store, &format!("fresh {n}")).await;
    }
    // Six retries came due before the two fresh events; a claim of four
    // takes the fresh ones all the same, and fills up with retries.
    sink.wants.lock().unwrap().limit = 4;
    let got = sink.take(&*store).await;
    let fresh = got.iter().filter(|d| d.attempts == 0).count();
    let retries = got.iter().filter(|d| d.attempts > 0).count();
    assert_eq!(
        (fresh, retries),
        (2, 2),
        "retries never hold back first attempts"
    );
    store.close().await;
    db.drop().await;
}

async fn an_open_circuit_holds_its_deliveries(db: Db) {
    let store = open(&db).await;
    let hook = webhook(&*store).await;
    create(&store, "Behind an open circuit").await;
    store
        .open_circuit(IntegrationId(hook), crate::sql::now_ms() + 60_000)
        .await
        .unwrap();
    let sink = Sink::attach(&*store, 100);
    assert!(sink.take(&*store).await.is_empty(), "the circuit is open");
    store.close_circuit(IntegrationId(hook)).await.unwrap();
    assert_eq!(sink.take(&*store).await.len(), 1);
    store.close().await;
    db.drop().await;
}

/// An integration the dispatcher excludes (its lane paused) is not claimed
/// for until it is no longer excluded.
async fn an_excluded_integration_waits(db: Db) {
    let store = open(&db).await;
    let (a, b) = (webhook(&*store).await, webhook(&*store).await);
    for n in 0..2 {
        create(&store, &format!("paused {n}")).await;
    }
    let sink = Sink::attach(&*store, 100);
    sink.wants.lock().unwrap().exclude = vec![IntegrationId(a)];
    let got = sink.take(&*store).await;
    assert!(got.iter().all(|d| d.integration_id == IntegrationId(b)));
    assert_eq!(got.len(), 2);
    sink.wants.lock().unwrap().exclude.clear();
    let got = sink.take(&*store).await;
    assert!(got.iter().all(|d| d.integration_id == IntegrationId(a)));
    assert_eq!(got.len(), 2);
    store.close().await;
    db.drop().await;
}

/// A claim takes of each integration no more than its lane's room and,
/// when another process holds leases of it, no more than the cluster's cap
/// leaves.
async fn each_integration_within_its_room_and_the_cap(db: Db) {
    let store = open(&db).await;
    let (a, b) = (webhook(&*store).await, webhook(&*store).await);
    for n in 0..6 {
        create(&store, &format!("roomy {n}")).await;
    }
    let sink = Sink::attach(&*store, 100);
    {
        let mut wants = sink.wants.lock().unwrap();
        wants.lane_depth = 3;
        wants.lane_rooms.insert(IntegrationId(a), 2);
    }
    let of = |got: &[ClaimedDelivery], id: i64| {
        got.iter()
            .filter(|d| d.integration_id == IntegrationId(id))
            .count()
    };
    let first = sink.take(&*store).await;
    assert_eq!((of(&first, a), of(&first, b)), (2, 3), "each lane's room");

    // One of b's leases is taken for another process's: with a cap of 3, b
    // has room for two more of the three left; a, whose leases are all
    // ours, keeps its lane's room. Our other leases of b are settling
    // (pushed, the outcome on its way): they take no room. (Ours not yet
    // pushed do: `lease_tests`.)
    let theirs = first
        .iter()
        .find(|d| d.integration_id == IntegrationId(b))
        .unwrap();
    sink.lease_to_another_process(&store, theirs.delivery_id)
        .await;
    sink.wants.lock().unwrap().cluster_cap = Some(3);
    let second = sink.take(&*store).await;
    assert_eq!((of(&second, a), of(&second, b)), (2, 2), "the cap's room");
    store.close().await;
    db.drop().await;
}

pub(crate) async fn count(store: &crate::store::SqlStore, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(&store.read).await.unwrap();
    n
}

async fn pruning_frees_finished_keys_and_keeps_open_ones(db: Db) {
    let store = open(&db).await;
    webhook(&*store).await;
    // Five incidents, one delivery each; the first also has two waiting.
    let mut ids = vec![];
    for n in 0..5 {
        ids.push(create(&store, &format!("Incident {n}")).await.incident_id);
    }
    comment(&*store, &ids[0], "c1").await;
    comment(&*store, &ids[0], "c2").await;
    let sink = Sink::attach(&*store, 100);
    let heads = sink.take(&*store).await;
    assert_eq!(heads.len(), 5);
    // All heads but the first incident's are done.
    let done: Vec<Completion> = heads[1..]
        .iter()
        .map(|d| outcome(d, DeliveryResolution::Done))
        .collect();
    store.complete_deliveries(done).await.unwrap();
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM delivery_tails").await,
        5
    );

    // In pages of two, so the walk crosses pages.
    let later = crate::sql::now_ms() + 60_000;
    let tails = super::prune::prune_tails(&store, 2).await.unwrap();
    let deliveries = super::prune::prune_deliveries(&store, later, 2)
        .await
        .unwrap();
    assert_eq!(
        (tails, deliveries),
        (4, 4),
        "the finished keys and deliveries"
    );
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM delivery_tails").await,
        1
    );
    assert_eq!(
        count(&store, "SELECT COUNT(*) FROM deliveries").await,
        3,
        "the first incident's head and the two behind it stay"
    );

    // A freed key starts again at once; the open one still holds its order.
    comment(&*store, &ids[1], "again").await;
    comment(&*store, &ids[0], "c3").await;
    let next = sink.take(&*store).await;
    assert_eq!(kinds(&next), vec![(ids[1].clone(), "i_comm".into(), 0)]);
    store.close().await;
    db.drop().await;
}

/// Deleting a webhook leaves its key tails to the prune, which the tails'
/// key (subject first) makes cheaper than a delete by webhook: nothing of
/// the webhook is left once it ran, and another webhook's keys stay.
async fn a_deleted_webhooks_tails_go_with_the_prune(db: Db) {
    let store = open(&db).await;
    let (gone, kept) = (webhook(&*store).await, webhook(&*store).await);
    for n in 0..3 {
        create(&store, &format!("Incident {n}")).await;
    }
    let tails_of =
        |id: i64| format!("SELECT COUNT(*) FROM delivery_tails WHERE integration_id = {id}");
    assert_eq!(count(&store, &tails_of(gone)).await, 3);
    store.delete_integration(IntegrationId(gone)).await.unwrap();
    let pruned = super::prune::prune_tails(&store, 2).await.unwrap();
    assert_eq!(
        pruned, 3,
        "the deleted webhook's tails, its deliveries gone"
    );
    assert_eq!(count(&store, &tails_of(gone)).await, 0);
    assert_eq!(
        count(&store, &tails_of(kept)).await,
        3,
        "still queued behind"
    );
    store.close().await;
    db.drop().await;
}

/// Deliveries leased as their batch inserts them still queue
/// behind older ones for their integration's room; those left out are
/// claimed by a later claim, and none twice.
async fn new_deliveries_queue_behind_older_ones_for_room(db: Db) {
    let store = open(&db).await;
    let hook = IntegrationId(webhook(&*store).await);
    let sink = Sink::attach(&*store, 100);
    sink.wants.lock().unwrap().lane_rooms.insert(hook, 0);
    let mut older = vec![];
    for n in 0..3 {
        older.push(create(&store, &format!("older {n}")).await.incident_id);
    }
    assert!(sink.take(&*store).await.is_empty(), "no room");
    sink.wants.lock().unwrap().lane_rooms.insert(hook, 2);
    let newer = create(&store, "newer").await.incident_id;
    let incidents = |got: &[ClaimedDelivery]| -> Vec<IncidentId> {
        kinds(got).into_iter().map(|(id, _, _)| id).collect()
    };
    // What the batch that made it claimed (handed over after its answer).
    sink.wants.lock().unwrap().lane_rooms.insert(hook, 0);
    let first = sink.take(&*store).await;
    assert_eq!(
        incidents(&first),
        older[..2],
        "the oldest, in the room of 2"
    );
    sink.wants.lock().unwrap().lane_rooms.insert(hook, 10);
    let rest = sink.take(&*store).await;
    assert_eq!(incidents(&rest), [older[2].clone(), newer]);
    assert!(sink.take(&*store).await.is_empty(), "none twice");
    store.close().await;
    db.drop().await;
}

on_both!(
    new_deliveries_queue_behind_older_ones_for_room,
    an_excluded_integration_waits,
    a_deleted_webhooks_tails_go_with_the_prune,
    pruning_frees_finished_keys_and_keeps_open_ones,
    fifo_per_incident_and_leases,
    retries_never_hold_back_first_attempts,
    an_open_circuit_holds_its_deliveries,
    each_integration_within_its_room_and_the_cap
);
