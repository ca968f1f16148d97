//! The events of operations that change who responds and what an incident
//! says: assignment, responders, comments, resets, custom fields, labels;
//! batches that change all or nothing; and what the hosted product's clients
//! send that dutyhook's own calls would not.

use serde_json::{json, Value};

use crate::events::{check_event, types};
use crate::helpers::{feed_types, Db, TestApp};

both_dbs!(
    assign_replaces_responders,
    responders_add,
    comment_batch,
    reset_emits_one_event_per_changed_field,
    field_reset,
    labels_update_writes_timeline_but_no_event,
    batches_are_all_or_nothing,
    one_incident_named_as_the_hosted_product_does,
    reopen_without_a_reason,
);

async fn assign_replaces_responders(db: Db) {
    let app = TestApp::spawn(db).await;
    let (bob, _) = app.person("Bob", "bob@example.com", "member").await;
    let (cy, _) = app.person("Cy", "cy@example.com", "member").await;
    let id1 = app.incident("Incident one").await;
    let id2 = app.incident("Incident two").await;
    app.ok("/incident/ack", json!({"incident_ids": [id1]}))
        .await;
    let before = app.event_count().await;
    app.ok("/incident/assign", json!({"incident_ids": [id1, id2], "assigned_to": {"type": "assign", "person_ids": [bob, cy]}})).await;
    let evs = app.events_since(before).await;
    assert_eq!(
        types(&evs),
        ["i_assign", "i_assign"],
        "one event per incident"
    );
    for e in &evs {
        check_event(e, "i_assign", Some(app.admin_id.into()));
        assert_eq!(e["incident"]["responder_ids"], json!([bob, cy]));
        assert_eq!(e["incident"]["assigned_to"]["person_ids"], json!([bob, cy]));
    }
    assert_eq!(
        evs[0]["incident"]["progress"],
        json!("Triggered"),
        "the acknowledger was replaced"
    );
    // Same assignment again: nothing changes.
    app.ok(
        "/incident/assign",
        json!({"incident_ids": [id1], "assigned_to": {"type": "assign", "person_ids": [bob, cy]}}),
    )
    .await;
    assert_eq!(app.event_count().await, before + 2);
    app.fails(
        "/incident/assign",
        json!({"incident_ids": [id1], "assigned_to": {"type": "assign", "person_ids": [9999]}}),
        404,
        "ResourceNotFound",
    )
    .await;
    app.fails(
        "/incident/assign",
        json!({"incident_ids": [id1], "assigned_to": {"type": "team", "person_ids": [bob]}}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/incident/assign",
        json!({"incident_ids": [id1], "assigned_to": {"type": "assign", "person_ids": [bob, bob]}}),
        400,
        "InvalidParameter",
    )
    .await;
    assert_eq!(app.event_count().await, before + 2);
}

async fn responders_add(db: Db) {
    let app = TestApp::spawn(db).await;
    let (bob, _) = app.person("Bob", "bob@example.com", "member").await;
    let id = app.incident("Slow search").await;
    let before = app.event_count().await;
    app.ok(
        "/incident/responder/add",
        json!({"incident_id": id, "person_ids": [bob]}),
    )
    .await;
    let evs = app.events_since(before).await;
    assert_eq!(types(&evs), ["i_a_rspd"]);
    check_event(&evs[0], "i_a_rspd", Some(app.admin_id.into()));
    assert_eq!(evs[0]["incident"]["responder_ids"], json!([bob]));
    assert!(
        evs[0]["incident"].get("assigned_to").is_none(),
        "adding is not an assignment"
    );
    app.ok(
        "/incident/responder/add",
        json!({"incident_id": id, "person_ids": [bob]}),
    )
    .await;
    assert_eq!(
        app.event_count().await,
        before + 1,
        "already a responder: no event"
    );
}

async fn comment_batch(db: Db) {
    let app = TestApp::spawn(db).await;
    let a = app.incident("First").await;
    let b = app.incident("Second").await;
    let before = app.event_count().await;
    app.ok(
        "/incident/comment",
        json!({"incident_ids": [a, b], "comment": "looking into it <b>now</b>"}),
    )
    .await;
    let evs = app.events_since(before).await;
    assert_eq!(types(&evs), ["i_comm", "i_comm"]);
    for (e, id) in evs.iter().zip([&a, &b]) {
        check_event(e, "i_comm", Some(app.admin_id.into()));
        assert_eq!(e["comment"], json!("looking into it <b>now</b>"));
        assert_eq!(e["incident"]["incident_id"], json!(id));
    }
    app.fails(
        "/incident/comment",
        json!({"incident_ids": [a], "comment": ""}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/incident/comment",
        json!({"incident_ids": [a], "comment": "x".repeat(10_001)}),
        400,
        "InvalidParameter",
    )
    .await;
    app.ok(
        "/incident/comment",
        json!({"incident_ids": [a], "comment": "x".repeat(10_000)}),
    )
    .await;
}

async fn reset_emits_one_event_per_changed_field(db: Db) {
    let app = TestApp::spawn(db).await;
    let id = app.incident("Old title").await;
    let before = app.event_count().await;
    let all = json!({"incident_id": id, "incident_severity": "Critical", "resolution": "r", "root_cause": "rc",
                     "impact": "i", "description": "d", "title": "New title"});
    app.ok("/incident/reset", all.clone()).await;
    let evs = app.events_since(before).await;
    let expected = [
        "i_r_title",
        "i_r_desc",
        "i_r_impact",
        "i_r_rc",
        "i_r_rsltn",
        "i_r_severity",
    ];
    assert_eq!(
        types(&evs),
        expected,
        "the order of events.md, not of the request"
    );
    for (e, t) in evs.iter().zip(expected) {
        check_event(e, t, Some(app.admin_id.into()));
    }
    assert_eq!(evs[0]["incident"]["title"], json!("New title"));
    assert_eq!(
        evs[0]["incident"], evs[5]["incident"],
        "each payload is the incident after the whole call"
    );
    let last = &evs[5]["incident"];
    assert_eq!(last["incident_severity"], json!("Critical"));
    assert_eq!(
        (last["description"].clone(), last["impact"].clone()),
        (json!("d"), json!("i"))
    );
    // The same values again: no change, no event.
    app.ok("/incident/reset", all).await;
    // One changed field among unchanged ones: one event.
    app.ok(
        "/incident/reset",
        json!({"incident_id": id, "title": "New title", "impact": "bigger"}),
    )
    .await;
    let evs = app.events_since(before + 6).await;
    assert_eq!(types(&evs), ["i_r_impact"]);
    app.fails(
        "/incident/reset",
        json!({"incident_id": id}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/incident/reset",
        json!({"incident_id": id, "title": "ab"}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/incident/reset",
        json!({"incident_id": id, "title": "fine title", "incident_severity": "High"}),
        400,
        "InvalidParameter",
    )
    .await;
    assert_eq!(
        app.info(&id).await["title"],
        json!("New title"),
        "a refused reset changes nothing"
    );
    assert_eq!(app.event_count().await, before + 7);
}

async fn field_reset(db: Db) {
    let app = TestApp::spawn(db).await;
    app.ok("/field/create", json!({"field_name": "priority", "display_name": "Priority", "field_type": "single_select", "options": ["P1", "P2"]})).await;
    app.ok("/field/create", json!({"field_name": "impacted_services", "display_name": "Services", "field_type": "multi_select", "options": ["checkout", "payments"]})).await;
    let id = app.incident("Field test").await;
    let before = app.event_count().await;
    app.ok(
        "/incident/field/reset",
        json!({"incident_id": id, "field_name": "priority", "field_value": "P1"}),
    )
    .await;
    app.ok("/incident/field/reset", json!({"incident_id": id, "field_name": "impacted_services", "field_value": ["checkout", "payments"]})).await;
    let evs = app.events_since(before).await;
    assert_eq!(types(&evs), ["i_r_field", "i_r_field"]);
    check_event(&evs[0], "i_r_field", Some(app.admin_id.into()));
    assert_eq!(evs[0]["field_name"], json!("priority"));
    assert_eq!(evs[1]["field_name"], json!("impacted_services"));
    assert_eq!(
        evs[1]["incident"]["fields"],
        json!({"priority": "P1", "impacted_services": ["checkout", "payments"]})
    );
    app.ok(
        "/incident/field/reset",
        json!({"incident_id": id, "field_name": "priority", "field_value": "P1"}),
    )
    .await;
    assert_eq!(app.event_count().await, before + 2, "same value: no event");
    app.fails(
        "/incident/field/reset",
        json!({"incident_id": id, "field_name": "priority", "field_value": "P9"}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/incident/field/reset",
        json!({"incident_id": id, "field_name": "priority"}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/incident/field/reset",
        json!({"incident_id": id, "field_name": "nope", "field_value": 1}),
        400,
        "InvalidParameter",
    )
    .await;
    app.ok(
        "/incident/field/reset",
        json!({"incident_id": id, "field_name": "priority", "field_value": null}),
    )
    .await;
    let evs = app.events_since(before + 2).await;
    assert_eq!(evs.len(), 1);
    assert!(
        evs[0]["incident"]["fields"].get("priority").is_none(),
        "null clears the field"
    );
}

async fn labels_update_writes_timeline_but_no_event(db: Db) {
    let app = TestApp::spawn(db).await;
    let id = app.incident("Enrich me").await;
    let before = app.event_count().await;
    app.ok(
        "/incident/labels/update",
        json!({"incident_id": id, "labels": {"trace_id": "abc", "host": "db-1"}}),
    )
    .await;
    app.ok(
        "/incident/labels/update",
        json!({"incident_id": id, "labels": {"region": "eu"}, "remove_keys": ["host"]}),
    )
    .await;
    assert_eq!(app.event_count().await, before, "enrichment emits no event");
    assert_eq!(
        app.info(&id).await["labels"],
        json!({"trace_id": "abc", "region": "eu"})
    );
    let feed = app
        .ok("/incident/feed", json!({"incident_id": id, "asc": true}))
        .await;
    let kinds = feed_types(&feed);
    assert_eq!(kinds, ["i_new", "i_labels", "i_labels"]);
    app.fails(
        "/incident/labels/update",
        json!({"incident_id": id, "labels": {"bad-key": "x"}}),
        400,
        "InvalidParameter",
    )
    .await;
    let many: serde_json::Map<String, Value> =
        (0..49).map(|i| (format!("k{i}"), json!("v"))).collect();
    app.fails(
        "/incident/labels/update",
        json!({"incident_id": id, "labels": many}),
        400,
        "LimitExceeded",
    )
    .await;
    app.fails(
        "/incident/labels/update",
        json!({"incident_id": id, "labels": {"n": 5}}),
        400,
        "InvalidParameter",
    )
    .await;
    assert_eq!(
        app.info(&id).await["labels"],
        json!({"trace_id": "abc", "region": "eu"}),
        "refused updates change nothing"
    );
}

async fn batches_are_all_or_nothing(db: Db) {
    let app = TestApp::spawn(db).await;
    let open = app.incident("Open one").await;
    let closed = app.incident("Closed one").await;
    app.ok("/incident/resolve", json!({"incident_ids": [closed]}))
        .await;
    let before = app.event_count().await;
    let ghost = "ffffffffffffffffffffffff";
    let msg = app
        .fails(
            "/incident/ack",
            json!({"incident_ids": [open, ghost]}),
            404,
            "ResourceNotFound",
        )
        .await;
    assert!(msg.contains(ghost), "{msg}");
    app.fails(
        "/incident/ack",
        json!({"incident_ids": [open, closed]}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/incident/comment",
        json!({"incident_ids": [open, ghost], "comment": "hi"}),
        404,
        "ResourceNotFound",
    )
    .await;
    assert_eq!(app.event_count().await, before);
    assert_eq!(app.info(&open).await["progress"], json!("Triggered"));
    let feed = app.ok("/incident/feed", json!({"incident_id": open})).await;
    assert_eq!(feed["total"], json!(1), "only i_new on the timeline");
    // Duplicate ids in one batch count once.
    app.ok(
        "/incident/comment",
        json!({"incident_ids": [open, open], "comment": "once"}),
    )
    .await;
    assert_eq!(app.event_count().await, before + 1);
}

/// The hosted product's clients name a single incident `incident_id` where
/// dutyhook's batch calls take `incident_ids`; both are accepted.
async fn one_incident_named_as_the_hosted_product_does(db: Db) {
    let app = TestApp::spawn(db).await;
    let (bob, _) = app.person("Bob", "bob@example.com", "member").await;
    let id = app.incident("Named alone").await;
    let other = app.incident("Named in the list").await;
    let before = app.event_count().await;
    app.ok(
        "/incident/assign",
        json!({"incident_id": id, "assigned_to": {"type": "assign", "person_ids": [bob]}}),
    )
    .await;
    app.ok(
        "/incident/ack",
        json!({"incident_id": id, "incident_ids": [other]}),
    )
    .await;
    let evs = app.events_since(before).await;
    assert_eq!(types(&evs), ["i_assign", "i_ack", "i_ack"]);
    assert_eq!(evs[0]["incident"]["incident_id"], json!(id));
    let acked: Vec<&Value> = evs[1..]
        .iter()
        .map(|e| &e["incident"]["incident_id"])
        .collect();
    assert!(
        acked.contains(&&json!(id)) && acked.contains(&&json!(other)),
        "{acked:?}"
    );
    let msg = app
        .fails(
            "/incident/ack",
            json!({"incident_id": "not-an-id"}),
            400,
            "InvalidParameter",
        )
        .await;
    assert!(msg.starts_with("incident_id:"), "{msg}");
    let msg = app
        .fails("/incident/ack", json!({}), 400, "InvalidParameter")
        .await;
    assert!(msg.starts_with("incident_ids:"), "{msg}");
}

async fn reopen_without_a_reason(db: Db) {
    let app = TestApp::spawn(db).await;
    let id = app.incident("Reopened twice").await;
    app.ok("/incident/resolve", json!({"incident_ids": [id]}))
        .await;
    // As in the hosted product, a reason is optional (a blank one is none).
    for body in [
        json!({"incident_ids": [id]}),
        json!({"incident_ids": [id], "reason": "  "}),
    ] {
        let before = app.event_count().await;
        app.ok("/incident/reopen", body).await;
        let evs = app.events_since(before).await;
        assert_eq!(types(&evs), ["i_reopen"]);
        let feed = app.ok("/incident/feed", json!({"incident_id": id})).await;
        assert!(feed["items"][0]["detail"].get("reason").is_none(), "{feed}");
        app.ok("/incident/resolve", json!({"incident_ids": [id]}))
            .await;
    }
}
