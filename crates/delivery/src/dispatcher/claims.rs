//! What the dispatcher asks the store to claim, and takes from it.

use std::sync::atomic::Ordering;

use dutyhook_store::{ClaimBudget, ClaimedDelivery, Claimer};

use super::Inner;

impl Claimer for Inner {
    fn budget(&self, now_ms: i64) -> ClaimBudget {
        if self.stopping.load(Ordering::Relaxed) {
            return ClaimBudget::default();
        }
        // One process owns a SQLite database; its lanes are the cap.
        let cluster_cap = (!self.store.owned_by_this_process())
            .then_some(self.cfg.inflight_per_integration as i64);
        let lanes = self.lanes.lock().expect("lanes lock");
        ClaimBudget {
            limit: (self.cfg.batch - lanes.held_total() as i64).max(0),
            exclude: lanes.exclusions(now_ms),
            lease_ms: self.cfg.lease.as_millis() as i64,
            cluster_cap,
            lane_depth: lanes.default_depth() as i64,
            lane_rooms: lanes.rooms(),
            held: lanes.held_by_integration(),
        }
    }

    fn take(&self, deliveries: Vec<ClaimedDelivery>) {
        let Some(me) = self.me.upgrade() else { return };
        let mut taken = Vec::with_capacity(deliveries.len());
        {
            let mut lanes = self.lanes.lock().expect("lanes lock");
            let mut held = self.held.lock().expect("held lock");
            for d in deliveries {
                held.insert(d.delivery_id);
                taken.push((lanes.hold(d.integration_id), d));
            }
        }
        // Called from the store's writer, which runs on a runtime of its
        // own: one task from there, whose spawns go to a worker's own
        // queue. A spawn from outside the runtime takes its shared queue's
        // lock and wakes a worker, each, on the writer's time.
        self.runtime.spawn(async move {
            for (permits, d) in taken {
                let me = me.clone();
                tokio::spawn(async move {
                    let permit = permits.acquire_owned().await.expect("semaphore open");
                    me.deliver(d, permit).await;
                });
            }
        });
    }
}
