//! `SmtpSink`: a real SMTP server (aiosmtpd, PyPI) on 127.0.0.1 that keeps
//! every mail it accepts, or refuses the first few with a 451.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub struct SmtpSink {
    pub port: u16,
    mails: Arc<Mutex<Vec<Value>>>,
    _child: Child,
    _dir: Option<tempfile::TempDir>,
}

impl SmtpSink {
    pub async fn start() -> SmtpSink {
        Self::refusing(0).await
    }

    /// Answers the first `n` mails `451 try again later`.
    pub async fn refusing(n: usize) -> SmtpSink {
        Self::run(&["--refuse".into(), n.to_string()], None).await
    }

    /// Over TLS with this certificate: `starttls` (required before a
    /// mail) or `wrapper` (TLS from the first byte). Each mail says
    /// whether it came encrypted (`tls`).
    pub async fn tls(mode: &str, cert_pem: &str, key_pem: &str) -> SmtpSink {
        Self::tls_with_login(mode, cert_pem, key_pem, None).await
    }

    /// As [`SmtpSink::tls`], taking mail only after a login with `login`
    /// (user, password).
    pub async fn tls_with_login(
        mode: &str,
        cert_pem: &str,
        key_pem: &str,
        login: Option<(&str, &str)>,
    ) -> SmtpSink {
        let dir = tempfile::tempdir().unwrap();
        let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
        std::fs::write(&cert, cert_pem).unwrap();
        std::fs::write(&key, key_pem).unwrap();
        let mut args = vec![
            "--tls".to_string(),
            mode.into(),
            "--cert".into(),
            cert.display().to_string(),
            "--key".into(),
            key.display().to_string(),
        ];
        if let Some((user, password)) = login {
            args.extend([
                "--user".into(),
                user.into(),
                "--password".into(),
                password.into(),
            ]);
        }
        Self::run(&args, Some(dir)).await
    }

    async fn run(args: &[String], dir: Option<tempfile::TempDir>) -> SmtpSink {
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/api/data/smtp_sink.py");
        let mut child = Command::new("python3")
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("python3 runs the SMTP sink");
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let first = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
            .await
            .expect("the SMTP sink starts")
            .unwrap()
            .expect("the SMTP sink prints its port (is aiosmtpd installed? pip install aiosmtpd)");
        let port = serde_json::from_str::<Value>(&first).unwrap()["port"]
            .as_u64()
            .unwrap() as u16;
        let mails: Arc<Mutex<Vec<Value>>> = Default::default();
        let keep = mails.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                keep.lock()
                    .unwrap()
                    .push(serde_json::from_str(&line).unwrap());
            }
        });
        SmtpSink {
            port,
            mails,
            _child: child,
            _dir: dir,
        }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn mails(&self) -> Vec<Value> {
        self.mails.lock().unwrap().clone()
    }

    /// The first `n` mails, waiting up to 60 s for them.
    pub async fn wait_for(&self, n: usize) -> Vec<Value> {
        match self.until(|got| got.len() >= n).await {
            Some(got) => got,
            None => panic!("expected {n} mails, got {:#?}", self.mails()),
        }
    }

    /// The mails once `done` holds of them; `None` after 60 s. A deadline to
    /// fail by, not a measure: under the whole suite's load a freshly
    /// started process's first mail once took over 20 s.
    pub async fn until(&self, done: impl Fn(&[Value]) -> bool) -> Option<Vec<Value>> {
        for _ in 0..1200 {
            let got = self.mails();
            if done(&got) {
                return Some(got);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        None
    }
}

/// Each mail's envelope recipients, sorted.
pub fn recipients(mail: &Value) -> Vec<String> {
    let mut to: Vec<String> = mail["rcpt_tos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    to.sort();
    to
}
