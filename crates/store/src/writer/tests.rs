//! The writer without HTTP: one job's bad data fails that job alone, and a
//! failed commit leaves the writer able to write.

use std::sync::Arc;

use dutyhook_domain::event::{EventType, NewEvent, SubjectKind};
use dutyhook_domain::ids::ChannelId;
use dutyhook_domain::incident::Incident;
use dutyhook_domain::ops::{self, NewIncident};
use dutyhook_domain::severity::Severity;
use tokio::sync::Notify;

use super::{Answer, Job, MutateJob, Step};
use crate::connect::open_sql;
use crate::store::SqlStore;
use crate::test_db::{ada, open, recorder, Db};
use crate::topology::Backend;
use crate::{IncidentOp, IncidentStore, OutboxStore, Result, StoreError};

pub(crate) async fn create(store: &SqlStore, title: &str) -> Incident {
    try_create(store, title).await.unwrap()
}

pub(crate) async fn try_create(store: &SqlStore, title: &str) -> Result<Incident> {
    Ok(create_together(store, &[title]).await?.remove(0))
}

/// Creates an incident of each title, in one job: in one batch.
pub(crate) async fn create_together(store: &SqlStore, titles: &[&str]) -> Result<Vec<Incident>> {
    let inputs: Vec<NewIncident> = titles.iter().map(|title| new_incident(title)).collect();
    let op: IncidentOp = Arc::new(move |incs, rec| {
        for input in &inputs {
            incs.push(ops::create(input.clone(), &ada(), rec));
        }
        Ok(())
    });
    store.mutate_incidents(&[], recorder(), op).await
}

fn new_incident(title: &str) -> NewIncident {
    NewIncident {
        title: title.to_string(),
        severity: Severity::Info,
        channel_id: ChannelId(0),
        channel_name: String::new(),
        description: String::new(),
        impact: String::new(),
        assignees: vec![],
        fields: Default::default(),
    }
}

/// Queues a mutation without waiting for it.
async fn queue(
    store: &SqlStore,
    id: &str,
    op: IncidentOp,
) -> tokio::sync::oneshot::Receiver<Result<Vec<Incident>>> {
    let (answer, rx) = Answer::new();
    store
        .writer
        .send(Job::Mutate(Box::new(MutateJob {
            ids: vec![id.to_string().into()],
            run: None,
            rec: recorder(),
            op: Step::Run(op),
            answer,
        })))
        .await
        .unwrap();
    rx
}

/// Holds the writer inside a batch until `release` is notified, so that
/// what is queued meanwhile shares the next batch.
async fn hold_writer(store: &SqlStore) -> (Arc<Notify>, tokio::task::JoinHandle<()>) {
    let release = Arc::new(Notify::new());
    let started = Arc::new(Notify::new());
    let writer = store.writer.clone();
    let held = tokio::spawn({
        let (release, started) = (release.clone(), started.clone());
        async move {
            writer
                .tx(move |_| {
                    let (release, started) = (release.clone(), started.clone());
                    Box::pin(async move {
                        started.notify_one();
                        release.notified().await;
                        Ok(())
                    })
                })
                .await
                .unwrap()
        }
    });
    started.notified().await;
    (release, held)
}

async fn a_bad_job_fails_alone(db: Db) {
    let store = open_sql(
        &db.url,
        Some(crate::Keyring::parse(&crate::generate_key()).unwrap()),
    )
    .await
    .unwrap();
    let target = create(&store, "Disk full on db-1").await;
    let taken = store.events_after(0, 10).await.unwrap()[0].event_id.clone();
    let (release, held) = hold_writer(&store).await;
    let mut good = vec![];
    let mut bad = vec![];
    for i in 0..30 {
        let text = format!("note {i}");
        good.push(
            queue(
                &store,
                &target.incident_id,
                Arc::new(move |incs, rec| ops::comment(incs, &text, &ada(), rec)),
            )
            .await,
        );
        if i % 10 == 5 {
            // An event whose id is taken: the batch's insert of events fails.
            let taken = taken.clone();
            let op: IncidentOp = Arc::new(move |incs, rec| {
                ops::comment(incs, "doomed", &ada(), rec)?;
                rec.events.push(NewEvent {
                    event_id: taken.clone(),
                    event_type: EventType::i_comm,
                    event_time_ms: rec.now_ms,
                    subject_kind: SubjectKind::Incident,
                    subject_id: incs[0].incident_id.to_string(),
                    channel_id: ChannelId(0),
                    payload: "{}".into(),
                });
                Ok(())
            });
            bad.push(queue(&store, &target.incident_id, op).await);
        }
    }
    release.notify_one();
    held.await.unwrap();
    for rx in good {
        rx.await.unwrap().expect("a good change commits");
    }
    for rx in bad {
        let err = rx.await.unwrap().expect_err("the bad change fails");
        assert!(matches!(err, StoreError::Commit(_)), "{err:?}");
    }
    let feed = store
        .feed(&target.incident_id, &[], crate::Page::all(), true)
        .await
        .unwrap();
    let comments: Vec<String> = feed
        .items
        .iter()
        .filter(|t| t.kind == "i_comm")
        .map(|t| t.detail["comment"].as_str().unwrap_or_default().to_string())
        .collect();
    let expected: Vec<String> = (0..30).map(|i| format!("note {i}")).collect();
    assert_eq!(
        comments, expected,
        "every good comment, in order, no bad one"
    );
    assert_eq!(
        store.count_events().await.unwrap(),
        31,
        "i_new and 30 i_comm"
    );
    crate::Store::close(&*store).await;
    db.drop().await;
}

#[tokio::test]
async fn sqlite_a_bad_job_fails_alone() {
    a_bad_job_fails_alone(Db::sqlite().await).await
}

#[tokio::test]
async fn postgres_a_bad_job_fails_alone() {
    a_bad_job_fails_alone(Db::postgres().await).await
}

/// Found by filling a disk: after SQLite rolled back a failed commit by
/// itself, the connection still counted a transaction open, and every later
/// batch failed ("begin_with at non-zero transaction depth") until a
/// restart. A full database is reproduced with `max_page_count` on the
/// writer's own connection, which fails writes the way a full disk does
/// (SQLITE_FULL); the connection the writer opens after a failure has none.
#[tokio::test]
async fn after_a_full_disk_writes_resume() {
    let db = Db::sqlite().await;
    sqlx::any::install_default_drivers();
    let (write, read, mut side) = crate::sqlite::pools(&db.url).await.unwrap();
    let (pages,): (i64,) = sqlx::query_as("PRAGMA page_count")
        .fetch_one(&read)
        .await
        .unwrap();
    side.direct
        .as_mut()
        .expect("a database in a file has the writer's own connection")
        .script(&format!("PRAGMA max_page_count = {}", pages + 16))
        .unwrap();
    let keys = crate::Keyring::parse(&crate::generate_key()).unwrap();
    let store = SqlStore::new(Backend::Sqlite, write, read, Some(side), keys);
    let target = create(&store, "Fill me").await;
    let big = "x".repeat(9000);
    let mut refused = None;
    for _ in 0..50 {
        let text = big.clone();
        let op: IncidentOp = Arc::new(move |incs, rec| ops::comment(incs, &text, &ada(), rec));
        if let Err(e) = store
            .mutate_incidents(std::slice::from_ref(&target.incident_id), recorder(), op)
            .await
        {
            refused = Some(e);
            break;
        }
    }
    let refused = refused.expect("the database filled up");
    assert!(
        matches!(&refused, StoreError::Unavailable(m) if m.contains("disk is full")),
        "{refused:?}"
    );
    // The writer's next connection has no page limit: it writes again, once
    // its short pause after an unavailable database is over.
    let mut last = None;
    for _ in 0..100 {
        // As large as the one refused: it fits only without the limit.
        let text = big.clone();
        let op: IncidentOp = Arc::new(move |incs, rec| ops::comment(incs, &text, &ada(), rec));
        match store
            .mutate_incidents(std::slice::from_ref(&target.incident_id), recorder(), op)
            .await
        {
            Ok(_) => {
                last = None;
                break;
            }
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(last.is_none(), "writes resumed: {last:?}");
    crate::Store::close(&store).await;
    db.drop().await;
}

/// An operation that reads no stored incident (a creation) runs on its
/// caller's thread, not on the writer's, which every job waits for; what
/// it made is stored as made, and a failing one stores nothing.
#[tokio::test]
async fn a_creation_runs_on_its_callers_thread() {
    let db = Db::sqlite().await;
    let store = open(&db).await;
    let ran_on = Arc::new(std::sync::Mutex::new(None));
    let seen = ran_on.clone();
    let op: IncidentOp = Arc::new(move |incs, rec| {
        *seen.lock().unwrap() = std::thread::current().name().map(str::to_string);
        incs.push(ops::create(new_incident("Made by its caller"), &ada(), rec));
        Ok(())
    });
    let made = store.mutate_incidents(&[], recorder(), op).await.unwrap();
    let thread = ran_on.lock().unwrap().clone();
    assert_ne!(thread.as_deref(), Some("dutyhook-writer"));
    let stored = store.incident(&made[0].incident_id).await.unwrap().unwrap();
    assert_eq!(stored.title, "Made by its caller");
    assert_eq!(stored.last_event_ms, made[0].last_event_ms, "settled once");

    let failing: IncidentOp = Arc::new(|incs, rec| {
        incs.push(ops::create(new_incident("Never stored"), &ada(), rec));
        Err(dutyhook_domain::DomainError::not_found("channel", "7"))
    });
    assert!(store
        .mutate_incidents(&[], recorder(), failing)
        .await
        .is_err());
    let (stored,): (i64,) = sqlx::query_as("SELECT COUNT(*) FROM incidents")
        .fetch_one(&store.read)
        .await
        .unwrap();
    assert_eq!(stored, 1, "the failing operation's incident is not stored");
}

/// A creation is stored as the document its caller serialised with it,
/// unless a later operation of the same batch changed the incident again:
/// then as that one left it.
#[tokio::test]
async fn a_made_document_holds_until_changed_in_its_batch() {
    let db = Db::sqlite().await;
    let store = open(&db).await;
    let (release, held) = hold_writer(&store).await;
    let mut made = vec![];
    for title in ["Left alone", "Acknowledged"] {
        let op: IncidentOp = Arc::new(move |incs, rec| {
            incs.push(ops::create(new_incident(title), &ada(), rec));
            Ok(())
        });
        let (step, rec) = crate::incidents::apply::step(&[], op, recorder()).unwrap();
        let Step::Made(mut made_here) = step else {
            panic!("a creation is made by its caller");
        };
        let mut doc = made_here.incidents[0].clone();
        doc.title = format!("{title}, as its caller serialised it");
        made_here.docs[0] = serde_json::to_string(&doc).unwrap().into();
        let id = doc.incident_id.clone();
        let (answer, rx) = Answer::new();
        let job = MutateJob {
            ids: vec![],
            run: None,
            rec,
            op: Step::Made(made_here),
            answer,
        };
        store.writer.send(Job::Mutate(Box::new(job))).await.unwrap();
        made.push((id, rx));
    }
    let (alone, acked) = (made[0].0.clone(), made[1].0.clone());
    let ack = queue(
        &store,
        &acked,
        Arc::new(|incs, rec| ops::ack(incs, &ada(), rec)),
    )
    .await;
    release.notify_one();
    held.await.unwrap();
    for (_, rx) in made {
        rx.await.unwrap().unwrap();
    }
    ack.await.unwrap().unwrap();
    let stored = store.incident(&alone).await.unwrap().unwrap();
    assert_eq!(stored.title, "Left alone, as its caller serialised it");
    let stored = store.incident(&acked).await.unwrap().unwrap();
    assert_eq!(
        stored.title, "Acknowledged",
        "the acknowledgement's document"
    );
    assert_eq!(stored.progress.as_str(), "Processing");
    crate::Store::close(&*store).await;
    db.drop().await;
}
