//! The README's walk-through, run as written: every `sh` block of
//! "Walk-through with curl" goes, command by command, to one bash (the
//! reader's terminal) against a fresh `dutyhook serve` on its default
//! SQLite database, with `dutyhook` on the PATH. What a reader would do by
//! hand is all the test does besides:
//!
//! - it pastes what the reader pastes: `KEY=` gets the app key `serve`
//!   printed, `ID=` the `incident_id` of the latest answer, `whsec_…` and
//!   `dhi_…` the latest signing secret and integration key answered;
//! - it moves the ports (8080, 9000, 9001) to free ones;
//! - it runs `dutyhook listen` in the background ("in a second terminal").
//!
//! Each shown answer (`# {…}`, on its own line or after the command) is
//! checked: its field names are in the real answer, and so are its
//! literal values, except ids that differ every run. `# items: a, b` names
//! what the answer must list; `# listen prints: …` what a listener prints.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use regex::Regex;

use crate::cli::{key_of, Serve, BIN};

/// Values that differ every run however the README shows them.
const OWN_VALUES: &[&str] = &["incident_id", "num", "request_id", "run_id"];

#[test]
fn readme_walk_through_runs_as_written() {
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md"))
        .expect("README.md");
    let steps = steps(&walk_through(&readme));
    assert!(steps.len() > 15, "the walk-through was found: {steps:?}");

    let dir = tempfile::tempdir().unwrap();
    let bin = dir.path().join("bin");
    std::fs::create_dir(&bin).unwrap();
    std::os::unix::fs::symlink(BIN, bin.join("dutyhook")).unwrap();
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap());
    let (_serve, addr, printed) = serve_in(dir.path(), &path);
    let ports = [("9000", free_port()), ("9001", free_port())];

    let mut shell = Shell::start(dir.path(), &path);
    let mut pasted: HashMap<&str, String> = HashMap::from([("KEY", key_of(&printed))]);
    let mut listeners: Vec<String> = vec![];
    let mut last_output = String::new();
    let trailing_comment = Regex::new(r"\s+#\s.*$").unwrap();
    let answered_field = |field| Regex::new(&format!(r#""{field}":"([^"]+)""#)).unwrap();
    let answered =
        ["incident_id", "signing_secret", "integration_key"].map(|f| (f, answered_field(f)));
    for step in &steps {
        let mut command = step.command.replace("127.0.0.1:8080", &addr);
        for (shown, real) in &ports {
            command = command.replace(shown, real);
        }
        for (placeholder, field) in [("whsec_…", "signing_secret"), ("dhi_…", "integration_key")]
        {
            if command.contains(placeholder) {
                let value = pasted
                    .get(field)
                    .unwrap_or_else(|| panic!("no {field} for {command}"));
                command = command.replace(placeholder, value);
            }
        }
        if let Some(name) = assigned_name(&command) {
            let value = match name.as_str() {
                "KEY" => pasted["KEY"].clone(),
                "ID" => pasted
                    .get("incident_id")
                    .expect("an incident was created")
                    .clone(),
                other => panic!("the test does not know what a reader pastes into {other}"),
            };
            command = format!("{name}={value}");
        }
        let output = if command.starts_with("dutyhook listen") {
            let log = dir.path().join(format!("listen-{}.log", listeners.len()));
            let log = log.to_str().unwrap().to_string();
            let command = trailing_comment.replace(&command, "");
            shell.run(&format!("{command} > {log} 2>&1 &"));
            wait_for(&log, |text| text.contains("listening on"), &command);
            listeners.push(log);
            String::new()
        } else {
            shell.run(&command)
        };
        for (field, re) in &answered {
            if let Some(c) = re.captures(&output) {
                pasted.insert(*field, c[1].to_string());
            }
        }
        if !output.trim().is_empty() {
            last_output = output.clone();
        }
        for shown in &step.expected {
            check(shown, &output, &listeners, &step.command);
        }
    }
    assert!(!last_output.is_empty());
}

/// One command of the walk-through and the answers shown after it.
#[derive(Debug)]
struct Step {
    command: String,
    expected: Vec<String>,
}

/// The `sh` blocks between "## Walk-through with curl" and the next `## `.
fn walk_through(readme: &str) -> Vec<String> {
    let start = readme
        .find("## Walk-through with curl")
        .expect("the walk-through");
    let rest = &readme[start + 3..];
    let section = &rest[..rest.find("\n## ").unwrap_or(rest.len())];
    section
        .split("```sh\n")
        .skip(1)
        .map(|b| b[..b.find("```").expect("a closed block")].to_string())
        .collect()
}

/// Commands as bash reads them (a command may span lines), each with the
/// `# {…}` / `# items:` / `# listen prints:` comments that follow it.
fn steps(blocks: &[String]) -> Vec<Step> {
    let mut steps: Vec<Step> = vec![];
    for block in blocks {
        let mut pending = String::new();
        let mut continuing = false;
        for line in block.lines() {
            let trimmed = line.trim_start();
            if pending.is_empty() && trimmed.starts_with('#') {
                let text = trimmed.trim_start_matches('#').trim().to_string();
                if let Some(step) = steps.last_mut() {
                    if continuing && text.starts_with('"') {
                        step.expected.last_mut().unwrap().push_str(&text);
                        continue;
                    }
                    if is_expectation(&text) {
                        step.expected.push(text);
                        continuing = true;
                        continue;
                    }
                }
                continuing = false;
                continue;
            }
            continuing = false;
            if pending.is_empty() && trimmed.is_empty() {
                continue;
            }
            pending.push_str(line);
            pending.push('\n');
            if !line.ends_with('\\') && parses(&pending) {
                let command = pending.trim_end().to_string();
                let expected = trailing_expectation(&command).into_iter().collect();
                steps.push(Step { command, expected });
                pending.clear();
            }
        }
        assert!(
            pending.is_empty(),
            "a command in the README does not parse: {pending}"
        );
    }
    steps
}

fn is_expectation(text: &str) -> bool {
    text.starts_with('{') || text.starts_with("items:") || text.starts_with("listen prints:")
}

/// `api … '…'   # {…}`: the answer shown after the command.
fn trailing_expectation(command: &str) -> Option<String> {
    let last = command.lines().last()?;
    let at = last.rfind("  # {")?;
    parses(&last[..at]).then(|| last[at..].trim().trim_start_matches('#').trim().to_string())
}

fn parses(script: &str) -> bool {
    Command::new("bash")
        .args(["-n", "-c", script])
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// `NAME=…` on its own: a value the reader pastes.
fn assigned_name(command: &str) -> Option<String> {
    let re = Regex::new(r"^([A-Z_]+)=\S+(\s+#.*)?$").unwrap();
    re.captures(command).map(|c| c[1].to_string())
}

fn check(shown: &str, output: &str, listeners: &[String], command: &str) {
    if let Some(items) = shown.strip_prefix("items:") {
        let names = items.split('—').next().unwrap();
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            assert!(
                output.contains(&format!("\"{name}\"")),
                "{command}: no {name} in {output}"
            );
        }
    } else if let Some(line) = shown.strip_prefix("listen prints:") {
        let words: Vec<&str> = line
            .split_whitespace()
            .filter(|w| !w.contains('…'))
            .collect();
        let log = listeners.last().expect("a listener runs");
        wait_for(
            log,
            |text| text.lines().any(|l| words.iter().all(|w| l.contains(w))),
            &format!("{command} (listen prints {words:?})"),
        );
    } else {
        let key = Regex::new(r#""(\w+)":"#).unwrap();
        for c in key.captures_iter(shown) {
            assert!(
                output.contains(&c[0]),
                "{command}: shown {shown}, answered {output}"
            );
        }
        let pair = Regex::new(r#""(\w+)":(true|false|-?\d+|"[^"]*"|\[[^\[\]{}]*\])"#).unwrap();
        for c in pair.captures_iter(shown) {
            if c[0].contains('…') || OWN_VALUES.contains(&&c[1]) {
                continue;
            }
            assert!(
                output.contains(&c[0]),
                "{command}: shown {}, answered {output}",
                &c[0]
            );
        }
    }
}

fn wait_for(file: &str, done: impl Fn(&str) -> bool, what: &str) {
    for _ in 0..200 {
        if done(&std::fs::read_to_string(file).unwrap_or_default()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let text = std::fs::read_to_string(file).unwrap_or_default();
    panic!("{what}: not seen in 10 s; printed {text}");
}

fn free_port() -> String {
    let socket = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    socket.local_addr().unwrap().port().to_string()
}

/// `dutyhook serve` as the README's first command runs it: no flags, so
/// SQLite in `./dutyhook.db`; only the port is a free one.
fn serve_in(dir: &std::path::Path, path: &str) -> (Serve, String, Vec<String>) {
    let mut serve = Serve::from(
        Command::new("dutyhook")
            .arg("serve")
            .current_dir(dir)
            .env("PATH", path)
            .env("DUTYHOOK_LISTEN", "127.0.0.1:0")
            .env("DUTYHOOK_LOG", "warn")
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn dutyhook serve"),
    );
    let mut lines = BufReader::new(serve.stdout()).lines();
    let mut printed = vec![];
    for line in lines.by_ref() {
        let line = line.unwrap();
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest.split_whitespace().next().unwrap().to_string();
            std::thread::spawn(move || for _ in lines {});
            return (serve, addr, printed);
        }
        printed.push(line);
    }
    panic!("dutyhook serve stopped before listening: {printed:?}");
}

/// One bash, the reader's terminal: functions and variables carry over.
struct Shell {
    child: Child,
    stdin: ChildStdin,
    lines: Receiver<String>,
}

const DONE: &str = "__walk_through_step_done__";

impl Shell {
    fn start(dir: &std::path::Path, path: &str) -> Shell {
        let mut child = Command::new("bash")
            .args(["--noprofile", "--norc"])
            .current_dir(dir)
            .env("PATH", path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("bash");
        let stdin = child.stdin.take().unwrap();
        let (tx, lines) = channel();
        for out in [
            Box::new(child.stdout.take().unwrap()) as Box<dyn std::io::Read + Send>,
            Box::new(child.stderr.take().unwrap()),
        ] {
            let tx = tx.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines().map_while(Result::ok) {
                    let _ = tx.send(line);
                }
            });
        }
        Shell {
            child,
            stdin,
            lines,
        }
    }

    /// Runs one command; answers what it printed, asserting it succeeded.
    fn run(&mut self, command: &str) -> String {
        writeln!(self.stdin, "{command}\nprintf '\\n{DONE} %s\\n' $?").unwrap();
        self.stdin.flush().unwrap();
        let mut out = String::new();
        loop {
            let line = self
                .lines
                .recv_timeout(Duration::from_secs(30))
                .unwrap_or_else(|_| panic!("{command}: no end after 30 s; printed {out}"));
            if let Some(status) = line.strip_prefix(DONE) {
                assert_eq!(status.trim(), "0", "{command} failed; printed {out}");
                return out;
            }
            out.push_str(&line);
            out.push('\n');
        }
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        // The listeners started in the background go with their shell.
        let _ = Command::new("pkill")
            .args(["-P", &self.child.id().to_string()])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
