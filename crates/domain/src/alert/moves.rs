//! Moving an alert into another incident by hand (the hosted product's
//! "merge alerts into an incident").

use super::grouping::follow_alerts;
use super::model::{emit_alert, note_alert, Alert, AlertIncident, ALERT_JOINED};
use crate::event::EventType;
use crate::incident::Incident;
use crate::person::Person;
use crate::recorder::Recorder;

/// Moves `alert` from the incident it is in (`from`, when it has one) into
/// `to`: both incidents' alert counts and open-alert tallies follow, `to`
/// takes the alert's severity unless a person set its own, and the alert
/// emits `a_merge` naming `to`. An alert already in `to` is left alone.
pub fn move_by_hand(
    alert: &mut Alert,
    from: Option<&mut Incident>,
    to: &mut Incident,
    by: &Person,
    rec: &mut Recorder,
) {
    if alert
        .incident
        .as_ref()
        .is_some_and(|i| i.incident_id == to.incident_id)
    {
        return;
    }
    let now = rec.now_s();
    let open = alert.is_open();
    if let Some(src) = from {
        src.alert_cnt = (src.alert_cnt - 1).max(0);
        if open {
            src.alerts_open.remove(alert.alert_status);
            follow_alerts(src);
        }
        src.updated_at = now;
        rec.touch(&src.incident_id);
    }
    to.alert_cnt += 1;
    if open {
        to.alerts_open.add(alert.alert_status);
        if !to.severity_set_by_person {
            to.incident_severity = to.incident_severity.max(alert.alert_severity);
        }
        follow_alerts(to);
    }
    to.last_time = to.last_time.max(alert.last_time);
    to.updated_at = now;
    rec.touch(&to.incident_id);
    alert.incident = Some(AlertIncident {
        incident_id: to.incident_id.clone(),
        title: to.title.clone(),
    });
    alert.updated_at = now;
    emit_alert(rec, alert, EventType::a_merge, Some(by));
    note_alert(rec, to, ALERT_JOINED, alert, Some(by));
}
