//! An alert source after its creation: edited, tried with a test event,
//! and its recent events read.

use serde_json::json;

use crate::alerts::{alerts, pushed, source};
use crate::helpers::{now_s, Db, TestApp};

both_dbs!(a_source_is_edited_tested_and_its_events_read);

async fn a_source_is_edited_tested_and_its_events_read(db: Db) {
    let app = TestApp::spawn(db).await;
    let ops = app.channel("Ops").await;
    let db_team = app.channel("Databases").await;
    let key = source(&app, ops, "standard").await;
    let list = app.ok("/integration/alert-source/list", json!({})).await;
    let id = list["items"][0]["integration_id"].clone();

    app.ok(
        "/integration/alert-source/update",
        json!({"integration_id": id, "name": "Prometheus (db)", "channel_id": db_team}),
    )
    .await;
    let list = app.ok("/integration/alert-source/list", json!({})).await;
    assert_eq!(list["items"][0]["name"], "Prometheus (db)");
    assert_eq!(list["items"][0]["channel_id"], db_team);
    // The key keeps working and its alerts go to the new channel.
    pushed(
        &app,
        &key,
        json!({"event_status": "Critical", "title_rule": "disk", "alert_key": "disk"}),
    )
    .await;
    let found = alerts(&app, json!({})).await;
    assert_eq!(found[0]["channel_id"], db_team, "{found:?}");

    let tested = app
        .ok(
            "/integration/alert-source/test",
            json!({"integration_id": id}),
        )
        .await;
    assert_eq!(tested["alert_key"], "dutyhook-test");
    let test_alert = alerts(&app, json!({"alert_keys": ["dutyhook-test"]})).await;
    assert_eq!(test_alert[0]["alert_status"], "Warning");
    assert_eq!(test_alert[0]["labels"]["test"], "true");
    app.ok(
        "/integration/alert-source/test",
        json!({"integration_id": id, "event_status": "Ok"}),
    )
    .await;
    let test_alert = alerts(&app, json!({"alert_keys": ["dutyhook-test"]})).await;
    assert_eq!(
        test_alert[0]["progress"], "Closed",
        "the test alert recovers"
    );

    let events = app
        .ok(
            "/alert-event/list",
            json!({"start_time": now_s() - 60, "end_time": now_s() + 60, "integration_ids": [id]}),
        )
        .await;
    assert_eq!(events["total"], 3, "{events}");

    for (body, status, field) in [
        (json!({"integration_id": id, "name": "  "}), 400, "name"),
        (json!({"integration_id": id, "channel_id": 999}), 404, ""),
        (json!({"integration_id": 999, "name": "x"}), 404, ""),
    ] {
        let code = if status == 400 {
            "InvalidParameter"
        } else {
            "ResourceNotFound"
        };
        let message = app
            .fails(
                "/integration/alert-source/update",
                body.clone(),
                status,
                code,
            )
            .await;
        assert!(message.starts_with(field), "{body}: {message}");
    }
    let (_, viewer_key) = app.person("Vic", "vic@example.com", "viewer").await;
    let (status, _) = app
        .post_as(
            &viewer_key,
            "/integration/alert-source/test",
            json!({"integration_id": id}),
        )
        .await;
    assert_eq!(status, 403);
}
