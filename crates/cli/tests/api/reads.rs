//! Listing, searching and the feed.

use serde_json::{json, Value};

use crate::helpers::{feed_types, now_s, Db, TestApp};

both_dbs!(list_filters_and_paging, list_by_ids_and_feed);

fn ids(v: &Value) -> Vec<String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["incident_id"].as_str().unwrap().to_string())
        .collect()
}

async fn list_filters_and_paging(db: Db) {
    let app = TestApp::spawn(db).await;
    let ch = app.channel("Search").await;
    let a = app.ok("/incident/create", json!({"title": "Disk full on db-1", "incident_severity": "Critical", "channel_id": ch})).await;
    let b = app.ok("/incident/create", json!({"title": "100% CPU on web_2", "incident_severity": "Warning", "description": "noisy neighbour"})).await;
    let c = app
        .ok(
            "/incident/create",
            json!({"title": "Cert expiry", "incident_severity": "Info"}),
        )
        .await;
    let (a, b, c) = (
        a["incident_id"].as_str().unwrap(),
        b["incident_id"].as_str().unwrap(),
        c["incident_id"].as_str().unwrap(),
    );
    app.ok(
        "/incident/labels/update",
        json!({"incident_id": c, "labels": {"service": "edge-proxy"}}),
    )
    .await;
    app.ok("/incident/ack", json!({"incident_ids": [b]})).await;
    let range = |extra: Value| {
        let mut base = json!({"start_time": now_s() - 3600, "end_time": now_s() + 3600});
        base.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        base
    };
    let all = app.ok("/incident/list", range(json!({}))).await;
    assert_eq!(all["total"], json!(3));
    let listed = ids(&all);
    assert_eq!(listed.len(), 3);
    assert_eq!(&listed[2], a, "newest first");
    assert_eq!(
        ids(&app
            .ok("/incident/list", range(json!({"progress": "Processing"})))
            .await),
        [b]
    );
    assert_eq!(
        ids(&app
            .ok(
                "/incident/list",
                range(json!({"progress": "Triggered,Processing"}))
            )
            .await)
        .len(),
        3
    );
    assert_eq!(
        ids(&app
            .ok(
                "/incident/list",
                range(json!({"incident_severity": "Critical"}))
            )
            .await),
        [a]
    );
    assert_eq!(
        ids(&app
            .ok("/incident/list", range(json!({"channel_ids": [ch]})))
            .await),
        [a]
    );
    assert_eq!(
        ids(&app
            .ok("/incident/list", range(json!({"query": "DISK"})))
            .await),
        [a],
        "case-insensitive text"
    );
    assert_eq!(
        ids(&app
            .ok("/incident/list", range(json!({"query": "neighbour"})))
            .await),
        [b],
        "description"
    );
    assert_eq!(
        ids(&app
            .ok("/incident/list", range(json!({"query": "edge-proxy"})))
            .await),
        [c],
        "labels"
    );
    assert_eq!(
        ids(&app
            .ok("/incident/list", range(json!({"query": "100%"})))
            .await),
        [b],
        "% is literal"
    );
    assert_eq!(
        ids(&app
            .ok("/incident/list", range(json!({"query": "web_"})))
            .await),
        [b],
        "_ is literal"
    );
    assert_eq!(
        ids(&app.ok("/incident/list", range(json!({"query": c}))).await),
        [c],
        "an incident id"
    );
    assert_eq!(
        ids(&app
            .ok(
                "/incident/list",
                range(json!({"query": c[18..].to_ascii_lowercase()}))
            )
            .await),
        [c],
        "a num"
    );
    assert_eq!(
        ids(&app
            .ok("/incident/list", range(json!({"title": "cert"})))
            .await),
        [c]
    );
    let old = app
        .ok(
            "/incident/list",
            json!({"start_time": 0, "end_time": now_s() - 3600}),
        )
        .await;
    assert_eq!(old["total"], json!(0));
    let p1 = app.ok("/incident/list", range(json!({"limit": 2}))).await;
    let p2 = app
        .ok("/incident/list", range(json!({"limit": 2, "p": 2})))
        .await;
    assert_eq!(
        (p1["has_next_page"].clone(), p2["has_next_page"].clone()),
        (json!(true), json!(false))
    );
    let mut both = ids(&p1);
    both.extend(ids(&p2));
    assert_eq!(both, listed, "pages partition the list");
}

async fn list_by_ids_and_feed(db: Db) {
    let app = TestApp::spawn(db).await;
    let a = app.incident("Feed one").await;
    let b = app.incident("Feed two").await;
    let got = app
        .ok(
            "/incident/list-by-ids",
            json!({"incident_ids": [b, "ffffffffffffffffffffffff", a]}),
        )
        .await;
    assert_eq!(
        ids(&got),
        [b.clone(), a.clone()],
        "found ones, in the order asked"
    );
    app.ok("/incident/ack", json!({"incident_ids": [a]})).await;
    app.ok(
        "/incident/comment",
        json!({"incident_ids": [a], "comment": "on it"}),
    )
    .await;
    app.ok("/incident/resolve", json!({"incident_ids": [a]}))
        .await;
    let feed = app
        .ok("/incident/feed", json!({"incident_id": a, "asc": true}))
        .await;
    let kinds = feed_types(&feed);
    assert_eq!(kinds, ["i_new", "i_ack", "i_comm", "i_rslv"]);
    assert_eq!(feed["items"][2]["detail"]["comment"], json!("on it"));
    assert_eq!(feed["items"][1]["person"]["person_id"], json!(app.admin_id));
    assert!(feed["items"][0]["created_at"].as_i64().unwrap() > 0);
    let desc = app
        .ok("/incident/feed", json!({"incident_id": a, "limit": 2}))
        .await;
    let kinds = feed_types(&desc);
    assert_eq!(kinds, ["i_rslv", "i_comm"], "newest first by default");
    assert_eq!(desc["has_next_page"], json!(true));
}
