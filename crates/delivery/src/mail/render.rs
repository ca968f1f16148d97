//! A notification mail: subject, plain text and HTML (every value escaped)
//! with the incident's severity, title, channel, labels, its page and the
//! link that asks to acknowledge it.

use dutyhook_domain::event::EventType;
use dutyhook_domain::notify::Occasion;
use dutyhook_domain::template_text::readable;
use maud::html;
use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Composed {
    pub subject: String,
    pub text: String,
    pub html: String,
}

/// The console page that asks to acknowledge the incident at `detail_url`.
pub fn acknowledge_url(detail_url: &str) -> String {
    let sep = if detail_url.contains('?') { '&' } else { '?' };
    format!("{detail_url}{sep}acknowledge=1")
}

/// The mail for `occasion`, about the event `payload`.
pub fn compose(occasion: Occasion, payload: &Value) -> Composed {
    let incident = &payload["incident"];
    let s = |k: &str| incident[k].as_str().unwrap_or_default().to_string();
    let (title, severity, num) = (s("title"), s("incident_severity"), s("num"));
    let (channel, detail_url) = (s("channel_name"), s("detail_url"));
    let ack_url = acknowledge_url(&detail_url);
    let headline = match occasion {
        Occasion::Event(EventType::i_assign | EventType::i_a_rspd) => {
            format!("You are responding to: {title}")
        }
        Occasion::Renotify { round } => {
            format!("Still not acknowledged (reminder {round}): {title}")
        }
        Occasion::Event(_) => readable(payload)["headline"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    };
    let subject = format!("[{severity}] {headline} (#{num})");
    let labels: Vec<(String, String)> = incident["labels"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| {
            (
                k.clone(),
                v.as_str().map_or_else(|| v.to_string(), str::to_string),
            )
        })
        .collect();
    let mut text = format!("{headline}\n\nTitle: {title}\nSeverity: {severity}\n");
    if !channel.is_empty() {
        text.push_str(&format!("Channel: {channel}\n"));
    }
    for (k, v) in &labels {
        text.push_str(&format!("Label {k}: {v}\n"));
    }
    text.push_str(&format!(
        "\nOpen the incident: {detail_url}\nAcknowledge it: {ack_url}\n\n-- \nSent by dutyhook. To stop these mails, turn mail off on your row of the People page.\n"
    ));
    let html = html! {
        p { strong { (headline) } }
        table {
            tr { th align="left" { "Title" } td { (title) } }
            tr { th align="left" { "Severity" } td { (severity) } }
            @if !channel.is_empty() {
                tr { th align="left" { "Channel" } td { (channel) } }
            }
            @for (k, v) in &labels {
                tr { th align="left" { "Label " (k) } td { (v) } }
            }
        }
        p {
            a href=(detail_url) { "Open the incident" }
            " · "
            a href=(ack_url) { "Acknowledge it" }
        }
        p style="color:#666;font-size:small" {
            "Sent by dutyhook. To stop these mails, turn mail off on your row of the People page."
        }
    }
    .into_string();
    Composed {
        subject,
        text,
        html,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(title: &str) -> Value {
        json!({
            "event_type": "i_assign",
            "incident": {
                "title": title, "incident_severity": "Critical", "num": "ABC123",
                "channel_name": "Payments", "progress": "Triggered",
                "detail_url": "http://127.0.0.1:8080/console/incidents/abc",
                "labels": {"host": "db-7"},
            },
        })
    }

    #[test]
    fn an_assignment_mail_says_what_and_where() {
        let m = compose(Occasion::Event(EventType::i_assign), &payload("Disk full"));
        assert_eq!(
            m.subject,
            "[Critical] You are responding to: Disk full (#ABC123)"
        );
        assert!(m.text.contains("Channel: Payments"));
        assert!(m.text.contains("Label host: db-7"));
        assert!(m
            .text
            .contains("http://127.0.0.1:8080/console/incidents/abc?acknowledge=1"));
        assert!(m
            .html
            .contains("href=\"http://127.0.0.1:8080/console/incidents/abc\""));
    }

    #[test]
    fn html_is_escaped() {
        let m = compose(
            Occasion::Renotify { round: 2 },
            &payload("<script>alert(1)</script> & co"),
        );
        assert!(!m.html.contains("<script>"), "{}", m.html);
        assert!(m
            .html
            .contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; co"));
        assert!(m.subject.contains("reminder 2"));
    }
}
