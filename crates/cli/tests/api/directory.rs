//! People, teams, channels and custom fields.

use serde_json::json;

use crate::helpers::{Db, TestApp};

both_dbs!(people_and_teams, channels, fields);

async fn people_and_teams(db: Db) {
    let app = TestApp::spawn(db).await;
    let id = app
        .ok(
            "/person/create",
            json!({"person_name": "Bob", "email": "Bob@Example.com"}),
        )
        .await["person_id"]
        .as_i64()
        .unwrap();
    let info = app.ok("/person/info", json!({"person_id": id})).await;
    assert_eq!(info["email"], json!("bob@example.com"));
    assert_eq!(info["role"], json!("member"), "member by default");
    let msg = app
        .fails(
            "/person/create",
            json!({"person_name": "Bob 2", "email": "bob@example.com"}),
            409,
            "Conflict",
        )
        .await;
    assert!(msg.contains("email"), "{msg}");
    let people = app.ok("/person/list", json!({"limit": 1})).await;
    assert_eq!(
        (people["total"].clone(), people["has_next_page"].clone()),
        (json!(2), json!(true))
    );
    let page2 = app.ok("/person/list", json!({"limit": 1, "p": 2})).await;
    assert_eq!(page2["has_next_page"], json!(false));
    assert_eq!(page2["items"][0]["person_id"], json!(id));

    let team = app
        .ok(
            "/team/create",
            json!({"team_name": "SRE", "person_ids": [id, app.admin_id, id]}),
        )
        .await["team_id"]
        .as_i64()
        .unwrap();
    app.fails("/team/create", json!({"team_name": "SRE"}), 409, "Conflict")
        .await;
    app.fails("/team/create", json!({}), 400, "InvalidParameter")
        .await;
    let teams = app.ok("/team/list", json!({})).await;
    assert_eq!(
        teams["items"][0]["person_ids"],
        json!([id, app.admin_id]),
        "members in order, once each"
    );
    app.ok(
        "/team/update",
        json!({"team_id": team, "team_name": "Site Reliability", "person_ids": [app.admin_id]}),
    )
    .await;
    let teams = app.ok("/team/list", json!({})).await;
    assert_eq!(teams["items"][0]["team_name"], json!("Site Reliability"));
    assert_eq!(teams["items"][0]["person_ids"], json!([app.admin_id]));
    // A failed update (unknown member) changes nothing.
    app.fails(
        "/team/update",
        json!({"team_id": team, "team_name": "Other", "person_ids": [999]}),
        404,
        "ResourceNotFound",
    )
    .await;
    assert_eq!(
        app.ok("/team/list", json!({})).await["items"][0]["team_name"],
        json!("Site Reliability")
    );
}

async fn channels(db: Db) {
    let app = TestApp::spawn(db).await;
    let team = app
        .ok("/team/create", json!({"team_name": "Payments team"}))
        .await["team_id"]
        .as_i64()
        .unwrap();
    let id = app
        .ok("/channel/create", json!({"channel_name": "Payments", "team_id": team, "description": "money",
             "grouping": {"method": "p", "dimensions": ["labels.host", "title"], "window_minutes": 60, "strict": true},
             "storm_thresholds": [100, 10]}))
        .await["channel_id"]
        .as_i64()
        .unwrap();
    let c = app.ok("/channel/info", json!({"channel_id": id})).await;
    assert_eq!(c["channel_name"], json!("Payments"));
    assert_eq!(c["team_id"], json!(team));
    assert_eq!(c["grouping"]["dimensions"], json!(["labels.host", "title"]));
    assert_eq!(c["grouping"]["window_start"], json!("incident"));
    assert_eq!(c["storm_thresholds"], json!([10, 100]));
    app.fails(
        "/channel/create",
        json!({"channel_name": "Payments"}),
        409,
        "Conflict",
    )
    .await;
    app.fails(
        "/channel/create",
        json!({"channel_name": "X", "team_id": 999}),
        404,
        "ResourceNotFound",
    )
    .await;
    app.ok(
        "/channel/update",
        json!({"channel_id": id, "channel_name": "Payments EU"}),
    )
    .await;
    let c = app.ok("/channel/info", json!({"channel_id": id})).await;
    assert_eq!(c["channel_name"], json!("Payments EU"));
    assert_eq!(
        c["description"],
        json!("money"),
        "fields not given are kept"
    );
    // Incidents show the channel's current name.
    let inc = app
        .ok(
            "/incident/create",
            json!({"title": "In channel", "incident_severity": "Info", "channel_id": id}),
        )
        .await;
    app.ok(
        "/channel/update",
        json!({"channel_id": id, "channel_name": "Payments Global"}),
    )
    .await;
    let info = app.info(inc["incident_id"].as_str().unwrap()).await;
    assert_eq!(info["channel_name"], json!("Payments Global"));
    let list = app.ok("/channel/list", json!({})).await;
    assert_eq!(list["total"], json!(1));
}

async fn fields(db: Db) {
    let app = TestApp::spawn(db).await;
    let id = app
        .ok("/field/create", json!({"field_name": "priority", "display_name": "Priority", "field_type": "single_select", "options": ["P1", "P2"], "default_value": "P2"}))
        .await["field_id"]
        .as_i64()
        .unwrap();
    app.fails(
        "/field/create",
        json!({"field_name": "priority", "field_type": "text"}),
        409,
        "Conflict",
    )
    .await;
    app.fails(
        "/field/create",
        json!({"field_name": "bad name", "field_type": "text"}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/field/create",
        json!({"field_name": "x", "field_type": "date"}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/field/create",
        json!({"field_name": "x", "field_type": "single_select"}),
        400,
        "InvalidParameter",
    )
    .await;
    // The default applies to new incidents; given values are checked.
    let inc = app
        .ok(
            "/incident/create",
            json!({"title": "With fields", "incident_severity": "Info"}),
        )
        .await;
    assert_eq!(inc["fields"], json!({"priority": "P2"}));
    let inc = app.ok("/incident/create", json!({"title": "With fields", "incident_severity": "Info", "fields": {"priority": "P1"}})).await;
    assert_eq!(inc["fields"], json!({"priority": "P1"}));
    let m = app.fails("/incident/create", json!({"title": "With fields", "incident_severity": "Info", "fields": {"priority": "P7"}}), 400, "InvalidParameter").await;
    assert!(m.contains("priority"), "{m}");
    app.fails(
        "/incident/create",
        json!({"title": "With fields", "incident_severity": "Info", "fields": {"nope": 1}}),
        400,
        "InvalidParameter",
    )
    .await;
    app.ok(
        "/field/update",
        json!({"field_id": id, "display_name": "Prio", "options": ["P1", "P2", "P3"]}),
    )
    .await;
    app.fails(
        "/field/update",
        json!({"field_id": id, "field_type": "text"}),
        400,
        "InvalidParameter",
    )
    .await;
    app.fails(
        "/field/update",
        json!({"field_id": id, "options": ["P1"]}),
        400,
        "InvalidParameter",
    )
    .await;
    let list = app.ok("/field/list", json!({})).await;
    assert_eq!(list["items"][0]["display_name"], json!("Prio"));
    assert_eq!(list["items"][0]["options"], json!(["P1", "P2", "P3"]));
    app.ok("/field/delete", json!({"field_id": id})).await;
    assert_eq!(app.ok("/field/list", json!({})).await["items"], json!([]));
}
