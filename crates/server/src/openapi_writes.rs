//! Create and update calls read one request type whose fields are all
//! optional, so that an update changes only what it names. A client
//! generated from the document needs to know more: what a create requires,
//! and that an update requires the id. The document therefore gives each
//! call its own schema, derived from the shared one, so the fields cannot
//! drift apart; the handlers refuse a body without them, naming the field.

use serde_json::{json, Map, Value};

struct SharedWrite {
    schema: &'static str,
    id: &'static str,
    create: &'static str,
    create_requires: &'static [&'static str],
    update: &'static str,
}

const SHARED_WRITES: &[SharedWrite] = &[
    SharedWrite {
        schema: "ChannelWrite",
        id: "channel_id",
        create: "/channel/create",
        create_requires: &["channel_name"],
        update: "/channel/update",
    },
    SharedWrite {
        schema: "TeamWrite",
        id: "team_id",
        create: "/team/create",
        create_requires: &["team_name"],
        update: "/team/update",
    },
    SharedWrite {
        schema: "FieldWrite",
        id: "field_id",
        create: "/field/create",
        create_requires: &["field_name", "field_type"],
        update: "/field/update",
    },
    SharedWrite {
        schema: "WebhookWrite",
        id: "integration_id",
        create: "/integration/webhook/create",
        create_requires: &["kind", "name", "endpoint"],
        update: "/integration/webhook/update",
    },
    SharedWrite {
        schema: "ActionWrite",
        id: "integration_id",
        create: "/integration/custom-action/create",
        create_requires: &["name", "channel_ids", "endpoint"],
        update: "/integration/custom-action/update",
    },
];

/// Replaces each shared `…Write` schema by a `…Create` and an `…Update`.
/// Panics when the document lacks what the table names: a programming
/// error that every test run meets first.
pub fn split_shared_writes(doc: &mut Value) {
    for w in SHARED_WRITES {
        let schemas = doc["components"]["schemas"]
            .as_object_mut()
            .expect("the document has schemas");
        let shared = schemas
            .shift_remove(w.schema)
            .unwrap_or_else(|| panic!("no schema {}", w.schema));
        let stem = w.schema.trim_end_matches("Write");

        let mut create = shared.clone();
        create["properties"]
            .as_object_mut()
            .expect("a write schema has properties")
            .shift_remove(w.id);
        require(&mut create, w.create_requires);
        let mut update = shared;
        require(&mut update, &[w.id]);

        for (suffix, schema, path) in [("Create", create, w.create), ("Update", update, w.update)] {
            let name = format!("{stem}{suffix}");
            let body = doc["paths"][path]["post"]
                .pointer_mut("/requestBody/content/application~1json/schema")
                .unwrap_or_else(|| panic!("{path} has no JSON request body"));
            *body = json!({"$ref": format!("#/components/schemas/{name}")});
            doc["components"]["schemas"][name] = schema;
        }
    }
}

/// Marks fields required and no longer `null`able.
fn require(schema: &mut Value, fields: &[&str]) {
    let properties = schema["properties"]
        .as_object_mut()
        .expect("a write schema has properties");
    for field in fields {
        let property = properties
            .get_mut(*field)
            .unwrap_or_else(|| panic!("no property {field}"));
        *property = without_null(property.take());
    }
    schema
        .as_object_mut()
        .expect("a schema is an object")
        .insert(
            "required".into(),
            Value::Array(fields.iter().map(|f| json!(f)).collect()),
        );
}

/// `{"type": ["string", "null"]}` → `{"type": "string"}`;
/// `{"oneOf": [{"type": "null"}, X]}` → X (with the property's description).
fn without_null(mut property: Value) -> Value {
    if let Some(Value::Array(types)) = property.get("type") {
        let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
        property["type"] = match kept.as_slice() {
            [one] => one.clone(),
            _ => Value::Array(kept),
        };
        return property;
    }
    let Some(Value::Array(alternatives)) = property.get("oneOf") else {
        return property;
    };
    let kept: Vec<Value> = alternatives
        .iter()
        .filter(|a| a.get("type") != Some(&json!("null")))
        .cloned()
        .collect();
    let mut out: Map<String, Value> = match kept.as_slice() {
        [Value::Object(one)] => one.clone(),
        _ => {
            property["oneOf"] = Value::Array(kept);
            return property;
        }
    };
    for (key, value) in property.as_object().into_iter().flatten() {
        if key != "oneOf" {
            out.insert(key.clone(), value.clone());
        }
    }
    Value::Object(out)
}
