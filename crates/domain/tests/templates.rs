//! Template rules over random payloads: a lone variable keeps the value (and
//! its JSON type) exactly; paths that do not resolve are left as written;
//! templates without variables render to themselves.

use dutyhook_domain::template::{lookup, Template};
use proptest::prelude::*;
use serde_json::{json, Value};

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        (-1e9f64..1e9).prop_map(|f| json!(f)),
        "[a-zA-Z0-9 {}.:\"\\\\]{0,12}".prop_map(Value::String),
    ]
}

fn payload() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z_]{1,6}", inner, 0..5)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Every path that resolves in `v`, with its value.
fn paths(v: &Value, prefix: &str, out: &mut Vec<(String, Value)>) {
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    match v {
        Value::Object(m) => m.iter().for_each(|(k, c)| {
            out.push((join(k), c.clone()));
            paths(c, &join(k), out);
        }),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, c)| {
            out.push((join(&i.to_string()), c.clone()));
            paths(c, &join(&i.to_string()), out);
        }),
        _ => {}
    }
}

proptest! {
    #[test]
    fn lone_variables_keep_type_and_value(p in payload()) {
        let mut all = vec![];
        paths(&p, "", &mut all);
        for (path, value) in all {
            let t = Template::parse(&json!({"v": format!("{{{{{path}}}}}")}).to_string()).unwrap();
            let out = t.render(&p);
            prop_assert_eq!(&out["v"], &value, "path {}", path);
            prop_assert_eq!(lookup(&p, &path), Some(&value));
        }
    }

    #[test]
    fn unknown_paths_are_untouched(p in payload(), name in "[A-Z]{3,8}") {
        // Upper-case names never occur in the generated payloads' keys.
        let text = format!("{{{{{name}.x}}}}");
        let t = Template::parse(&json!({"a": text, "b": format!("pre {text} post")}).to_string()).unwrap();
        let out = t.render(&p);
        prop_assert_eq!(&out["a"], &json!(text));
        prop_assert_eq!(&out["b"], &json!(format!("pre {text} post")));
    }

    #[test]
    fn templates_without_variables_render_to_themselves(t in payload(), p in payload()) {
        let text = t.to_string();
        prop_assume!(!text.contains("{{"));
        let tpl = Template::parse(&text).unwrap();
        prop_assert_eq!(tpl.render(&p), t);
    }

    #[test]
    fn rendering_is_total_and_valid_json(t in payload(), p in payload()) {
        let tpl = Template::parse(&t.to_string()).unwrap();
        let out = tpl.render(&p).to_string();
        prop_assert!(serde_json::from_str::<Value>(&out).is_ok());
    }
}
