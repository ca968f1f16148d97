//! Subscriptions kept between batches while another process shares the
//! database (PostgreSQL): a webhook it creates or deletes is seen by this
//! process's next batch, not when the change notification arrives.

use dutyhook_domain::ids::IntegrationId;

use crate::queue::tests::{count, webhook};
use crate::sql::Sql;
use crate::store::SqlStore;
use crate::test_db::{on_both, open, Db};
use crate::writer::tests::{create, try_create};
use crate::{IntegrationStore, Store};

async fn deliveries_of(store: &SqlStore, integration: i64) -> i64 {
    let sql = format!("SELECT COUNT(*) FROM deliveries WHERE integration_id = {integration}");
    count(store, &sql).await
}

#[tokio::test]
async fn another_processs_webhook_changes_reach_the_next_batch() {
    let db = Db::postgres().await;
    let (here, there) = (open(&db).await, open(&db).await);
    // Read and kept here: no webhook yet.
    create(&here, "before").await;

    let hook = webhook(&*there).await;
    create(&here, "after the webhook").await;
    assert_eq!(
        deliveries_of(&here, hook).await,
        1,
        "the new webhook gets it"
    );

    there.delete_integration(IntegrationId(hook)).await.unwrap();
    assert_eq!(
        deliveries_of(&here, hook).await,
        0,
        "unsent ones went with it"
    );
    create(&here, "after the delete").await;
    assert_eq!(
        deliveries_of(&here, hook).await,
        0,
        "nothing queued for a deleted webhook"
    );

    // Kept again from here on: a create of its own still reaches the
    // webhooks as they are.
    let other = webhook(&*there).await;
    create(&here, "and again").await;
    create(&here, "once more").await;
    assert_eq!(deliveries_of(&here, other).await, 2);
    here.close().await;
    there.close().await;
    db.drop().await;
}

/// Without the count's row, nothing could tell whether what is kept is
/// current: a create fails rather than reach no webhook.
async fn a_lost_count_fails_loudly(db: Db) {
    let store = open(&db).await;
    let hook = webhook(&*store).await;
    store
        .exec(Sql::new("DELETE FROM rare_changes"))
        .await
        .unwrap();
    assert!(try_create(&store, "unsent").await.is_err());
    assert_eq!(deliveries_of(&store, hook).await, 0);
    store.close().await;
    db.drop().await;
}

on_both!(a_lost_count_fails_loudly);
