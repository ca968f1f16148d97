//! Reads kept in memory, on both databases: a change through the store is
//! seen by the next read, whether it revokes a caller, defines a field or
//! changes who is told of events.

use dutyhook_domain::field::{FieldDef, FieldType};
use dutyhook_domain::ids::{IntegrationId, PersonId};
use dutyhook_domain::person::Role;

use crate::queue::tests::webhook;
use crate::sql::Sql;
use crate::store::SqlStore;
use crate::test_db::{on_both, open, Db};
use crate::writer::tests::create;
use crate::{
    ActionStore, ChannelStore, DeliveryStore, DirectoryStore, IntegrationStore, NewPerson,
    PressSlot,
};

/// Waits until the store hears of every change (at once on SQLite).
async fn until_heard(store: &SqlStore) {
    let waited = std::time::Instant::now();
    while !store.writer.generation().heard() {
        assert!(waited.elapsed().as_secs() < 10, "never listening");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn member(name: &str) -> NewPerson {
    NewPerson {
        name: name.into(),
        email: format!("{name}@example.com"),
        role: Role::Member,
        password_hash: String::new(),
    }
}

async fn a_revoked_or_changed_caller_is_seen_at_once(db: Db) {
    let store = open(&db).await;
    let lin = store.create_person(member("lin")).await.unwrap();
    let id = lin.person.person_id;
    let key = store
        .create_app_key(id, "k", "hash-1", "dh_…1")
        .await
        .unwrap();
    store
        .create_app_key(id, "k2", "hash-2", "dh_…2")
        .await
        .unwrap();
    for _ in 0..2 {
        let found = store.person_by_key_hash("hash-1").await.unwrap().unwrap();
        assert_eq!(found.role, Role::Member);
    }
    store
        .update_person(id, "lin", "lin@example.com", Role::Admin)
        .await
        .unwrap();
    let found = store.person_by_key_hash("hash-1").await.unwrap().unwrap();
    assert_eq!(found.role, Role::Admin, "a new role is seen at once");
    store.delete_app_key(key).await.unwrap();
    assert_eq!(store.person_by_key_hash("hash-1").await.unwrap(), None);
    assert!(store.person_by_key_hash("hash-2").await.unwrap().is_some());
    store.set_person_active(id, false).await.unwrap();
    assert_eq!(store.person_by_key_hash("hash-2").await.unwrap(), None);
}

async fn a_field_defined_is_seen_at_once(db: Db) {
    let store = open(&db).await;
    assert!(store.fields().await.unwrap().is_empty());
    assert!(store.fields().await.unwrap().is_empty());
    let mut def = FieldDef {
        field_id: 0,
        field_name: "region".into(),
        display_name: "Region".into(),
        field_type: FieldType::Text,
        options: vec![],
        default_value: None,
    };
    def.field_id = store.create_field(&def).await.unwrap();
    assert_eq!(store.fields().await.unwrap()[0].display_name, "Region");
    def.display_name = "Cloud region".into();
    store.update_field(&def).await.unwrap();
    assert_eq!(
        store.fields().await.unwrap()[0].display_name,
        "Cloud region"
    );
    store.delete_field(def.field_id).await.unwrap();
    assert!(store.fields().await.unwrap().is_empty());
}

/// Deliveries per state of the integration's.
async fn deliveries(store: &SqlStore, integration: i64) -> Vec<(String, i64)> {
    let mut q = Sql::new("SELECT state, COUNT(*) FROM deliveries WHERE integration_id = ");
    q.i64(integration).push(" GROUP BY state ORDER BY state");
    q.query_as().fetch_all(&store.read).await.unwrap()
}

async fn who_is_told_follows_each_change(db: Db) {
    let store = open(&db).await;
    let first = webhook(&*store).await;
    create(&store, "one").await;
    create(&store, "two").await;
    let second = webhook(&*store).await;
    create(&store, "three").await;
    assert_eq!(
        deliveries(&store, second).await.len(),
        1,
        "a new webhook is told"
    );
    store
        .set_integration_enabled(IntegrationId(first), false, "by hand")
        .await
        .unwrap();
    create(&store, "four").await;
    let states = deliveries(&store, first).await;
    assert!(
        states.contains(&("skipped".into(), 1)),
        "a disabled webhook's delivery is skipped: {states:?}"
    );
    store
        .delete_integration(IntegrationId(second))
        .await
        .unwrap();
    create(&store, "five").await;
    let total: i64 = deliveries(&store, second)
        .await
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(total, 0, "a removed webhook is told nothing");
}

/// A press's and a push's own bookkeeping — the attempt in the history,
/// the idempotency key, the run's reservation, the endpoint's circuit,
/// released leases — changes nothing kept: what is kept stays kept (a
/// press made every process forget its callers and subscriptions).
async fn bookkeeping_keeps_what_is_kept(db: Db) {
    let store = open(&db).await;
    let hook = IntegrationId(webhook(&*store).await);
    // On PostgreSQL the listener's connecting is a generation of its own.
    until_heard(&store).await;
    let before = store.writer.generation().now();
    let attempt = crate::upgrade_tests::attempt(0, hook);
    store.record_attempt(&attempt).await.unwrap();
    let now = crate::sql::now_ms();
    let slot = store
        .begin_press(PersonId(1), "key-1", "i1/1", now, 60_000)
        .await
        .unwrap();
    assert!(matches!(slot, PressSlot::Fresh));
    store
        .finish_press(PersonId(1), "key-1", Some("{}"))
        .await
        .unwrap();
    store.open_circuit(hook, now + 60_000).await.unwrap();
    store.close_circuit(hook).await.unwrap();
    store.release_expired_leases(now).await.unwrap();
    assert_eq!(
        store.writer.generation().now(),
        before,
        "bookkeeping made every process forget what it keeps"
    );
    store.create_person(member("lin")).await.unwrap();
    assert_ne!(
        store.writer.generation().now(),
        before,
        "a change to people is one that makes processes forget"
    );
}

on_both!(
    a_revoked_or_changed_caller_is_seen_at_once,
    a_field_defined_is_seen_at_once,
    who_is_told_follows_each_change,
    bookkeeping_keeps_what_is_kept
);

/// Two processes on one PostgreSQL database: a key revoked through one
/// stops working on the other once its commit is heard of.
#[tokio::test]
async fn another_process_hears_of_a_revoked_key() {
    let db = Db::postgres().await;
    let (here, there) = (open(&db).await, open(&db).await);
    let lin = here.create_person(member("lin")).await.unwrap();
    let key = here
        .create_app_key(lin.person.person_id, "k", "hash-1", "dh_…1")
        .await
        .unwrap();
    until_heard(&there).await;
    for _ in 0..2 {
        assert!(there.person_by_key_hash("hash-1").await.unwrap().is_some());
    }
    here.delete_app_key(key).await.unwrap();
    let waited = std::time::Instant::now();
    while there.person_by_key_hash("hash-1").await.unwrap().is_some() {
        assert!(
            waited.elapsed().as_secs() < 10,
            "the other process still answers a revoked key"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
