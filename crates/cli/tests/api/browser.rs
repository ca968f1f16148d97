//! Running the console's end-to-end scripts (`tests/browser`) in a real
//! headless Chromium, when it and playwright-core are installed.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::helpers::{TestApp, ADMIN_EMAIL};

fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser")
}

/// Runs `script` (in `tests/browser`) against `app`, with BASE, EMAIL and
/// PASSWORD (the admin) and SHOTS set besides `env`; the test fails with
/// its output when the script does.
pub(crate) async fn run_in_browser(
    app: &TestApp,
    script: &str,
    shots: &Path,
    env: &[(&str, &str)],
) {
    let out = tokio::process::Command::new("node")
        .arg(browser_dir().join(script))
        .env("BASE", format!("http://{}", app.addr))
        .env("EMAIL", ADMIN_EMAIL)
        .env("PASSWORD", &app.password)
        .env("SHOTS", shots)
        .envs(env.iter().copied())
        .output()
        .await
        .expect("node runs");
    assert!(
        out.status.success(),
        "{script} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Whether Chromium and playwright-core are here; when
/// `DUTYHOOK_REQUIRE_BROWSER` is set (as the test script does) they must be.
pub(crate) fn browser_ready() -> bool {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    let ready = Path::new(&chromium).exists()
        && browser_dir().join("node_modules/playwright-core").exists()
        && Command::new("node").arg("--version").output().is_ok();
    if !ready && std::env::var_os("DUTYHOOK_REQUIRE_BROWSER").is_some() {
        panic!(
            "the browser test needs {chromium}, node and playwright-core \
             (npm ci --prefix crates/cli/tests/browser); scripts/test installs them"
        );
    }
    ready
}
