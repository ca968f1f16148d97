//! The series of `delivery.md`, "Observability", in Prometheus text format.

use std::sync::Arc;

use dutyhook_domain::ids::IntegrationId;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::lanes::CircuitState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PushLabels {
    pub kind: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct IntegrationLabels {
    pub integration_id: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabels {
    pub outcome: String,
}

#[derive(Clone)]
pub struct Metrics {
    registry: Arc<Registry>,
    pushes: Family<PushLabels, Counter>,
    latency: Family<KindLabels, Histogram>,
    pending: Gauge,
    oldest_pending_age: Gauge,
    circuit: Family<IntegrationLabels, Gauge>,
    custom_actions: Family<ResultLabels, Counter>,
    given_up: Family<KindLabels, Counter>,
    disabled: Gauge,
    oldest_by_integration: Family<IntegrationLabels, Gauge>,
    processes: Gauge,
}

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
    ])
}

impl Default for Metrics {
    fn default() -> Self {
        let mut r = Registry::with_prefix("dutyhook");
        let pushes = Family::<PushLabels, Counter>::default();
        r.register(
            "pushes",
            "Push attempts by integration kind and outcome (success, or the failure class)",
            pushes.clone(),
        );
        let latency = Family::<KindLabels, Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        r.register(
            "push_duration_seconds",
            "Time from sending a push to its response headers",
            latency.clone(),
        );
        let pending = Gauge::default();
        r.register(
            "deliveries_pending",
            "Deliveries not yet settled",
            pending.clone(),
        );
        let oldest_pending_age = Gauge::default();
        r.register(
            "deliveries_oldest_pending_age_seconds",
            "Age of the oldest unsettled delivery",
            oldest_pending_age.clone(),
        );
        let circuit = Family::<IntegrationLabels, Gauge>::default();
        r.register(
            "circuit_state",
            "Circuit per integration: 0 closed, 1 open (paused), 2 half-open (probing)",
            circuit.clone(),
        );
        let custom_actions = Family::<ResultLabels, Counter>::default();
        r.register(
            "custom_action_results",
            "Custom action triggers by outcome",
            custom_actions.clone(),
        );
        let given_up = Family::<KindLabels, Counter>::default();
        r.register(
            "deliveries_given_up",
            "Deliveries that ended unpushed: retries used up or a final 4xx, by integration kind",
            given_up.clone(),
        );
        let disabled = Gauge::default();
        r.register(
            "integrations_disabled",
            "Integrations disabled now (by hand, by a 410, or by auto-disable)",
            disabled.clone(),
        );
        let oldest_by_integration = Family::<IntegrationLabels, Gauge>::default();
        r.register(
            "integration_oldest_pending_age_seconds",
            "Age of the oldest unsettled delivery per webhook (0 when none waits)",
            oldest_by_integration.clone(),
        );
        let processes = Gauge::default();
        r.register(
            "processes",
            "Processes sharing the database, this one included, as it last saw them",
            processes.clone(),
        );
        Metrics {
            registry: Arc::new(r),
            processes,
            given_up,
            disabled,
            oldest_by_integration,
            pushes,
            latency,
            pending,
            oldest_pending_age,
            circuit,
            custom_actions,
        }
    }
}

impl Metrics {
    pub fn record_push(&self, kind: &str, outcome: &str, seconds: f64) {
        self.pushes
            .get_or_create(&PushLabels {
                kind: kind.into(),
                outcome: outcome.into(),
            })
            .inc();
        self.latency
            .get_or_create(&KindLabels { kind: kind.into() })
            .observe(seconds);
    }

    pub fn record_custom_action(&self, outcome: &str) {
        self.custom_actions
            .get_or_create(&ResultLabels {
                outcome: outcome.into(),
            })
            .inc();
    }

    pub fn set_processes(&self, processes: i64) {
        self.processes.set(processes);
    }

    pub fn set_pending(&self, pending: i64, oldest_age_seconds: i64) {
        self.pending.set(pending);
        self.oldest_pending_age.set(oldest_age_seconds);
    }

    pub fn record_given_up(&self, kind: &str) {
        self.given_up
            .get_or_create(&KindLabels { kind: kind.into() })
            .inc();
    }

    /// How many integrations are disabled, and the oldest unsettled
    /// delivery's age (s) of each integration that has one.
    pub fn set_integrations(&self, disabled: i64, oldest: &[(IntegrationId, i64)]) {
        self.disabled.set(disabled);
        self.oldest_by_integration.clear();
        for (id, age) in oldest {
            self.oldest_by_integration
                .get_or_create(&IntegrationLabels {
                    integration_id: id.to_string(),
                })
                .set(*age);
        }
    }

    pub fn set_circuits(&self, states: &[(IntegrationId, CircuitState)]) {
        self.circuit.clear();
        for (id, s) in states {
            let v = match s {
                CircuitState::Closed => 0,
                CircuitState::Open => 1,
                CircuitState::HalfOpen => 2,
            };
            self.circuit
                .get_or_create(&IntegrationLabels {
                    integration_id: id.to_string(),
                })
                .set(v);
        }
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)
            .expect("writing to a String cannot fail");
        out
    }
}
