//! `/channel/create` and `/channel/update` take the hosted product's `group`
//! as well as dutyhook's `grouping`: what maps applies, the rest is refused
//! naming the field.

use serde_json::json;

use crate::alerts::{pushed, source};
use crate::helpers::{now_s, Db, TestApp};

both_dbs!(
    the_products_group_setting_groups_alerts,
    a_disabled_merge_keeps_new_alerts_out
);

async fn a_disabled_merge_keeps_new_alerts_out(db: Db) {
    let app = TestApp::spawn(db).await;
    let group = json!({"method": "p", "equals": [["labels.host"]]});
    let ch = app
        .ok(
            "/channel/create",
            json!({"channel_name": "db", "group": group}),
        )
        .await["channel_id"]
        .as_i64()
        .unwrap();
    let key = source(&app, ch, "standard").await;
    let push = |alert: &'static str| {
        let body = json!({"title_rule": alert, "event_status": "Warning", "alert_key": alert,
                          "labels": {"host": "db-1"}});
        let (app, key) = (&app, key.clone());
        async move { pushed(app, &key, body).await }
    };
    let incidents = || async {
        app.ok(
            "/incident/list",
            json!({"start_time": now_s() - 60, "end_time": now_s() + 60}),
        )
        .await
    };
    push("disk").await;
    push("cpu").await;
    let list = incidents().await;
    assert_eq!(list["total"], 1, "grouped");
    let first = list["items"][0]["incident_id"].clone();
    app.ok("/incident/disable-merge", json!({"incident_ids": [first]}))
        .await;
    push("net").await;
    let list = incidents().await;
    assert_eq!(list["total"], 2, "a new incident: {list}");
    assert_eq!(app.info(first.as_str().unwrap()).await["alert_cnt"], 2);
    let feed = app
        .ok(
            "/incident/feed",
            json!({"incident_id": first, "types": ["i_merge_disabled"]}),
        )
        .await;
    assert_eq!(feed["total"], 1, "on the timeline");
}

async fn the_products_group_setting_groups_alerts(db: Db) {
    let app = TestApp::spawn(db).await;
    let group = json!({"method": "p", "equals": [["labels.host"]], "time_window": 290,
                       "window_type": "sliding", "all_equals_required": true, "storm_threshold": 5});
    let ch = app
        .ok(
            "/channel/create",
            json!({"channel_name": "db", "group": group}),
        )
        .await["channel_id"]
        .as_i64()
        .unwrap();
    let info = app.ok("/channel/info", json!({"channel_id": ch})).await;
    assert_eq!(
        info["grouping"],
        json!({"method": "p", "dimensions": ["labels.host"], "window_minutes": 5,
               "window_start": "merge", "strict": true})
    );
    assert_eq!(info["storm_thresholds"], json!([5]));

    let key = source(&app, ch, "standard").await;
    for (alert, host) in [("disk", "db-1"), ("cpu", "db-1"), ("net", "db-2")] {
        let labels = json!({"host": host});
        pushed(&app, &key, json!({"title_rule": alert, "event_status": "Warning", "alert_key": alert, "labels": labels})).await;
    }
    let list = app
        .ok(
            "/incident/list",
            json!({"start_time": now_s() - 60, "end_time": now_s() + 60}),
        )
        .await;
    assert_eq!(list["total"], 2, "grouped by host: {list}");

    for (group, field) in [
        (json!({"method": "i"}), "group.method"),
        (
            json!({"method": "p", "equals": [["title"], ["description"]]}),
            "group.equals",
        ),
        (
            json!({"method": "p", "equals": [["colour"]]}),
            "group.equals",
        ),
        (
            json!({"method": "p", "equals": [["title"]], "cases": [{"if": []}]}),
            "group.cases",
        ),
        (
            json!({"method": "n", "window_type": "hopping"}),
            "group.window_type",
        ),
        (
            json!({"method": "n", "storm_threshold": 1}),
            "group.storm_thresholds",
        ),
    ] {
        let body = json!({"channel_id": ch, "group": group});
        let message = app
            .fails("/channel/update", body, 400, "InvalidParameter")
            .await;
        assert!(message.contains(field), "{field}: {message}");
    }
    let both = json!({"channel_id": ch, "grouping": {"method": "n"}, "group": {"method": "n"}});
    let message = app
        .fails("/channel/update", both, 400, "InvalidParameter")
        .await;
    assert!(message.contains("group"), "{message}");
    let unchanged = app.ok("/channel/info", json!({"channel_id": ch})).await;
    assert_eq!(
        unchanged["grouping"], info["grouping"],
        "refusals change nothing"
    );
    app.ok(
        "/channel/update",
        json!({"channel_id": ch, "group": {"method": "n"}}),
    )
    .await;
    let info = app.ok("/channel/info", json!({"channel_id": ch})).await;
    assert_eq!(info["grouping"]["method"], "n");
}
