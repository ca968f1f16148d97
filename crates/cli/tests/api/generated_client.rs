//! A client generated from /openapi.json by a mainstream generator
//! (openapi-python-client, PyPI) works: it creates a channel, a custom
//! field, a webhook and an incident with a custom field value, sets the
//! field, acknowledges, resolves, reads the feed and the push history
//! (`data/generated_client.py`). `scripts/test` installs the generator
//! and requires this test; elsewhere it says it was skipped.

use std::process::Command;

use crate::helpers::{Db, TestApp};
use crate::receiver::TestReceiver;

fn generator_present() -> bool {
    let found = Command::new("openapi-python-client")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found && std::env::var_os("DUTYHOOK_REQUIRE_GENERATOR").is_some() {
        panic!("openapi-python-client is needed (PyPI)");
    }
    if !found {
        eprintln!("skipped: openapi-python-client is not installed");
    }
    found
}

#[tokio::test]
async fn a_generated_python_client_runs_the_main_flow() {
    if !generator_present() {
        return;
    }
    let app = TestApp::spawn(Db::Sqlite).await;
    let rx = TestReceiver::start().await;
    let doc = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let spec = dir.path().join("openapi.json");
    std::fs::write(&spec, doc).unwrap();
    let generated = Command::new("openapi-python-client")
        .args(["generate", "--meta", "none", "--path"])
        .arg(&spec)
        .arg("--output-path")
        .arg(dir.path().join("client"))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&generated.stdout).to_string()
        + &String::from_utf8_lossy(&generated.stderr);
    assert!(generated.status.success(), "generation failed: {said}");
    assert!(!said.contains("Warning"), "the generator warned: {said}");
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/api/data/generated_client.py"
    );
    let run = tokio::task::spawn_blocking({
        let (base, key, receiver) = (app.url(""), app.key.clone(), rx.url.clone());
        let path = dir.path().to_path_buf();
        move || {
            Command::new("python3")
                .arg(script)
                .args([&base, &key, &receiver])
                .env("PYTHONPATH", path)
                .output()
                .unwrap()
        }
    })
    .await
    .unwrap();
    let out = String::from_utf8_lossy(&run.stdout);
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(
        run.status.success() && out.trim() == "ok",
        "the generated client failed:\n{out}{err}"
    );
    assert!(!rx.received().is_empty(), "the webhook it made was pushed");
}
