//! Answers that write back, and runs: an endpoint's JSON answer sets labels
//! and fields, comments, adds links and resolves, as far as the action
//! allows; one invalid part applies nothing; every press is a run.

use serde_json::{json, Value};

use crate::actions::{feed, incident_in, trigger};
use crate::helpers::{feed_types, Db, TestApp};
use crate::receiver::{Reply, TestReceiver};

both_dbs!(
    an_answer_writes_back_each_key,
    an_answer_resolves_the_incident,
    one_invalid_part_applies_nothing,
    keys_outside_write_back_are_refused_by_name,
    text_answers_change_nothing,
    every_press_is_a_run,
    the_hosted_products_path_presses_too,
);

fn json_reply(body: Value) -> Reply {
    Reply {
        headers: vec![("content-type", "application/json".into())],
        body: body.to_string(),
        ..Reply::status(200)
    }
}

async fn writing_action(app: &TestApp, ch: i64, name: &str, url: &str, keys: Value) -> i64 {
    app.ok(
        "/integration/custom-action/create",
        json!({"name": name, "channel_ids": [ch], "endpoint": url, "write_back": keys}),
    )
    .await["integration_id"]
        .as_i64()
        .unwrap()
}

async fn an_answer_writes_back_each_key(db: Db) {
    let app = TestApp::spawn(db).await;
    app.ok(
        "/field/create",
        json!({"field_name": "trace", "display_name": "Trace", "field_type": "text"}),
    )
    .await;
    let hooks = TestReceiver::start().await;
    app.ok(
        "/integration/webhook/create",
        json!({"kind": "incident", "name": "all", "endpoint": hooks.url}),
    )
    .await;
    let ch = app.channel("ops").await;
    let inc = incident_in(&app, ch, "Checkout slow").await;
    app.ok(
        "/incident/labels/update",
        json!({"incident_id": inc, "labels": {"stale": "yes"}}),
    )
    .await;
    let rx = TestReceiver::start().await;
    rx.script([json_reply(json!({
        "message": "found the trace",
        "labels": {"host": "db-7", "stale": null},
        "fields": {"trace": "abc123"},
        "comment": "Trace attached.",
        "links": [{"title": "Trace", "url": "https://traces.example/abc123"}],
    }))]);
    let all = json!(["labels", "fields", "comment", "links", "resolve"]);
    let id = writing_action(&app, ch, "Pull trace", &rx.url, all.clone()).await;
    let info = app
        .ok(
            "/integration/custom-action/info",
            json!({"integration_id": id}),
        )
        .await;
    assert_eq!(info["write_back"], all, "{info}");
    assert_eq!(info["mode"], json!("sync"));
    assert_eq!(info["async_deadline_s"], json!(900));

    let before = app.event_count().await;
    let r = trigger(&app, &inc, id).await;
    assert_eq!(r["success"], json!(true), "{r}");
    assert_eq!(r["status"], json!("succeeded"));
    assert_eq!(r["message"], json!("found the trace"));
    assert_eq!(
        r["write_back"],
        json!({"applied": ["labels", "fields", "comment", "links"], "refused": []}),
        "{r}"
    );

    let i = app.info(&inc).await;
    assert_eq!(i["labels"], json!({"host": "db-7"}), "{i}");
    assert_eq!(i["fields"]["trace"], json!("abc123"));
    assert_eq!(
        i["links"],
        json!([{"title": "Trace", "url": "https://traces.example/abc123", "action_id": id}])
    );
    let f = feed(&app, &inc).await;
    assert_eq!(
        feed_types(&f),
        [
            "i_new",
            "i_labels",
            "i_labels",
            "i_r_field",
            "i_comm",
            "i_links",
            "i_custom"
        ]
    );
    let comment = &f["items"][4];
    assert_eq!(comment["detail"]["comment"], json!("Trace attached."));
    assert_eq!(
        comment["detail"]["action_name"],
        json!("Pull trace"),
        "{comment}"
    );
    assert_eq!(comment["person"]["person_id"], json!(app.admin_id));
    let run_entry = &f["items"][6]["detail"];
    assert_eq!(run_entry["status"], json!("succeeded"), "{run_entry}");
    assert_eq!(run_entry["message"], json!("found the trace"));

    // The usual events, as the person who pressed, then i_custom with the run.
    let events = app.events_since(before).await;
    let types: Vec<&str> = events
        .iter()
        .map(|e| e["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["i_r_field", "i_comm", "i_custom"], "{events:?}");
    for e in &events {
        assert_eq!(e["person"]["person_id"], json!(app.admin_id), "{e}");
    }
    let custom = &events[2];
    assert_eq!(
        custom["action"],
        json!({"integration_id": id, "name": "Pull trace", "success": true,
               "run_id": r["run_id"], "status": "succeeded"})
    );
    assert_eq!(
        custom["incident"]["links"], i["links"],
        "payloads carry links"
    );

    // The same url again replaces its title; a second link is added.
    rx.script([json_reply(json!({"links": [
        {"title": "Trace (full)", "url": "https://traces.example/abc123"},
        {"title": "Logs", "url": "http://logs.example/q?id=1"},
    ]}))]);
    trigger(&app, &inc, id).await;
    let links = app.info(&inc).await["links"].clone();
    assert_eq!(links.as_array().unwrap().len(), 2, "{links}");
    assert_eq!(links[0]["title"], json!("Trace (full)"));
}

async fn an_answer_resolves_the_incident(db: Db) {
    let app = TestApp::spawn(db).await;
    let ch = app.channel("ops").await;
    let inc = incident_in(&app, ch, "Disk full").await;
    let rx = TestReceiver::start().await;
    rx.script([json_reply(json!({
        "message": "cleaned /var/log",
        "resolve": {"resolution": "Auto-healed: logs rotated", "root_cause": "log storm"},
    }))]);
    let id = writing_action(&app, ch, "Clean disk", &rx.url, json!(["resolve"])).await;
    let before = app.event_count().await;
    let r = trigger(&app, &inc, id).await;
    assert_eq!(r["write_back"]["applied"], json!(["resolve"]), "{r}");
    let i = app.info(&inc).await;
    assert_eq!(i["progress"], json!("Closed"));
    assert_eq!(i["resolution"], json!("Auto-healed: logs rotated"));
    assert_eq!(i["root_cause"], json!("log storm"));
    assert_eq!(i["closer_id"], json!(app.admin_id));
    let types: Vec<String> = app
        .events_since(before)
        .await
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(types, ["i_rslv", "i_r_rc", "i_r_rsltn", "i_custom"]);

    // On a closed incident the same answer is refused, and says why.
    rx.script([json_reply(json!({"resolve": {}}))]);
    let r = trigger(&app, &inc, id).await;
    assert_eq!(r["success"], json!(true));
    assert_eq!(r["write_back"]["applied"], json!([]));
    let refused = &r["write_back"]["refused"][0];
    assert_eq!(refused["key"], json!("resolve"), "{r}");
    assert!(
        refused["reason"]
            .as_str()
            .unwrap()
            .contains("already Closed"),
        "{r}"
    );
}

async fn one_invalid_part_applies_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let ch = app.channel("ops").await;
    let inc = incident_in(&app, ch, "Queue stuck").await;
    let rx = TestReceiver::start().await;
    let id = writing_action(
        &app,
        ch,
        "Inspect",
        &rx.url,
        json!(["labels", "fields", "comment", "links"]),
    )
    .await;
    let cases = [
        json!({"labels": {"queue": "orders"}, "fields": {"nope": 1}}),
        json!({"labels": {"queue": "orders"}, "links": [{"title": "x", "url": "javascript:alert(1)"}]}),
        json!({"labels": {"queue": "x".repeat(2049)}}),
        json!({"labels": {"bad key": "v"}}),
        json!({"comment": ""}),
        json!({"labels": {"queue": "orders"}, "message": 7}),
        json!({"links": (0..21).map(|n| json!({"title": "t", "url": format!("https://x.example/{n}")})).collect::<Vec<_>>()}),
    ];
    let before = app.event_count().await;
    for answer in cases {
        rx.script([json_reply(answer.clone())]);
        let r = trigger(&app, &inc, id).await;
        assert_eq!(r["success"], json!(true), "still a 2xx: {r}");
        assert_eq!(r["status"], json!("succeeded"));
        assert_eq!(r["write_back"]["applied"], json!([]), "{answer} → {r}");
        let refused = r["write_back"]["refused"].as_array().unwrap();
        assert!(!refused.is_empty(), "{answer} → {r}");
        assert!(
            refused
                .iter()
                .all(|x| !x["reason"].as_str().unwrap().is_empty()),
            "{r}"
        );
    }
    let i = app.info(&inc).await;
    assert_eq!(i["labels"], json!({}), "nothing applied: {i}");
    assert_eq!(i["links"], json!([]));
    let types: Vec<String> = app
        .events_since(before)
        .await
        .iter()
        .map(|e| e["event_type"].as_str().unwrap().to_string())
        .collect();
    assert!(types.iter().all(|t| t == "i_custom"), "{types:?}");
    assert_eq!(types.len(), 7);
}

async fn keys_outside_write_back_are_refused_by_name(db: Db) {
    let app = TestApp::spawn(db).await;
    let ch = app.channel("ops").await;
    let inc = incident_in(&app, ch, "Cache cold").await;
    let rx = TestReceiver::start().await;
    let id = writing_action(&app, ch, "Warm cache", &rx.url, json!(["labels"])).await;
    rx.script([json_reply(
        json!({"labels": {"warmed": "yes"}, "comment": "done", "colour": "green"}),
    )]);
    let r = trigger(&app, &inc, id).await;
    assert_eq!(r["write_back"]["applied"], json!(["labels"]), "{r}");
    let refused: Vec<&str> = r["write_back"]["refused"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["key"].as_str().unwrap())
        .collect();
    assert_eq!(refused, ["comment", "colour"], "{r}");
    assert_eq!(app.info(&inc).await["labels"], json!({"warmed": "yes"}));

    // An action that writes nothing back: write-back keys are refused,
    // anything else in its answer is its own business.
    let plain = writing_action(&app, ch, "Plain", &rx.url, json!([])).await;
    rx.script([json_reply(
        json!({"labels": {"x": "y"}, "ok": true, "message": "fine"}),
    )]);
    let r = trigger(&app, &inc, plain).await;
    assert_eq!(r["message"], json!("fine"));
    assert_eq!(
        r["write_back"],
        json!({"applied": [], "refused": [{"key": "labels", "reason": "this action's write_back does not allow it"}]})
    );
    assert_eq!(app.info(&inc).await["labels"], json!({"warmed": "yes"}));

    // Unknown keys in write_back itself are refused when saving.
    let m = app
        .fails(
            "/integration/custom-action/update",
            json!({"integration_id": plain, "write_back": ["title"]}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(m.contains("write_back"), "{m}");
}

async fn text_answers_change_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let ch = app.channel("ops").await;
    let inc = incident_in(&app, ch, "API 502s").await;
    let rx = TestReceiver::start().await;
    let id = writing_action(&app, ch, "Check", &rx.url, json!(["labels"])).await;
    let as_text = json!({"labels": {"a": "b"}}).to_string();
    rx.script([
        // JSON in the body but not said to be JSON.
        Reply {
            body: format!("\n{as_text}\nmore"),
            ..Reply::status(200)
        },
        // JSON, but not an object.
        json_reply(json!([{"labels": {"a": "b"}}])),
        Reply {
            headers: vec![("content-type", "application/json".into())],
            body: "{not json".into(),
            ..Reply::status(200)
        },
    ]);
    for _ in 0..3 {
        let r = trigger(&app, &inc, id).await;
        assert_eq!(r["success"], json!(true), "{r}");
        assert_eq!(
            r["write_back"],
            json!({"applied": [], "refused": []}),
            "{r}"
        );
    }
    assert_eq!(app.info(&inc).await["labels"], json!({}));
    let runs = app
        .ok("/incident/action/run/list", json!({"incident_id": inc}))
        .await["items"]
        .clone();
    assert_eq!(runs[2]["message"], json!(as_text), "the first line: {runs}");
}

async fn every_press_is_a_run(db: Db) {
    let app = TestApp::spawn(db).await;
    let ch = app.channel("ops").await;
    let inc = incident_in(&app, ch, "Pods crash").await;
    let rx = TestReceiver::start().await;
    rx.script([
        Reply {
            body: "restarted\nin 2 s".into(),
            ..Reply::status(200)
        },
        Reply {
            body: "host unknown".into(),
            ..Reply::status(404)
        },
    ]);
    let id = writing_action(&app, ch, "Restart", &rx.url, json!([])).await;
    let first = trigger(&app, &inc, id).await;
    let second = trigger(&app, &inc, id).await;
    assert_eq!(first["status"], json!("succeeded"));
    assert_eq!(first["message"], json!("restarted"));
    assert_eq!(second["status"], json!("failed"), "{second}");
    assert_eq!(second["message"], json!("HTTP 404: host unknown"));

    let keyed = json!({"incident_id": inc, "action_id": id, "idempotency_key": "k-1"});
    let third = app.ok("/incident/action/trigger", keyed.clone()).await;
    let again = app.ok("/incident/action/trigger", keyed).await;
    assert_eq!(
        again["run_id"], third["run_id"],
        "the same run for the same key"
    );
    assert_eq!(rx.received().len(), 3);

    let runs = app
        .ok("/incident/action/run/list", json!({"incident_id": inc}))
        .await["items"]
        .clone();
    let ids: Vec<&Value> = runs
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["run_id"])
        .collect();
    assert_eq!(ids, [&third["run_id"], &second["run_id"], &first["run_id"]]);
    let run = app
        .ok(
            "/incident/action/run/info",
            json!({"run_id": second["run_id"]}),
        )
        .await;
    assert_eq!(run, runs[1]);
    assert_eq!(run["action_id"], json!(id));
    assert_eq!(run["name"], json!("Restart"));
    assert_eq!(run["incident_id"], json!(inc));
    assert_eq!(run["requested_by"]["person_id"], json!(app.admin_id));
    assert_eq!(run["invocation_ids"], json!([second["invocation_id"]]));
    assert!(run["finished_at"].as_i64().unwrap() >= run["created_at"].as_i64().unwrap());
    assert_eq!(runs[2]["progress"], json!(100));

    // Failures are on the timeline too, with how they ended.
    let f = feed(&app, &inc).await;
    let failed = f["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["detail"]["status"] == json!("failed"))
        .expect("the failed run is on the timeline");
    assert_eq!(failed["detail"]["status_code"], json!(404), "{failed}");
    assert_eq!(failed["detail"]["message"], json!("HTTP 404: host unknown"));

    app.fails(
        "/incident/action/run/info",
        json!({"run_id": "0123456789abcdef01234567"}),
        404,
        "ResourceNotFound",
    )
    .await;
    let m = app
        .fails(
            "/incident/action/run/info",
            json!({"run_id": "nope"}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(m.contains("run_id"), "{m}");
    app.fails(
        "/incident/action/run/list",
        json!({"incident_id": "0123456789abcdef01234567"}),
        404,
        "ResourceNotFound",
    )
    .await;
}

async fn the_hosted_products_path_presses_too(db: Db) {
    let app = TestApp::spawn(db).await;
    let ch = app.channel("ops").await;
    let inc = incident_in(&app, ch, "Disk full").await;
    let rx = TestReceiver::start().await;
    rx.script([
        json_reply(json!({"message": "cleaned", "labels": {"cleaned": "yes"}})),
        Reply {
            body: "no such host".into(),
            ..Reply::status(404)
        },
    ]);
    let id = writing_action(&app, ch, "Clean", &rx.url, json!(["labels"])).await;
    let body = json!({"incident_id": inc, "integration_id": id});
    let ok = app.ok("/incident/custom-action/do", body.clone()).await;
    assert_eq!(
        (&ok["success"], &ok["message"]),
        (&json!(true), &json!("cleaned")),
        "{ok}"
    );
    assert_eq!(app.info(&inc).await["labels"], json!({"cleaned": "yes"}));
    let failed = app.ok("/incident/custom-action/do", body).await;
    assert_eq!(failed["success"], json!(false));
    assert_eq!(
        failed["message"],
        json!("HTTP 404: no such host"),
        "{failed}"
    );
    let m = app
        .fails(
            "/incident/custom-action/do",
            json!({"incident_id": inc, "integration_id": 999}),
            404,
            "ResourceNotFound",
        )
        .await;
    assert!(m.contains("999"), "{m}");
}
