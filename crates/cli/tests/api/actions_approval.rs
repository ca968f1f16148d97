//! Runs that need a second person: the trigger calls nothing and waits;
//! only another eligible person approves (then the call is made, as the
//! requester's) or rejects; unanswered, the run expires.

use std::time::Duration;

use serde_json::{json, Value};

use crate::actions::{feed, incident_in};
use crate::actions_guardrails::action;
use crate::helpers::{Db, TestApp};
use crate::receiver::TestReceiver;

both_dbs!(approval_needs_a_second_person, unanswered_approvals_expire);

async fn code_of(app: &TestApp, key: &str, path: &str, body: Value) -> (u16, String) {
    let (s, b) = app.post_as(key, path, body).await;
    (s, b["error"]["code"].as_str().unwrap_or("").to_string())
}

/// The `i_custom` statuses on the incident's timeline, oldest first.
async fn run_statuses(app: &TestApp, inc: &str) -> Vec<String> {
    feed(app, inc).await["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == json!("i_custom"))
        .map(|e| e["detail"]["status"].as_str().unwrap_or("").to_string())
        .collect()
}

async fn approval_needs_a_second_person(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let (requester, rkey) = app
        .person("Rae Requester", "rae@example.com", "member")
        .await;
    let (approver, akey) = app
        .person("Abe Approver", "abe@example.com", "member")
        .await;
    let (_, okey) = app
        .person("Olu Outsider", "olu@example.com", "member")
        .await;
    let (_, vkey) = app.person("Vic Viewer", "vic@example.com", "viewer").await;
    let team = app
        .ok(
            "/team/create",
            json!({"team_name": "DB owners", "person_ids": [approver]}),
        )
        .await["team_id"]
        .as_i64()
        .unwrap();
    let ch = app.channel("db").await;
    let inputs = json!([{"name": "host", "label": "Host", "type": "string", "default": "db-1"}]);
    let id = action(
        &app,
        ch,
        &rx.url,
        json!({"name": "Fail over", "approval": {"team_id": team}, "inputs": inputs}),
    )
    .await;
    let listed = app
        .ok(
            "/incident/action/list",
            json!({"incident_id": incident_in(&app, ch, "Other").await}),
        )
        .await;
    assert_eq!(listed["items"][0]["needs_approval"], json!(true));
    let inc = incident_in(&app, ch, "Primary down").await;

    // The trigger makes a run awaiting approval and calls nothing.
    let (s, r) = app
        .post_as(
            &rkey,
            "/incident/action/trigger",
            json!({"incident_id": inc, "action_id": id, "inputs": {"host": "db-7"}}),
        )
        .await;
    assert_eq!(s, 200, "{r}");
    let r = &r["data"];
    assert_eq!(r["status"], json!("awaiting_approval"), "{r}");
    assert_eq!(r["success"], json!(false));
    assert!(rx.received().is_empty(), "nothing called before approval");
    let run_id = r["run_id"].clone();
    let awaiting = app.ok("/incident/action/run/awaiting", json!({})).await;
    assert_eq!(awaiting["items"][0]["run_id"], run_id);

    // Never the requester, never a viewer, never someone outside the team.
    let approve = json!({"run_id": run_id});
    let path = "/incident/action/run/approve";
    assert_eq!(
        code_of(&app, &rkey, path, approve.clone()).await,
        (403, "AccessDenied".into())
    );
    assert_eq!(
        code_of(&app, &vkey, path, approve.clone()).await,
        (403, "AccessDenied".into())
    );
    assert_eq!(
        code_of(&app, &okey, path, approve.clone()).await,
        (403, "AccessDenied".into())
    );
    assert!(rx.received().is_empty());

    // A team member approves: the call is made as the requester's press.
    let (s, done) = app.post_as(&akey, path, approve.clone()).await;
    assert_eq!(s, 200, "{done}");
    assert_eq!(done["data"]["status"], json!("succeeded"), "{done}");
    let pushed = rx.received()[0].json();
    assert_eq!(pushed["person"]["person_id"], json!(requester));
    assert_eq!(pushed["run"]["approved_by"]["person_id"], json!(approver));
    assert_eq!(pushed["inputs"], json!({"host": "db-7"}));
    let run = app
        .ok("/incident/action/run/info", json!({"run_id": run_id}))
        .await;
    assert_eq!(run["approved_by"]["person_id"], json!(approver));
    // Approving twice calls nothing more.
    assert_eq!(
        code_of(&app, &akey, path, approve).await,
        (400, "InvalidParameter".into())
    );
    assert_eq!(rx.received().len(), 1);

    // Reject: by an eligible person, with a reason; nothing is called.
    let (_, r2) = app
        .post_as(
            &rkey,
            "/incident/action/trigger",
            json!({"incident_id": inc, "action_id": id}),
        )
        .await;
    let second = r2["data"]["run_id"].clone();
    let reject = "/incident/action/run/reject";
    assert_eq!(
        code_of(&app, &okey, reject, json!({"run_id": second})).await,
        (403, "AccessDenied".into())
    );
    let rejected = app
        .post_as(
            &akey,
            reject,
            json!({"run_id": second, "reason": "not now"}),
        )
        .await;
    assert_eq!(
        rejected.1["data"]["status"],
        json!("rejected"),
        "{rejected:?}"
    );
    assert!(rejected.1["data"]["message"]
        .as_str()
        .unwrap()
        .contains("not now"));
    assert_eq!(
        code_of(&app, &akey, path, json!({"run_id": second}))
            .await
            .0,
        400
    );
    assert_eq!(rx.received().len(), 1, "a rejected run calls nothing");

    // The requester may withdraw their own request; an admin may approve any.
    let (_, r3) = app
        .post_as(
            &rkey,
            "/incident/action/trigger",
            json!({"incident_id": inc, "action_id": id}),
        )
        .await;
    let (s, _) = app
        .post_as(&rkey, reject, json!({"run_id": r3["data"]["run_id"]}))
        .await;
    assert_eq!(s, 200);
    let (_, r4) = app
        .post_as(
            &rkey,
            "/incident/action/trigger",
            json!({"incident_id": inc, "action_id": id}),
        )
        .await;
    let by_admin = app.ok(path, json!({"run_id": r4["data"]["run_id"]})).await;
    assert_eq!(by_admin["status"], json!("succeeded"));

    // Each step is on the timeline with i_custom.
    assert_eq!(
        run_statuses(&app, &inc).await,
        [
            "awaiting_approval",
            "running",
            "succeeded", // approved by a team member
            "awaiting_approval",
            "rejected",
            "awaiting_approval",
            "rejected", // withdrawn
            "awaiting_approval",
            "running",
            "succeeded", // approved by an admin
        ]
    );
    let events: Vec<Value> = app
        .events()
        .await
        .into_iter()
        .filter(|e| e["event_type"] == json!("i_custom"))
        .collect();
    assert_eq!(events.len(), 10);
    assert_eq!(events[0]["action"]["status"], json!("awaiting_approval"));
    assert_eq!(events[0]["action"]["run_id"], run_id);
}

async fn unanswered_approvals_expire(db: Db) {
    let app = TestApp::spawn(db).await;
    let rx = TestReceiver::start().await;
    let ch = app.channel("db").await;
    let id = action(&app, ch, &rx.url, json!({"approval": {"expires_s": 60}})).await;
    let shown = app
        .ok(
            "/integration/custom-action/info",
            json!({"integration_id": id}),
        )
        .await;
    assert_eq!(shown["approval"], json!({"team_id": 0, "expires_s": 60}));
    let (s, b) = app
        .post(
            "/integration/custom-action/update",
            json!({"integration_id": id, "approval": {"expires_s": 10}}),
        )
        .await;
    assert!(
        s == 400
            && b["error"]["message"]
                .as_str()
                .unwrap()
                .contains("approval.expires_s"),
        "{b}"
    );

    let inc = incident_in(&app, ch, "Primary down").await;
    let r = app
        .ok(
            "/incident/action/trigger",
            json!({"incident_id": inc, "action_id": id}),
        )
        .await;
    app.state.clock.advance(Duration::from_secs(61));
    let mut run = Value::Null;
    for _ in 0..400 {
        run = app
            .ok("/incident/action/run/info", json!({"run_id": r["run_id"]}))
            .await;
        if run["status"] != json!("awaiting_approval") {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(run["status"], json!("expired"), "{run}");
    let (s, _) = app
        .post(
            "/incident/action/run/approve",
            json!({"run_id": r["run_id"]}),
        )
        .await;
    assert_eq!(s, 400, "an expired run cannot be approved");
    assert!(rx.received().is_empty());
    assert_eq!(
        run_statuses(&app, &inc).await,
        ["awaiting_approval", "expired"]
    );
}
