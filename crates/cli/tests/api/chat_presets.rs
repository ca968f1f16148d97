//! Chat presets: a webhook created from one pushes, for every incident
//! event type, a readable message in the shape its chat service documents;
//! a preview shows what a template sends for a recorded or a sample event.

use serde_json::{json, Value};

use crate::helpers::{with_fields, Db, TestApp};
use crate::receiver::TestReceiver;

both_dbs!(
    every_preset_renders_every_incident_event_type_in_its_services_shape,
    a_push_with_each_preset_reaches_a_receiver,
    a_preview_renders_a_recorded_event_as_it_was_pushed,
    presets_and_previews_refuse_what_they_cannot_do
);

const PRESETS: [&str; 7] = [
    "slack",
    "teams",
    "discord",
    "feishu",
    "dingtalk",
    "wecom",
    "mattermost",
];

const INCIDENT_EVENTS: [&str; 20] = [
    "i_new",
    "i_assign",
    "i_a_rspd",
    "i_snooze",
    "i_wake",
    "i_ack",
    "i_unack",
    "i_storm",
    "i_custom",
    "i_rslv",
    "i_reopen",
    "i_merge",
    "i_comm",
    "i_r_title",
    "i_r_desc",
    "i_r_impact",
    "i_r_rc",
    "i_r_rsltn",
    "i_r_severity",
    "i_r_field",
];

fn text_at<'a>(body: &'a Value, pointer: &str) -> &'a str {
    body.pointer(pointer)
        .and_then(Value::as_str)
        .unwrap_or_else(|| panic!("{pointer} is text: {body}"))
}

/// The keys each service's incoming-webhook documentation requires, and
/// the text a person reads there.
fn readable_text(preset: &str, body: &Value) -> String {
    match preset {
        // api.slack.com/messaging/webhooks: `text` (the notification), and
        // blocks each with a `type`.
        "slack" => {
            let blocks = body["blocks"].as_array().expect("blocks");
            assert!(blocks.iter().all(|b| b["type"].is_string()), "{body}");
            let button = &blocks[1]["elements"][0];
            assert_eq!(button["type"], "button");
            assert!(text_at(button, "/url").starts_with("http"), "{body}");
            format!(
                "{} {}",
                text_at(body, "/text"),
                text_at(body, "/blocks/0/text/text")
            )
        }
        // Teams Workflows: a message with an Adaptive Card attachment.
        "teams" => {
            assert_eq!(body["type"], "message");
            let card = &body["attachments"][0];
            assert_eq!(
                card["contentType"],
                "application/vnd.microsoft.card.adaptive"
            );
            assert_eq!(card["content"]["type"], "AdaptiveCard");
            assert!(card["content"]["version"].is_string());
            let blocks = card["content"]["body"].as_array().expect("card body");
            blocks
                .iter()
                .map(|b| text_at(b, "/text").to_string())
                .collect::<Vec<_>>()
                .join(" ")
        }
        // discord.com/developers/docs/resources/webhook: content ≤ 2000,
        // embed titles ≤ 256.
        "discord" => {
            let content = text_at(body, "/content");
            assert!(content.chars().count() <= 2000);
            let embed = &body["embeds"][0];
            assert!(text_at(embed, "/title").chars().count() <= 256);
            assert!(text_at(embed, "/url").starts_with("http"));
            format!("{content} {}", text_at(embed, "/description"))
        }
        // open.feishu.cn custom bot: msg_type post, content.post.<lang>.
        "feishu" => {
            assert_eq!(body["msg_type"], "post");
            let post = &body["content"]["post"]["en_us"];
            let rows = post["content"].as_array().expect("rows");
            assert!(rows
                .iter()
                .flat_map(|r| r.as_array().unwrap())
                .all(|e| e["tag"].is_string()));
            format!(
                "{} {}",
                text_at(post, "/title"),
                text_at(post, "/content/0/0/text")
            )
        }
        // open.dingtalk.com robot: msgtype markdown with title and text.
        "dingtalk" => {
            assert_eq!(body["msgtype"], "markdown");
            format!(
                "{} {}",
                text_at(body, "/markdown/title"),
                text_at(body, "/markdown/text")
            )
        }
        // developer.work.weixin.qq.com group robot: markdown content ≤ 4096 bytes.
        "wecom" => {
            assert_eq!(body["msgtype"], "markdown");
            let content = text_at(body, "/markdown/content");
            assert!(content.len() <= 4096);
            content.to_string()
        }
        // developers.mattermost.com incoming webhooks: `text`.
        "mattermost" => text_at(body, "/text").to_string(),
        other => panic!("a preset the test does not know: {other}"),
    }
}

async fn every_preset_renders_every_incident_event_type_in_its_services_shape(db: Db) {
    let app = TestApp::spawn(db).await;
    let presets = app.ok("/integration/webhook/presets", json!({})).await;
    let names: Vec<String> = presets["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["preset"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(names, PRESETS);
    let id = app.incident("Checkout latency <high> & rising").await;
    for preset in &names {
        for event_type in INCIDENT_EVENTS {
            let preview = app
                .ok(
                    "/integration/webhook/preview",
                    json!({"preset": preset, "event_type": event_type, "incident_id": id}),
                )
                .await;
            let body: Value = serde_json::from_str(preview["body"].as_str().unwrap()).unwrap();
            let body = &body;
            let text = readable_text(preset, body);
            assert!(
                text.contains("Checkout latency <high> & rising"),
                "{preset} {event_type}: {text}"
            );
            assert!(
                !text.contains(event_type) && !text.contains("{{"),
                "{preset} {event_type} reads as words: {text}"
            );
        }
    }
}

async fn a_push_with_each_preset_reaches_a_receiver(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let presets = PRESETS;
    for preset in presets {
        let made = app
            .ok(
                "/integration/webhook/create",
                json!({"kind": "incident", "name": preset, "endpoint": format!("{}/{preset}", rx.url),
                       "preset": preset, "event_types": ["i_new"]}),
            )
            .await;
        // The preset is an ordinary template, there to edit.
        let info = app
            .ok(
                "/integration/webhook/info",
                json!({"integration_id": made["integration_id"]}),
            )
            .await;
        assert!(
            info["body_template"]
                .as_str()
                .unwrap()
                .contains("{{text.headline}}"),
            "{info}"
        );
    }
    app.incident("Payments down in eu-west").await;
    let got = rx.wait_for(presets.len()).await;
    let mut seen = vec![];
    for r in &got {
        let body = r.json();
        let preset = presets
            .iter()
            .find(|p| is_of(p, &body))
            .unwrap_or_else(|| panic!("a body of some preset: {body}"));
        let text = readable_text(preset, &body);
        assert!(
            text.contains("Payments down in eu-west"),
            "{preset}: {text}"
        );
        assert!(
            !r.header("webhook-signature").is_empty(),
            "signed as any push"
        );
        seen.push(*preset);
    }
    seen.sort_unstable();
    let mut all = presets.to_vec();
    all.sort_unstable();
    assert_eq!(seen, all);
}

/// Whether a pushed body is of `preset`, by its distinctive keys.
fn is_of(preset: &str, body: &Value) -> bool {
    match preset {
        "slack" => body.get("blocks").is_some(),
        "teams" => body.get("attachments").is_some(),
        "discord" => body.get("embeds").is_some(),
        "feishu" => body.get("msg_type").is_some(),
        "dingtalk" => body["msgtype"] == "markdown" && body["markdown"].get("title").is_some(),
        "wecom" => body["msgtype"] == "markdown" && body["markdown"].get("content").is_some(),
        "mattermost" => body.get("username").is_some(),
        _ => false,
    }
}

async fn a_preview_renders_a_recorded_event_as_it_was_pushed(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let hook = app
        .ok(
            "/integration/webhook/create",
            json!({"kind": "incident", "name": "t", "endpoint": rx.url,
                   "headers": [{"key": "X-Team", "value": "payments"},
                               {"key": "Authorization", "value": "Bearer s3cr3t", "secret": true}],
                   "body_template": "{\"m\": \"{{text.headline}}\", \"sev\": \"{{incident.incident_severity}}\"}"}),
        )
        .await["integration_id"]
        .clone();
    app.incident("Queue backlog").await;
    let got = rx.wait_for(1).await;
    let event_id = app.events().await[0]["event_id"].clone();
    let preview = app
        .ok(
            "/integration/webhook/preview",
            json!({"integration_id": hook, "event_id": event_id}),
        )
        .await;
    // The exact bytes that were pushed, and the headers they went with.
    assert_eq!(
        preview["body"].as_str().unwrap().as_bytes(),
        &got[0].body[..]
    );
    assert_eq!(preview["event_id"], event_id);
    assert_eq!(
        got[0].json()["m"],
        "Ada Admin opened an incident: Queue backlog"
    );
    let headers: std::collections::BTreeMap<String, String> = preview["headers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["key"].as_str().unwrap().to_lowercase(),
                h["value"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(headers["webhook-id"], got[0].header("webhook-id"));
    assert_eq!(headers["x-team"], "payments");
    assert_eq!(
        headers["authorization"], "******",
        "secret values are masked"
    );
    assert_eq!(
        headers["webhook-signature"], "******",
        "the signature is masked"
    );
    assert!(!preview.to_string().contains("s3cr3t"), "{preview}");
    // A template not saved yet, over the same event; the event as it is
    // for an empty one.
    let preview = app
        .ok(
            "/integration/webhook/preview",
            json!({"body_template": "{\"t\": \"{{incident.title}}\"}", "event_id": event_id}),
        )
        .await;
    assert_eq!(preview["body"], "{\"t\":\"Queue backlog\"}");
    let preview = app
        .ok(
            "/integration/webhook/preview",
            json!({"body_template": "", "event_id": event_id}),
        )
        .await;
    let payload: Value = serde_json::from_str(preview["body"].as_str().unwrap()).unwrap();
    assert_eq!(payload["incident"]["title"], "Queue backlog");
    // An alert webhook's template over a real alert.
    let ch = app.channel("ops").await;
    let key = crate::alerts::source(&app, ch, "standard").await;
    crate::alerts::pushed(
        &app,
        &key,
        json!({"event_status": "Critical", "title_rule": "CPU hot", "alert_key": "cpu"}),
    )
    .await;
    let alert_id = crate::alerts::alerts(&app, json!({})).await[0]["alert_id"].clone();
    let preview = app
        .ok(
            "/integration/webhook/preview",
            json!({"kind": "alert", "body_template": "{\"a\": \"{{alert.title}} {{text.event}}\"}",
                   "event_type": "a_update", "alert_id": alert_id}),
        )
        .await;
    assert_eq!(preview["body"], "{\"a\":\"CPU hot is now Critical\"}");
}

async fn presets_and_previews_refuse_what_they_cannot_do(db: Db) {
    let app = TestApp::spawn(db).await;
    let base = json!({"kind": "incident", "name": "x", "endpoint": "http://127.0.0.1:9/x"});
    let with = |extra: Value| with_fields(&base, extra);
    for (body, field, why) in [
        (
            with(json!({"preset": "slack", "body_template": "{}"})),
            "preset",
            "one or the other",
        ),
        (
            with(json!({"preset": "slack", "kind": "alert"})),
            "preset",
            "incident webhooks",
        ),
        (with(json!({"preset": "irc"})), "preset", "unknown variant"),
    ] {
        let message = app
            .fails(
                "/integration/webhook/create",
                body.clone(),
                400,
                "InvalidParameter",
            )
            .await;
        assert!(
            message.starts_with(field) && message.contains(why),
            "{body}: {message}"
        );
    }
    for (body, field) in [
        (
            json!({"preset": "slack", "body_template": "{}"}),
            "body_template",
        ),
        (json!({}), "body_template"),
        (json!({"body_template": "{\"a\": "}), "body_template"),
        (
            json!({"preset": "slack", "event_type": "i_ack", "event_id": "0".repeat(32)}),
            "event_id",
        ),
        (
            json!({"preset": "slack", "event_type": "a_new"}),
            "event_type",
        ),
        (
            json!({"body_template": "", "kind": "alert", "incident_id": "0".repeat(24)}),
            "incident_id",
        ),
        (
            json!({"body_template": "", "alert_id": "0".repeat(24)}),
            "alert_id",
        ),
        (
            json!({"body_template": "", "kind": "alert", "alert_id": "nope"}),
            "alert_id",
        ),
    ] {
        let message = app
            .fails(
                "/integration/webhook/preview",
                body.clone(),
                400,
                "InvalidParameter",
            )
            .await;
        assert!(message.starts_with(field), "{body}: {message}");
    }
    app.fails(
        "/integration/webhook/preview",
        json!({"preset": "slack", "event_id": "0".repeat(32)}),
        404,
        "ResourceNotFound",
    )
    .await;
    let (_, list) = app.post("/integration/webhook/list", json!({})).await;
    assert_eq!(list["data"]["total"], 0, "nothing was made: {list}");
}
