//! Re-notify rounds in the store: one e-mail integration however often it
//! is asked for, each round queued once (a second start of the same round,
//! as a second process would try, queues nothing), and rounds counted on.

use dutyhook_domain::channel::Channel;
use dutyhook_domain::ids::ChannelId;
use dutyhook_domain::integration::IntegrationKind;
use dutyhook_domain::notify::ChannelNotify;

use crate::sql::Sql;
use crate::test_db::{on_both, open, Db};
use crate::writer::tests::create;
use crate::{ChannelStore, IntegrationStore, NotifyStore, Page, Store};

async fn each_round_is_queued_once(db: Db) {
    let store = open(&db).await;
    let mail = store.mail_integration().await.unwrap();
    assert_eq!(
        store.mail_integration().await.unwrap().integration_id,
        mail.integration_id
    );
    let listed = store
        .list_integrations(&[IntegrationKind::Mail], Page { p: 1, limit: 10 })
        .await
        .unwrap();
    assert_eq!(listed.total, 1);

    let channel = store
        .create_channel(&Channel {
            channel_id: ChannelId(0),
            channel_name: "Payments".into(),
            team_id: 0,
            description: String::new(),
            grouping: Default::default(),
            storm_thresholds: vec![],
            notify: ChannelNotify {
                team: false,
                renotify_minutes: 1,
                renotify_rounds: 3,
            },
            created_at: 0,
        })
        .await
        .unwrap();
    let incident = create(&store, "Checkout down").await.incident_id;
    let now_s = crate::sql::now_s();
    let mut q = Sql::new("UPDATE incidents SET channel_id = ");
    q.i64(channel).push(", start_time = ").i64(now_s - 150);
    q.push(" WHERE id = ").text(incident.as_str());
    store.exec(q).await.unwrap();

    let due = store.due_rounds(now_s, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].round, &due[0].incident_id), (1, &incident));
    let first = store
        .start_round(&due[0], mail.integration_id)
        .await
        .unwrap();
    let again = store
        .start_round(&due[0], mail.integration_id)
        .await
        .unwrap();
    assert!(first.is_some());
    assert_eq!(again, None, "a round already queued is not queued again");
    assert_eq!(store.round_of(first.unwrap()).await.unwrap(), Some(1));

    let next = store.due_rounds(now_s, 10).await.unwrap();
    assert_eq!(next[0].round, 2, "counted on from the rounds written");
    store
        .start_round(&next[0], mail.integration_id)
        .await
        .unwrap();
    assert!(
        store.due_rounds(now_s, 10).await.unwrap().is_empty(),
        "round 3 is due at 3 minutes"
    );
    assert_eq!(store.due_rounds(now_s + 30, 10).await.unwrap()[0].round, 3);
    store.close().await;
    db.drop().await;
}

on_both!(each_round_is_queued_once);
