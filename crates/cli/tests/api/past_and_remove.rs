//! The hosted product's `/incident/past/list` and `/incident/remove`, and
//! the counts its clients read on every incident.

use serde_json::json;

use crate::alerts::{pushed, source};
use crate::helpers::{now_s, Db, TestApp};

both_dbs!(
    incidents_carry_their_alert_counts,
    past_incidents_are_the_earlier_ones_like_it,
    remove_deletes_an_incident_and_all_it_holds
);

async fn incidents_carry_their_alert_counts(db: Db) {
    let app = TestApp::spawn(db).await;
    let ch = app.channel("ops").await;
    let key = source(&app, ch, "standard").await;
    let event = |status: &str| json!({"title_rule": "disk full", "event_status": status, "alert_key": "disk"});
    pushed(&app, &key, event("Warning")).await;
    pushed(&app, &key, event("Critical")).await;
    let list = app
        .ok(
            "/incident/list",
            json!({"start_time": now_s() - 60, "end_time": now_s() + 60}),
        )
        .await;
    let inc = &list["items"][0];
    assert_eq!(
        (
            &inc["owner_id"],
            &inc["active_alert_cnt"],
            &inc["alert_event_cnt"],
            &inc["alert_cnt"]
        ),
        (&json!(0), &json!(1), &json!(2), &json!(1)),
        "{inc}"
    );
    let id = inc["incident_id"].as_str().unwrap();
    pushed(&app, &key, event("Ok")).await;
    let info = app.info(id).await;
    assert_eq!(
        (&info["active_alert_cnt"], &info["alert_event_cnt"]),
        (&json!(0), &json!(3))
    );
    let by_ids = app
        .ok("/incident/list-by-ids", json!({"incident_ids": [id]}))
        .await;
    assert_eq!(by_ids["items"][0]["alert_event_cnt"], 3);
    let manual = app.incident("by hand").await;
    assert_eq!(app.info(&manual).await["alert_event_cnt"], 0);
}

async fn past_incidents_are_the_earlier_ones_like_it(db: Db) {
    let app = TestApp::spawn(db).await;
    let ch = app.channel("ops").await;
    let create = |title: &str, channel: Option<i64>| {
        let mut body = json!({"title": title, "incident_severity": "Warning"});
        if let Some(c) = channel {
            body["channel_id"] = json!(c);
        }
        let app = &app;
        async move {
            app.ok("/incident/create", body).await["incident_id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let first = create("Checkout slow", Some(ch)).await;
    let _elsewhere = create("Checkout slow", None).await;
    let _other = create("Search down", Some(ch)).await;
    let second = create("checkout SLOW", Some(ch)).await;
    let third = create("Checkout slow", Some(ch)).await;
    let past = app
        .ok(
            "/incident/past/list",
            json!({"incident_id": third, "limit": 10}),
        )
        .await;
    let ids: Vec<&str> = past["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["incident_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [second.as_str(), first.as_str()],
        "newest first, same channel and title"
    );
    assert_eq!(past["total"], 2);
    let of_first = app
        .ok("/incident/past/list", json!({"incident_id": first}))
        .await;
    assert_eq!(of_first["total"], 0, "nothing before the first");
    app.fails(
        "/incident/past/list",
        json!({"incident_id": "0123456789abcdef01234567"}),
        404,
        "ResourceNotFound",
    )
    .await;
}

async fn remove_deletes_an_incident_and_all_it_holds(db: Db) {
    let app = TestApp::spawn(db).await;
    let ch = app.channel("ops").await;
    let key = source(&app, ch, "standard").await;
    pushed(
        &app,
        &key,
        json!({"title_rule": "disk full", "event_status": "Critical", "alert_key": "disk"}),
    )
    .await;
    let list = app
        .ok(
            "/incident/list",
            json!({"start_time": now_s() - 60, "end_time": now_s() + 60}),
        )
        .await;
    let id = list["items"][0]["incident_id"]
        .as_str()
        .unwrap()
        .to_string();
    app.ok(
        "/incident/comment",
        json!({"incident_ids": [id], "comment": "looking"}),
    )
    .await;
    let kept = app.incident("kept").await;
    let events_before = app.event_count().await;

    let (_, member) = app.person("Mia", "mia@example.com", "member").await;
    app.fails_as(
        &member,
        "/incident/remove",
        json!({"incident_ids": [id]}),
        403,
        "AccessDenied",
    )
    .await;
    app.fails(
        "/incident/remove",
        json!({"incident_ids": [id, "0123456789abcdef01234567"]}),
        404,
        "ResourceNotFound",
    )
    .await;
    assert_eq!(
        app.info(&id).await["incident_id"],
        json!(id),
        "nothing was deleted"
    );

    app.ok("/incident/remove", json!({"incident_ids": [id]}))
        .await;
    app.fails(
        "/incident/info",
        json!({"incident_id": id}),
        404,
        "ResourceNotFound",
    )
    .await;
    app.fails(
        "/incident/feed",
        json!({"incident_id": id}),
        404,
        "ResourceNotFound",
    )
    .await;
    let alerts = app
        .ok(
            "/alert/list",
            json!({"start_time": 0, "end_time": now_s() + 60}),
        )
        .await;
    assert_eq!(alerts["total"], 0, "its alerts went with it: {alerts}");
    assert_eq!(app.info(&kept).await["title"], "kept");
    assert_eq!(
        app.event_count().await,
        events_before,
        "the outbox keeps what was pushed"
    );
    // The same alert firing again opens a new incident.
    pushed(
        &app,
        &key,
        json!({"title_rule": "disk full", "event_status": "Critical", "alert_key": "disk"}),
    )
    .await;
    let list = app
        .ok(
            "/incident/list",
            json!({"start_time": now_s() - 60, "end_time": now_s() + 60, "title": "disk"}),
        )
        .await;
    assert_eq!(list["total"], 1);
    assert_ne!(list["items"][0]["incident_id"], json!(id));
}
