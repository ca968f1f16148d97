//! What the incident pages show before (or without) the script: the latest
//! incidents, and one incident with its timeline, rendered on the server.
//! The script replaces it with the interactive page.

use dutyhook_domain::incident::IncidentView;
use dutyhook_domain::timeline::TimelineEntry;
use maud::{html, Markup};
use serde::Serialize;

/// An enumeration as the API spells it (`Critical`, `Processing`, …).
fn word<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// A Unix time in seconds as UTC text; "—" for "not happened".
pub fn when(s: i64) -> Markup {
    let Some(t) = (s > 0)
        .then(|| time::OffsetDateTime::from_unix_timestamp(s).ok())
        .flatten()
    else {
        return html! { "—" };
    };
    let (date, clock) = (
        t.date(),
        format!("{:02}:{:02}:{:02}", t.hour(), t.minute(), t.second()),
    );
    html! { time datetime=(format!("{date}T{clock}Z")) { (format!("{date} {clock} UTC")) } }
}

fn badge(text: &str) -> Markup {
    html! { span class={ "badge b-" (text.to_lowercase()) } { (text) } }
}

pub fn incident_list(items: &[IncidentView], total: i64) -> Markup {
    html! {
        p.hint { "The newest incidents of the last 7 days (" (total) " in all). Filters and paging need JavaScript." }
        div.table-wrap {
            table {
                thead { tr { th scope="col" { "Num" } th scope="col" { "Title" } th scope="col" { "Severity" }
                             th scope="col" { "Progress" } th scope="col" { "Channel" } th scope="col" { "Created" } } }
                tbody {
                    @for i in items {
                        tr {
                            td { (i.num) }
                            td { a href={ "/console/incident?id=" (i.incident_id) } { (i.title) } }
                            td { (badge(&word(&i.incident_severity))) }
                            td { (badge(&word(&i.progress))) }
                            td { @if i.channel_name.is_empty() { "—" } @else { (i.channel_name) } }
                            td { (when(i.created_at)) }
                        }
                    }
                    @if items.is_empty() { tr { td.empty colspan="6" { "No incidents in the last 7 days." } } }
                }
            }
        }
    }
}

pub fn incident(i: &IncidentView, feed: &[TimelineEntry]) -> Markup {
    let text = |s: &str| {
        if s.is_empty() {
            "—".to_string()
        } else {
            s.to_string()
        }
    };
    html! {
        section.incident-head {
            h2 { (i.title) }
            p.badges { (badge(&word(&i.incident_severity))) " " (badge(&word(&i.progress))) " "
                       span.badge { "Status " (word(&i.incident_status)) } }
        }
        p.hint { "Acknowledging, resolving, comments and custom actions need JavaScript." }
        div.columns {
            section {
                h3 { "Details" }
                dl.facts {
                    dt { "Channel" } dd { (text(&i.channel_name)) }
                    dt { "Created" } dd { (when(i.created_at)) }
                    dt { "Triggered" } dd { (when(i.start_time)) }
                    dt { "Last alert" } dd { (when(i.last_time)) }
                    dt { "Recovered" } dd { (when(i.end_time)) }
                    dt { "Acknowledged" } dd { (when(i.ack_time)) }
                    dt { "Snoozed until" } dd { (when(i.snoozed_before)) }
                    dt { "Closed" } dd { (when(i.close_time)) }
                    dt { "Alerts" } dd { (i.alert_cnt) }
                    dt { "Description" } dd { (text(&i.description)) }
                    dt { "Impact" } dd { (text(&i.impact)) }
                    dt { "Root cause" } dd { (text(&i.root_cause)) }
                    dt { "Resolution" } dd { (text(&i.resolution)) }
                }
                h3 { "Responders" }
                ul { @for r in &i.responders { li { (r.person_name) @if r.acknowledged_at > 0 { " — acknowledged " (when(r.acknowledged_at)) } } } }
                h3 { "Labels" }
                dl.facts { @for (k, v) in &i.labels { dt { (k) } dd { (v) } } }
                h3 { "Custom fields" }
                dl.facts { @for (k, v) in &i.fields { dt { (k) } dd { (v.as_str().map(String::from).unwrap_or_else(|| v.to_string())) } } }
            }
            section {
                h3 { "Timeline" }
                ol.timeline {
                    @for e in feed {
                        li data-type=(e.kind) {
                            (when(e.created_at / 1000)) " "
                            strong { @match &e.person { Some(p) => (p.person_name), None => "dutyhook" } }
                            " " (e.kind)
                            @if let Some(c) = e.detail.get("comment").and_then(|c| c.as_str()) { " — " q { (c) } }
                        }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_read_as_utc_and_zero_as_a_dash() {
        assert_eq!(when(0).into_string(), "—");
        assert_eq!(
            when(1_649_367_553).into_string(),
            r#"<time datetime="2022-04-07T21:39:13Z">2022-04-07 21:39:13 UTC</time>"#
        );
    }
}
