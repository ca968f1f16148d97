use serde::Serialize;
use serde_json::{Map, Value};

use crate::event::{EventType, NewEvent, SubjectKind};
use crate::event_text::EventText;
use crate::ids::{new_event_id, ChannelId, EventId, IncidentId, RunId};
use crate::incident::{Incident, RenderContext};
use crate::person::Person;
use crate::run::Run;
use crate::timeline::TimelineEntry;

/// The document of an event: `{event_id, event_time, event_type, person?}`
/// and the subject under its kind's name.
pub fn event_doc(
    event_id: &str,
    event_time_ms: i64,
    event_type: EventType,
    person: Option<&Person>,
    kind: SubjectKind,
    subject: Value,
) -> Map<String, Value> {
    let mut doc = Map::new();
    doc.insert("event_id".into(), Value::String(event_id.to_string()));
    doc.insert("event_time".into(), Value::from(event_time_ms));
    doc.insert(
        "event_type".into(),
        Value::String(event_type.as_str().into()),
    );
    if let Some(p) = person {
        doc.insert(
            "person".into(),
            serde_json::to_value(p).expect("person serialises"),
        );
    }
    doc.insert(kind.as_str().into(), subject);
    doc
}

/// Collects what one operation did: the events (each payload rendered from the
/// incident as it is at that moment), the timeline records, and which
/// incidents changed. The store writes all of it in one transaction.
#[derive(Debug, Clone)]
pub struct Recorder {
    pub now_ms: i64,
    pub ctx: RenderContext,
    pub events: Vec<NewEvent>,
    pub timeline: Vec<TimelineEntry>,
    pub touched: Vec<IncidentId>,
    /// Incidents closed by hand whose open alerts close with them.
    pub closed_alerts_of: Vec<IncidentId>,
    /// (from, to): alerts that follow a merged incident into its target.
    pub alert_moves: Vec<(IncidentId, IncidentId)>,
    /// Custom action runs to keep as they are now.
    pub runs: Vec<Run>,
}

impl Recorder {
    pub fn new(now_ms: i64, ctx: RenderContext) -> Self {
        Self {
            now_ms,
            ctx,
            events: vec![],
            timeline: vec![],
            touched: vec![],
            closed_alerts_of: vec![],
            alert_moves: vec![],
            runs: vec![],
        }
    }

    pub fn now_s(&self) -> i64 {
        self.now_ms.div_euclid(1000)
    }

    /// A run the store handed to this operation, or one kept by it.
    pub fn run_mut(&mut self, run_id: &RunId) -> Option<&mut Run> {
        self.runs.iter_mut().find(|r| &r.run_id == run_id)
    }

    /// Keeps `run` as it is now, in the commit of this operation.
    pub fn keep_run(&mut self, run: Run) {
        self.runs.retain(|r| r.run_id != run.run_id);
        self.runs.push(run);
    }

    pub fn touch(&mut self, incident_id: &IncidentId) {
        if !self.touched.contains(incident_id) {
            self.touched.push(incident_id.clone());
        }
    }

    /// Records an event about `incident` as it is now, plus its timeline record.
    pub fn emit(
        &mut self,
        incident: &Incident,
        event_type: EventType,
        person: Option<&Person>,
        extra: Map<String, Value>,
    ) {
        self.emit_event(incident, event_type, person, extra.clone());
        self.note(incident, event_type.as_str(), person, Value::Object(extra));
    }

    /// As [`Recorder::emit`], with more in the timeline record's `detail` than
    /// the event carries: what changed, from what, to what (the hosted
    /// product's feed details).
    pub fn emit_noted(
        &mut self,
        incident: &Incident,
        event_type: EventType,
        person: Option<&Person>,
        extra: Map<String, Value>,
        noted: Value,
    ) {
        let mut detail = extra.clone();
        if let Value::Object(more) = noted {
            detail.extend(more);
        }
        self.emit_event(incident, event_type, person, extra);
        self.note(incident, event_type.as_str(), person, Value::Object(detail));
    }

    /// Records an event about `incident` as it is now, without a timeline record.
    pub fn emit_event(
        &mut self,
        incident: &Incident,
        event_type: EventType,
        person: Option<&Person>,
        extra: Map<String, Value>,
    ) {
        self.touch(&incident.incident_id);
        self.push_event(
            event_type,
            person,
            SubjectKind::Incident,
            &incident.incident_id,
            incident.channel_id,
            &incident.view(&self.ctx),
            extra,
        );
    }

    /// Records an event whose payload carries `subject` under its kind's name
    /// (`incident` or `alert`), followed by the `extra` fields.
    #[allow(clippy::too_many_arguments)]
    pub fn push_event<S: Serialize>(
        &mut self,
        event_type: EventType,
        person: Option<&Person>,
        kind: SubjectKind,
        subject_id: &str,
        channel_id: ChannelId,
        subject: &S,
        extra: Map<String, Value>,
    ) {
        let event_id = EventId::from(new_event_id());
        let payload = EventText {
            event_id: &event_id,
            event_time_ms: self.now_ms,
            event_type,
            person,
            kind,
            subject,
            extra: &extra,
        }
        .to_text();
        self.events.push(NewEvent {
            event_id,
            event_type,
            event_time_ms: self.now_ms,
            subject_kind: kind,
            subject_id: subject_id.to_string(),
            channel_id,
            payload,
        });
    }

    /// Makes the incident events recorded so far tell the final story, as
    /// receivers that keep an incident's newest event rely on: each carries
    /// its incident as `incidents` now hold it (after the whole operation),
    /// and an incident's events get strictly increasing `event_time` (the
    /// previous one's + 1 ms where the clock has not moved), remembered in
    /// `last_event_ms` across operations. Call once the operation is done.
    ///
    /// An operation's newest event already shows the final state (every
    /// operation emits after it changes the incident), so only its time is
    /// checked; [`Recorder::settle_all`] is for alert ingestion, which may
    /// change an incident after its event without a further one.
    pub fn settle<'a>(&mut self, incidents: impl IntoIterator<Item = &'a mut Incident>) {
        self.settle_from(incidents, false)
    }

    /// As [`Recorder::settle`], rendering every incident event again.
    pub fn settle_all<'a>(&mut self, incidents: impl IntoIterator<Item = &'a mut Incident>) {
        self.settle_from(incidents, true)
    }

    fn settle_from<'a>(
        &mut self,
        incidents: impl IntoIterator<Item = &'a mut Incident>,
        newest_too: bool,
    ) {
        for inc in incidents {
            let mine: Vec<usize> = (0..self.events.len())
                .filter(|&i| {
                    let e = &self.events[i];
                    e.subject_kind == SubjectKind::Incident
                        && e.subject_id == inc.incident_id.as_str()
                })
                .collect();
            let Some(&newest) = mine.last() else {
                continue;
            };
            let mut current: Option<Value> = None;
            for i in mine {
                let event = &mut self.events[i];
                let time = event.event_time_ms.max(inc.last_event_ms + 1);
                inc.last_event_ms = time;
                if i == newest && !newest_too && time == event.event_time_ms {
                    continue;
                }
                let state = current.get_or_insert_with(|| inc.to_payload(&self.ctx));
                let mut doc: Map<String, Value> =
                    serde_json::from_str(&event.payload).expect("an event payload is an object");
                doc.insert("event_time".into(), Value::from(time));
                doc.insert("incident".into(), state.clone());
                event.event_time_ms = time;
                event.payload = Value::Object(doc).to_string();
            }
        }
    }

    /// A timeline record without an event (e.g. label enrichment).
    pub fn note(
        &mut self,
        incident: &Incident,
        kind: &str,
        person: Option<&Person>,
        detail: Value,
    ) {
        self.touch(&incident.incident_id);
        self.timeline.push(TimelineEntry {
            incident_id: incident.incident_id.clone(),
            kind: kind.to_string(),
            person: person.cloned(),
            created_at: self.now_ms,
            detail,
        });
    }
}
