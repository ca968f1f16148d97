//! For any stream of alert events (keys, statuses, group labels, gaps in
//! time), ingestion agrees with a small reference model on: how many alerts
//! exist, each alert's event count and progress, which alerts share an
//! incident, each incident's alert count and recovery, and how many `i_rslv`
//! and `i_storm` events were emitted.

use std::collections::{BTreeMap, HashMap};

use dutyhook_domain::alert::{ingest, standard_event, IngestState, Source};
use dutyhook_domain::channel::{Channel, Grouping, GroupingMethod, WindowStart};
use dutyhook_domain::event::EventType;
use dutyhook_domain::ids::{AlertId, ChannelId, IncidentId, IntegrationId};
use dutyhook_domain::incident::RenderContext;
use dutyhook_domain::recorder::Recorder;
use dutyhook_domain::severity::{Progress, Status};
use proptest::prelude::*;
use serde_json::json;

#[derive(Debug, Clone)]
struct Ev {
    key: u8,
    status: Status,
    group: u8,
    /// Seconds since the previous event.
    gap: i64,
}

fn ev() -> impl Strategy<Value = Ev> {
    let status = prop_oneof![
        Just(Status::Critical),
        Just(Status::Warning),
        Just(Status::Info),
        Just(Status::Ok),
    ];
    // Gaps straddle a 5-minute window: 299, 300 and 301 s are edges.
    let gap = prop_oneof![
        Just(0i64),
        Just(1),
        Just(60),
        Just(299),
        Just(300),
        Just(301)
    ];
    (0u8..6, status, 0u8..3, gap).prop_map(|(key, status, group, gap)| Ev {
        key,
        status,
        group,
        gap,
    })
}

#[derive(Debug, Clone)]
struct Setup {
    method_p: bool,
    window_minutes: Option<i64>,
    window_start_merge: bool,
    thresholds: Vec<i64>,
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        any::<bool>(),
        prop_oneof![Just(None), Just(Some(5i64))],
        any::<bool>(),
        prop_oneof![Just(vec![]), Just(vec![2i64]), Just(vec![2, 3, 5])],
    )
        .prop_map(
            |(method_p, window_minutes, window_start_merge, thresholds)| Setup {
                method_p,
                window_minutes,
                window_start_merge,
                thresholds,
            },
        )
}

#[derive(Debug, Default)]
struct MAlert {
    open: bool,
    event_cnt: i64,
    incident: usize,
}

#[derive(Debug, Default)]
struct MIncident {
    alert_cnt: i64,
    open_alerts: i64,
    closed: bool,
    anchor: i64,
    storms: usize,
}

#[derive(Debug, Default)]
struct Model {
    alerts: Vec<MAlert>,
    incidents: Vec<MIncident>,
    open_by_key: HashMap<u8, usize>,
    newest_by_group: HashMap<u8, usize>,
    resolved: usize,
}

impl Model {
    fn apply(&mut self, s: &Setup, e: &Ev, now: i64) {
        if let Some(&a) = self.open_by_key.get(&e.key) {
            self.alerts[a].event_cnt += 1;
            if e.status == Status::Ok {
                self.alerts[a].open = false;
                self.open_by_key.remove(&e.key);
                let inc = &mut self.incidents[self.alerts[a].incident];
                inc.open_alerts -= 1;
                if inc.open_alerts == 0 && !inc.closed {
                    inc.closed = true;
                    self.resolved += 1;
                }
            }
            return;
        }
        if e.status == Status::Ok {
            return;
        }
        let joinable = s
            .method_p
            .then(|| self.newest_by_group.get(&e.group).copied())
            .flatten()
            .filter(|&i| {
                let inc = &self.incidents[i];
                !inc.closed && s.window_minutes.is_none_or(|w| now - inc.anchor <= w * 60)
            });
        let i = match joinable {
            Some(i) => {
                let inc = &mut self.incidents[i];
                inc.alert_cnt += 1;
                inc.open_alerts += 1;
                if s.window_start_merge {
                    inc.anchor = now;
                }
                i
            }
            None => {
                self.incidents.push(MIncident {
                    alert_cnt: 1,
                    open_alerts: 1,
                    anchor: now,
                    ..Default::default()
                });
                let i = self.incidents.len() - 1;
                if s.method_p {
                    self.newest_by_group.insert(e.group, i);
                }
                i
            }
        };
        let inc = &mut self.incidents[i];
        inc.storms = s.thresholds.iter().filter(|t| inc.alert_cnt >= **t).count();
        self.alerts.push(MAlert {
            open: true,
            event_cnt: 1,
            incident: i,
        });
        self.open_by_key.insert(e.key, self.alerts.len() - 1);
    }
}

fn source(s: &Setup) -> Source {
    Source {
        integration_id: IntegrationId(7),
        name: "model".into(),
        source_type: dutyhook_domain::integration::SourceType::Standard,
        channel: Channel {
            channel_id: ChannelId(3),
            channel_name: "model".into(),
            team_id: 0,
            description: String::new(),
            grouping: Grouping {
                method: if s.method_p {
                    GroupingMethod::ByRule
                } else {
                    GroupingMethod::EachAlert
                },
                dimensions: vec!["labels.group".into()],
                window_minutes: s.window_minutes,
                window_start: if s.window_start_merge {
                    WindowStart::Merge
                } else {
                    WindowStart::Incident
                },
                strict: false,
            },
            storm_thresholds: s.thresholds.clone(),
            notify: Default::default(),
            created_at: 0,
        },
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(400))]

    #[test]
    fn ingestion_matches_the_reference_model(s in setup(), events in proptest::collection::vec(ev(), 1..60)) {
        let src = source(&s);
        let ctx = RenderContext { public_url: "http://x".into(), account_id: 1, account_name: "a".into() };
        let mut state = IngestState::default();
        let mut model = Model::default();
        let mut now = 1_700_000_000i64;
        let (mut rslv, mut storms) = (0usize, 0usize);
        // The model's alert index for each alert id, in creation order.
        let mut index_of: HashMap<AlertId, usize> = HashMap::new();
        for e in &events {
            now += e.gap;
            let body = json!({"title_rule": "check", "event_status": e.status,
                              "alert_key": format!("k{}", e.key), "labels": {"group": format!("g{}", e.group)}});
            let parsed = standard_event(src.integration_id, &body).unwrap();
            let mut rec = Recorder::new(now * 1000, ctx.clone());
            ingest(&mut state, &src, &parsed, &mut rec);
            model.apply(&s, e, now);
            for n in &rec.events {
                match n.event_type {
                    EventType::i_rslv => rslv += 1,
                    EventType::i_storm => storms += 1,
                    EventType::a_new => {
                        let id = AlertId::from(n.subject_id.clone());
                        index_of.insert(id, model.alerts.len() - 1);
                    }
                    _ => {}
                }
            }
        }
        prop_assert_eq!(state.changed_alerts.len(), model.alerts.len(), "alerts");
        prop_assert_eq!(state.incidents.len(), model.incidents.len(), "incidents");
        prop_assert_eq!(rslv, model.resolved, "i_rslv events");
        prop_assert_eq!(storms, model.incidents.iter().map(|i| i.storms).sum::<usize>(), "i_storm events");
        // Incidents correspond one to one through their alerts.
        let mut incident_of: BTreeMap<usize, IncidentId> = BTreeMap::new();
        for (id, a) in &state.changed_alerts {
            let m = &model.alerts[index_of[id]];
            prop_assert_eq!(a.event_cnt, m.event_cnt, "event_cnt of {}", id);
            prop_assert_eq!(a.progress == Progress::Closed, !m.open, "progress of {}", id);
            prop_assert_eq!(a.alert_status == Status::Ok, !m.open, "status of {}", id);
            let inc = a.incident.as_ref().unwrap().incident_id.clone();
            if let Some(seen) = incident_of.insert(m.incident, inc.clone()) {
                prop_assert_eq!(seen, inc, "alerts of one model incident share one incident");
            }
        }
        prop_assert_eq!(incident_of.len(), model.incidents.len());
        for (mi, id) in &incident_of {
            let (inc, m) = (&state.incidents[id], &model.incidents[*mi]);
            prop_assert_eq!(inc.alert_cnt, m.alert_cnt, "alert_cnt");
            prop_assert_eq!(inc.alerts_open.total(), m.open_alerts, "open alerts");
            prop_assert_eq!(inc.progress == Progress::Closed, m.closed, "recovery");
            prop_assert_eq!(inc.incident_status == Status::Ok, m.closed, "incident_status");
            prop_assert_eq!(inc.storms_sent.len(), m.storms, "storms");
        }
    }
}
