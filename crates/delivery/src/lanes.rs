//! One lane per integration: a cap on attempts in flight and a circuit
//! breaker (`delivery.md`, "Isolation"). Plain state over explicit times, so
//! the rules are unit-tested without a clock.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dutyhook_domain::ids::IntegrationId;
use tokio::sync::Semaphore;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    /// Paused until the time it was opened for has passed.
    Open,
    /// The pause is over: the next attempt is the probe that decides.
    HalfOpen,
}

#[derive(Debug, Clone, Copy)]
pub struct LaneConfig {
    pub inflight: usize,
    pub failure_threshold: u32,
    pub open_for: Duration,
    pub open_for_max: Duration,
    /// How long a claimed delivery stays ours: what waits in a lane must
    /// start well within it.
    pub lease: Duration,
}

pub struct Lane {
    pub permits: Arc<Semaphore>,
    /// Claimed and not yet settled (waiting for a permit or in flight).
    pub held: usize,
    /// How many it may hold (see `Lanes::set_timeout`).
    depth: usize,
    consecutive_failures: u32,
    open_until_ms: i64,
    open_for: Duration,
}

impl Lane {
    fn new(cfg: &LaneConfig) -> Lane {
        Lane {
            permits: Arc::new(Semaphore::new(cfg.inflight)),
            held: 0,
            depth: cfg.inflight * 2,
            consecutive_failures: 0,
            open_until_ms: 0,
            open_for: cfg.open_for,
        }
    }

    pub fn state(&self, now_ms: i64) -> CircuitState {
        if self.open_until_ms == 0 {
            CircuitState::Closed
        } else if now_ms < self.open_until_ms {
            CircuitState::Open
        } else {
            CircuitState::HalfOpen
        }
    }
}

pub struct Lanes {
    cfg: LaneConfig,
    lanes: HashMap<IntegrationId, Lane>,
}

impl Lanes {
    pub fn new(cfg: LaneConfig) -> Lanes {
        Lanes {
            cfg,
            lanes: HashMap::new(),
        }
    }

    /// How many claimed deliveries a lane holds before its integration is
    /// left out of claims, until its timeout is known: twice its cap, enough
    /// to keep every permit busy between claims.
    pub fn default_depth(&self) -> usize {
        self.cfg.inflight * 2
    }

    /// Sizes a lane for its endpoint's timeout: deep enough that its permits
    /// never wait for the next claim, shallow enough that the last of what it
    /// holds starts within half a lease even if every push takes the whole
    /// timeout (twice the cap at the longest timeout, 30 s; eight times at the
    /// default 1 s).
    pub fn set_timeout(&mut self, integration_id: IntegrationId, timeout: Duration) {
        let cfg = self.cfg;
        let waves = (cfg.lease.as_millis() / 2 / timeout.as_millis().max(1)) as usize;
        if let Some(l) = self.lanes.get_mut(&integration_id) {
            l.depth = cfg.inflight * waves.clamp(2, 8);
        }
    }

    /// Per lane: how many more it takes.
    pub fn rooms(&self) -> HashMap<IntegrationId, i64> {
        self.lanes
            .iter()
            .map(|(id, l)| (*id, l.depth as i64 - l.held as i64))
            .collect()
    }

    /// Integrations not to claim for now: paused, probing, or holding their
    /// depth.
    pub fn exclusions(&self, now_ms: i64) -> Vec<IntegrationId> {
        self.lanes
            .iter()
            .filter(|(_, l)| match l.state(now_ms) {
                CircuitState::Open => true,
                CircuitState::HalfOpen => l.held > 0,
                CircuitState::Closed => l.held >= l.depth,
            })
            .map(|(id, _)| *id)
            .collect()
    }

    /// Takes a claimed delivery into its lane; answers the lane's permits.
    pub fn hold(&mut self, integration_id: IntegrationId) -> Arc<Semaphore> {
        let cfg = self.cfg;
        let lane = self
            .lanes
            .entry(integration_id)
            .or_insert_with(|| Lane::new(&cfg));
        lane.held += 1;
        lane.permits.clone()
    }

    pub fn release(&mut self, integration_id: IntegrationId) {
        if let Some(l) = self.lanes.get_mut(&integration_id) {
            l.held = l.held.saturating_sub(1);
        }
    }

    /// Until when the lane is paused, if it is.
    pub fn paused_until(&self, integration_id: IntegrationId, now_ms: i64) -> Option<i64> {
        self.lanes
            .get(&integration_id)
            .filter(|l| l.state(now_ms) == CircuitState::Open)
            .map(|l| l.open_until_ms)
    }

    /// Records an attempt's result; answers the end of a pause it started.
    /// A pause lasts its doubling base times `1 + stretch` (`stretch` random
    /// in [0, 0.25) in production), so that probes do not fall in step with
    /// an endpoint that fails on a fixed period.
    pub fn settle(
        &mut self,
        integration_id: IntegrationId,
        success: bool,
        now_ms: i64,
        stretch: f64,
    ) -> Option<i64> {
        let cfg = self.cfg;
        let l = self.lanes.get_mut(&integration_id)?;
        if success {
            l.consecutive_failures = 0;
            l.open_until_ms = 0;
            l.open_for = cfg.open_for;
            return None;
        }
        l.consecutive_failures += 1;
        let was_probe = l.state(now_ms) == CircuitState::HalfOpen;
        if was_probe || l.consecutive_failures >= cfg.failure_threshold {
            l.open_until_ms = now_ms
                + l.open_for
                    .mul_f64(1.0 + stretch.clamp(0.0, 1.0))
                    .as_millis() as i64;
            l.open_for = (l.open_for * 2).min(cfg.open_for_max);
            return Some(l.open_until_ms);
        }
        None
    }

    pub fn states(&self, now_ms: i64) -> Vec<(IntegrationId, CircuitState)> {
        self.lanes
            .iter()
            .map(|(id, l)| (*id, l.state(now_ms)))
            .collect()
    }

    pub fn held_by_integration(&self) -> HashMap<IntegrationId, i64> {
        self.lanes
            .iter()
            .filter(|(_, l)| l.held > 0)
            .map(|(id, l)| (*id, l.held as i64))
            .collect()
    }

    pub fn held_total(&self) -> usize {
        self.lanes.values().map(|l| l.held).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lanes() -> Lanes {
        Lanes::new(LaneConfig {
            inflight: 2,
            failure_threshold: 5,
            open_for: Duration::from_secs(30),
            open_for_max: Duration::from_secs(600),
            lease: Duration::from_secs(120),
        })
    }

    #[test]
    fn a_pause_is_stretched_but_its_base_still_doubles() {
        let mut l = lanes();
        l.hold(IntegrationId(1));
        for _ in 0..4 {
            l.settle(IntegrationId(1), false, 0, 0.2);
        }
        assert_eq!(l.settle(IntegrationId(1), false, 0, 0.2), Some(36_000));
        assert_eq!(
            l.settle(IntegrationId(1), false, 36_000, 0.2),
            Some(36_000 + 72_000)
        );
        assert_eq!(
            l.settle(IntegrationId(1), false, 0, 5.0),
            Some(240_000),
            "stretch at most doubles"
        );
    }

    #[test]
    fn five_failures_open_the_circuit_and_pauses_double_up_to_the_maximum() {
        let mut l = lanes();
        l.hold(IntegrationId(1));
        for _ in 0..4 {
            assert_eq!(l.settle(IntegrationId(1), false, 0, 0.0), None);
        }
        assert_eq!(l.settle(IntegrationId(1), false, 0, 0.0), Some(30_000));
        assert_eq!(l.paused_until(IntegrationId(1), 10), Some(30_000));
        assert!(
            l.exclusions(10).contains(&IntegrationId(1)),
            "paused lanes are not claimed for"
        );
        // The pause is over: one probe decides; a failed probe pauses twice as long.
        assert_eq!(
            l.states(30_000),
            vec![(IntegrationId(1), CircuitState::HalfOpen)]
        );
        assert_eq!(l.settle(IntegrationId(1), false, 30_000, 0.0), Some(90_000));
        let mut now = 90_000;
        let mut last = 60_000;
        for _ in 0..10 {
            let until = l.settle(IntegrationId(1), false, now, 0.0).unwrap();
            assert!(until - now <= 600_000 && until - now >= last.min(600_000));
            last = until - now;
            now = until;
        }
        assert_eq!(last, 600_000);
        // A successful probe closes it and resets the pause.
        assert_eq!(l.settle(IntegrationId(1), true, now, 0.0), None);
        assert_eq!(
            l.states(now),
            vec![(IntegrationId(1), CircuitState::Closed)]
        );
        for _ in 0..4 {
            l.settle(IntegrationId(1), false, now, 0.0);
        }
        assert_eq!(
            l.settle(IntegrationId(1), false, now, 0.0),
            Some(now + 30_000)
        );
    }

    #[test]
    fn a_probing_lane_and_a_full_lane_are_not_claimed_for() {
        let mut l = lanes();
        for _ in 0..4 {
            l.hold(IntegrationId(1));
        }
        assert_eq!(
            l.exclusions(0),
            vec![IntegrationId(1)],
            "holding twice the cap"
        );
        l.release(IntegrationId(1));
        assert!(l.exclusions(0).is_empty());
        for _ in 0..5 {
            l.settle(IntegrationId(1), false, 0, 0.0);
        }
        // Half-open while it holds something: that one is the probe.
        assert_eq!(l.exclusions(30_000), vec![IntegrationId(1)]);
        for _ in 0..3 {
            l.release(IntegrationId(1));
        }
        assert!(l.exclusions(30_000).is_empty());
        assert_eq!(l.held_total(), 0);
    }

    #[test]
    fn a_lane_holds_more_for_a_fast_endpoint_but_never_past_half_a_lease() {
        let mut l = lanes();
        l.hold(IntegrationId(1));
        assert_eq!(
            l.rooms(),
            HashMap::from([(IntegrationId(1), 3)]),
            "twice the cap until sized"
        );
        l.set_timeout(IntegrationId(1), Duration::from_millis(1000));
        assert_eq!(
            l.rooms(),
            HashMap::from([(IntegrationId(1), 15)]),
            "eight times the cap"
        );
        l.set_timeout(IntegrationId(1), Duration::from_secs(20));
        assert_eq!(
            l.rooms(),
            HashMap::from([(IntegrationId(1), 5)]),
            "60 s of waves of 20 s: 3"
        );
        l.set_timeout(IntegrationId(1), Duration::from_secs(30));
        assert_eq!(l.rooms(), HashMap::from([(IntegrationId(1), 3)]));
        for _ in 0..3 {
            l.hold(IntegrationId(1));
        }
        assert_eq!(l.exclusions(0), vec![IntegrationId(1)], "full");
    }
}
