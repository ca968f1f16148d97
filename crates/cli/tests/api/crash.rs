//! Killing the process (SIGKILL) loses no committed event, and never leaves an
//! event without its change or a change without its event.

use std::collections::HashSet;

use dutyhook_domain::ids::IncidentId;
use serde_json::{json, Value};

use crate::cli::{key_of, start_serve};
use crate::helpers::{Db, TestDb};

both_dbs!(kill_mid_load_keeps_the_outbox_exact);

async fn kill_mid_load_keeps_the_outbox_exact(db: Db) {
    let db = TestDb::new(db).await;
    let (mut child, addr, printed) = start_serve(&db.url);
    let key = key_of(&printed);
    let client = reqwest::Client::new();

    // Load from several tasks; the process dies while requests are in flight.
    let mut tasks = vec![];
    for t in 0..4 {
        let (client, addr, key) = (client.clone(), addr.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            let mut confirmed: Vec<String> = vec![];
            for i in 0..1000 {
                let body = json!({"title": format!("load {t}-{i}"), "incident_severity": "Info"});
                let r = client
                    .post(format!("http://{addr}/incident/create"))
                    .bearer_auth(&key)
                    .json(&body)
                    .send()
                    .await;
                let Ok(resp) = r else { break };
                let Ok(v) = resp.json::<Value>().await else {
                    break;
                };
                let id = v["data"]["incident_id"].as_str().unwrap().to_string();
                let r = client
                    .post(format!("http://{addr}/incident/ack"))
                    .bearer_auth(&key)
                    .json(&json!({"incident_ids": [id]}))
                    .send()
                    .await;
                confirmed.push(id.clone());
                if r.is_err() {
                    break;
                }
            }
            confirmed
        }));
    }
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    child.kill();
    let mut confirmed = HashSet::new();
    for t in tasks {
        confirmed.extend(t.await.unwrap());
    }
    assert!(
        confirmed.len() > 5,
        "the load ran before the kill ({} incidents)",
        confirmed.len()
    );

    let store = dutyhook_store::open(&db.url, db.keyring())
        .await
        .expect("reopen after the crash");
    let events = store.events_after(0, 1_000_000).await.unwrap();
    let mut news = HashSet::new();
    let mut per_incident: std::collections::HashMap<String, usize> = Default::default();
    for e in &events {
        let v: Value = serde_json::from_str(&e.payload).unwrap();
        assert_eq!(v["event_id"], json!(e.event_id));
        *per_incident.entry(e.subject_id.clone()).or_default() += 1;
        if e.event_type.as_str() == "i_new" {
            news.insert(e.subject_id.clone());
        }
    }
    for id in &confirmed {
        assert!(
            news.contains(id),
            "incident {id} was confirmed to the client, so its i_new survives"
        );
    }
    // Every stored incident has exactly the events of its timeline: change and events committed together.
    let ids: Vec<IncidentId> = per_incident
        .keys()
        .map(|k| IncidentId::from(k.as_str()))
        .collect();
    for chunk in ids.chunks(100) {
        let incidents = store
            .incidents(chunk)
            .await
            .expect("every event's incident exists");
        for inc in incidents {
            let feed = store
                .feed(
                    &inc.incident_id,
                    &[],
                    dutyhook_store::Page { p: 1, limit: 100 },
                    true,
                )
                .await
                .unwrap();
            assert_eq!(
                feed.total as usize,
                per_incident[inc.incident_id.as_str()],
                "timeline and events of {}",
                inc.incident_id
            );
            let acked = feed.items.iter().any(|t| t.kind == "i_ack");
            assert_eq!(
                acked,
                inc.progress == dutyhook_domain::severity::Progress::Processing
            );
        }
    }
    store.close().await;

    // The service starts again on the same database and goes on.
    let (mut child, addr, _) = start_serve(&db.url);
    let before = events.len();
    let r = client
        .post(format!("http://{addr}/incident/create"))
        .bearer_auth(&key)
        .json(&json!({"title": "after restart", "incident_severity": "Info"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    child.kill();
    let store = dutyhook_store::open(&db.url, db.keyring()).await.unwrap();
    assert_eq!(store.count_events().await.unwrap() as usize, before + 1);
    store.close().await;
}
