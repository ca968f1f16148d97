//! /openapi.json is generated from the handlers and covers every endpoint.

use serde_json::{json, Value};

use crate::helpers::{Db, TestApp};

both_dbs!(document_covers_every_endpoint);

const PATHS: &[&str] = &[
    "/person/create",
    "/person/list",
    "/person/info",
    "/team/create",
    "/team/update",
    "/team/list",
    "/app-key/create",
    "/app-key/list",
    "/app-key/delete",
    "/channel/create",
    "/channel/update",
    "/channel/list",
    "/channel/info",
    "/field/create",
    "/field/update",
    "/field/delete",
    "/field/list",
    "/incident/create",
    "/incident/info",
    "/incident/list",
    "/incident/list-by-ids",
    "/incident/feed",
    "/incident/ack",
    "/incident/unack",
    "/incident/snooze",
    "/incident/wake",
    "/incident/resolve",
    "/incident/reopen",
    "/incident/merge",
    "/incident/assign",
    "/incident/responder/add",
    "/incident/comment",
    "/incident/reset",
    "/incident/field/reset",
    "/incident/labels/update",
    "/health",
    "/openapi.json",
    "/metrics",
    "/integration/webhook/create",
    "/integration/webhook/update",
    "/integration/webhook/info",
    "/integration/webhook/list",
    "/integration/webhook/delete",
    "/integration/webhook/enable",
    "/integration/webhook/disable",
    "/integration/webhook/rotate-secret",
    "/integration/custom-action/rotate-secret",
    "/integration/webhook/test",
    "/integration/webhook/presets",
    "/integration/webhook/preview",
    "/integration/alert-source/update",
    "/integration/alert-source/test",
    "/person/update",
    "/person/deactivate",
    "/person/reactivate",
    "/integration/history/list",
    "/integration/history/info",
    "/integration/history/resend",
    "/ready",
    "/person/infos",
    "/team/infos",
    "/channel/infos",
    "/member/list",
    "/incident/alert/list",
    "/incident/past/list",
    "/incident/remove",
    "/alert/event/list",
    "/alert/list-by-ids",
    "/alert-event/list",
    "/webhook/history/list",
    "/webhook/history/detail",
    "/incident/disable-merge",
    "/alert/feed",
    "/alert/merge",
];

async fn document_covers_every_endpoint(db: Db) {
    let app = TestApp::spawn(db).await;
    let resp = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let doc: Value = resp.json().await.unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3.1"));
    let paths = doc["paths"].as_object().unwrap();
    for p in PATHS.iter().copied() {
        assert!(paths.contains_key(p), "{p} is missing from /openapi.json");
    }
    for (path, item) in paths {
        let op = item
            .get("post")
            .or_else(|| item.get("get"))
            .unwrap_or_else(|| panic!("{path} has no operation"));
        assert!(
            op["responses"]["200"].is_object(),
            "{path} documents its answer"
        );
        if item.get("post").is_some() {
            assert!(op["requestBody"].is_object(), "{path} documents its body");
        }
    }
    assert!(doc["components"]["securitySchemes"]["app_key"].is_object());
    // The limits the server enforces are in the schemas, for clients and fuzzers.
    let schemas = &doc["components"]["schemas"];
    for (schema, field, keyword, value) in [
        ("IncidentCreate", "title", "minLength", 3),
        ("IncidentCreate", "title", "maxLength", 512),
        ("IncidentComment", "comment", "maxLength", 10_000),
        ("IncidentList", "limit", "maximum", 100),
        ("HistoryList", "limit", "maximum", 100),
        ("HistoryList", "p", "minimum", 1),
    ] {
        assert_eq!(
            schemas[schema]["properties"][field][keyword],
            json!(value),
            "{schema}.{field} documents {keyword}"
        );
    }
    assert_eq!(
        schemas["IncidentFeed"]["properties"]["incident_id"]["pattern"],
        json!("^[0-9a-f]{24}$")
    );
    // utoipa takes only literals there: tie them to what the domain enforces.
    for (schema, range) in [
        ("WebhookCreate", dutyhook_domain::webhook::TIMEOUT_MS),
        ("WebhookUpdate", dutyhook_domain::webhook::TIMEOUT_MS),
        ("ActionCreate", dutyhook_domain::action::TIMEOUT_MS),
        ("ActionUpdate", dutyhook_domain::action::TIMEOUT_MS),
    ] {
        let t = &schemas[schema]["properties"]["timeout_ms"];
        assert_eq!(
            (t["minimum"].clone(), t["maximum"].clone()),
            (json!(range.start()), json!(range.end())),
            "{schema}.timeout_ms documents the range the domain enforces"
        );
    }
    // A client generated from the document can set any custom field value
    // and leave out what is optional; severities are an enum.
    let value = &schemas["FieldReset"]["properties"]["field_value"];
    assert!(
        value.get("type").is_none(),
        "field_value takes any JSON value: {value}"
    );
    let default = &schemas["FieldCreate"]["properties"]["default_value"];
    assert!(
        default.get("type").is_none(),
        "default_value takes any JSON value: {default}"
    );
    assert!(schemas["FieldCreate"]
        .get("required")
        .is_none_or(|r| !r.to_string().contains("default_value")));
    // Create and update have their own schemas: what a create requires, and
    // the id an update requires; the rest of an update is optional.
    for (create, update, id, requires) in [
        (
            "ChannelCreate",
            "ChannelUpdate",
            "channel_id",
            json!(["channel_name"]),
        ),
        ("TeamCreate", "TeamUpdate", "team_id", json!(["team_name"])),
        (
            "FieldCreate",
            "FieldUpdate",
            "field_id",
            json!(["field_name", "field_type"]),
        ),
        (
            "WebhookCreate",
            "WebhookUpdate",
            "integration_id",
            json!(["kind", "name", "endpoint"]),
        ),
        (
            "ActionCreate",
            "ActionUpdate",
            "integration_id",
            json!(["name", "channel_ids", "endpoint"]),
        ),
    ] {
        assert_eq!(schemas[create]["required"], requires, "{create}");
        assert!(schemas[create]["properties"].get(id).is_none(), "{create}");
        assert_eq!(schemas[update]["required"], json!([id]), "{update}");
        assert_eq!(
            schemas[update]["properties"][id]["type"], "integer",
            "{update}"
        );
    }
    assert_eq!(
        schemas["ChannelCreate"]["properties"]["channel_name"]["type"],
        "string"
    );
    assert_eq!(
        schemas["WebhookCreate"]["properties"]["kind"]["$ref"],
        "#/components/schemas/WebhookKind"
    );
    assert!(schemas.get("ChannelWrite").is_none());
    // Choices are enums; several in one string carry a pattern.
    for (schema, field, names) in [
        (
            "ChannelList",
            "orderby",
            json!(["created_at", "channel_name"]),
        ),
        ("HistoryList", "status", json!(["success", "failure"])),
        ("WebhookHistoryList", "status", json!(["success", "failed"])),
        (
            "RunCallback",
            "status",
            json!(["running", "succeeded", "failed"]),
        ),
        ("PersonCreate", "role", json!(["admin", "member", "viewer"])),
    ] {
        let property = &schemas[schema]["properties"][field];
        let named = property["$ref"].as_str().or_else(|| {
            property["oneOf"]
                .as_array()
                .and_then(|alts| alts.iter().find_map(|a| a["$ref"].as_str()))
        });
        let target = named.unwrap_or_else(|| panic!("{schema}.{field} names an enum: {property}"));
        let target = target.trim_start_matches("#/components/schemas/");
        assert_eq!(schemas[target]["enum"], names, "{schema}.{field}");
    }
    for (schema, field, names) in [
        ("IncidentList", "incident_severity", "Critical|Warning|Info"),
        ("IncidentList", "progress", "Triggered|Processing|Closed"),
        ("AlertListReq", "alert_severity", "Critical|Warning|Info"),
    ] {
        let pattern = schemas[schema]["properties"][field]["pattern"]
            .as_str()
            .unwrap_or_default();
        assert!(pattern.contains(names), "{schema}.{field}: {pattern}");
    }
    let types = &schemas["IncidentFeed"]["properties"]["types"]["items"]["enum"];
    for t in [
        "i_new",
        "i_custom",
        "i_labels",
        "i_links",
        "i_merge_disabled",
        "i_notify",
    ] {
        assert!(
            types.as_array().unwrap().contains(&json!(t)),
            "{t}: {types}"
        );
    }
    assert_eq!(
        doc["paths"]["/channel/update"]["post"]["requestBody"]["content"]["application/json"]
            ["schema"]["$ref"],
        "#/components/schemas/ChannelUpdate"
    );
    let required = schemas["IncidentCreate"]["required"].to_string();
    assert!(
        !required.contains("fields"),
        "fields is optional: {required}"
    );
    let fields = &schemas["IncidentCreate"]["properties"]["fields"];
    assert!(
        fields["additionalProperties"].is_object() || fields["additionalProperties"] == json!(true),
        "{fields}"
    );
    assert_eq!(
        schemas["IncidentCreate"]["properties"]["incident_severity"]["$ref"],
        json!("#/components/schemas/Severity")
    );
    let health = app.get_json("/health").await;
    assert_eq!(health["status"], "ok");
}
