//! What a connection may cost the server (`open-api.md`, "Robustness"):
//! many idle clients, a client sending its headers a byte at a time, and
//! kept-alive connections left idle.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::{key_of, Serve, BIN};
use crate::helpers::{Db, TestApp, TestDb};

both_dbs!(
    headers_sent_a_byte_at_a_time_are_cut_off,
    kept_alive_connections_outlive_the_header_timeout_until_idle
);

/// Starts `dutyhook serve` under a soft open-file limit of 1,024 (the usual
/// service default), with `config` written to a file.
fn serve_with_1024_files(url: &str, config: &str) -> (Serve, String, String, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dutyhook.toml");
    std::fs::write(&path, config).unwrap();
    let mut serve: Serve = Command::new("prlimit")
        .args(["--nofile=1024:", "--"])
        .arg(BIN)
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database",
            url,
            "--config",
        ])
        .arg(&path)
        .env("DUTYHOOK_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn dutyhook under prlimit")
        .into();
    let mut reader = BufReader::new(serve.stdout());
    let mut printed = vec![];
    loop {
        let mut line = String::new();
        assert!(
            reader.read_line(&mut line).unwrap() > 0,
            "serve exited: {printed:?}"
        );
        if let Some(rest) = line.split("listening on http://").nth(1) {
            let addr = rest.split_whitespace().next().unwrap().to_string();
            std::thread::spawn(move || for _ in reader.lines() {});
            let key = key_of(&printed);
            return (serve, addr, key, dir);
        }
        printed.push(line);
    }
}

/// Found by an unauthenticated client: 1,100 idle connections under the
/// usual limit of 1,024 open files made every call time out ("accept error:
/// Too many open files"). The server raises its soft limit to the hard one
/// at start, so they fit beside the API's own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_idle_connections_leave_the_api_answering() {
    let db = TestDb::new(Db::Sqlite).await;
    // Long enough that none is cut off while they are being opened.
    let (serve, addr, key, _dir) = serve_with_1024_files(&db.url, "header_timeout_ms = 120000\n");
    let idle: Vec<TcpStream> = (0..1100)
        .map(|_| TcpStream::connect(&addr).expect("connect"))
        .collect();
    let fds = || {
        std::fs::read_dir(format!("/proc/{}/fd", serve.id()))
            .unwrap()
            .count()
    };
    for _ in 0..600 {
        if fds() > 1100 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        fds() > 1100,
        "the server holds every connection: {} files",
        fds()
    );
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    for _ in 0..5 {
        let resp = client
            .post(format!("http://{addr}/incident/list"))
            .bearer_auth(&key)
            .json(&serde_json::json!({"start_time": 0, "end_time": 4_000_000_000i64}))
            .send()
            .await
            .expect("the API answers beside 1,100 idle connections");
        assert_eq!(resp.status(), 200);
    }
    drop(idle);
}

async fn short_limits(db: Db) -> TestApp {
    TestApp::spawn_with(db, |c| {
        c.connections.header_timeout = Duration::from_millis(800);
        c.connections.idle_timeout = Duration::from_millis(3000);
    })
    .await
}

/// Whether the server closed the connection (waits up to 20 s).
fn closed(c: &mut TcpStream) -> bool {
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut b = [0u8; 1024];
    loop {
        match c.read(&mut b) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

/// Slow-loris: headers at one byte every 100 ms never end the request,
/// and the connection is closed once the header timeout has passed.
async fn headers_sent_a_byte_at_a_time_are_cut_off(db: Db) {
    let app = short_limits(db).await;
    let addr = app.addr.clone();
    let cut = tokio::task::spawn_blocking(move || {
        let mut c = TcpStream::connect(&addr).unwrap();
        let started = Instant::now();
        let header = b"POST /incident/list HTTP/1.1\r\nHost: x\r\nX-Slow: ".repeat(10);
        for b in header {
            if c.write_all(&[b]).is_err() {
                return Some(started.elapsed());
            }
            std::thread::sleep(Duration::from_millis(100));
            let mut probe = [0u8; 1];
            c.set_nonblocking(true).unwrap();
            let gone = matches!(c.read(&mut probe), Ok(0));
            c.set_nonblocking(false).unwrap();
            if gone {
                return Some(started.elapsed());
            }
        }
        None
    })
    .await
    .unwrap();
    let took = cut.expect("the trickling client was cut off");
    assert!(
        took >= Duration::from_millis(800),
        "cut off early: {took:?}"
    );
}

fn request(c: &mut TcpStream, addr: &str) -> String {
    write!(c, "GET /health HTTP/1.1\r\nHost: {addr}\r\n\r\n").unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = vec![];
    let mut b = [0u8; 4096];
    while !String::from_utf8_lossy(&got).contains("\"status\"") {
        let n = c.read(&mut b).expect("a response");
        assert!(n > 0, "closed before answering");
        got.extend_from_slice(&b[..n]);
    }
    String::from_utf8_lossy(&got).into_owned()
}

/// A kept-alive connection is not held to the header timeout while it waits
/// for its next request (hyper's own timeout would close it then), and is
/// closed once idle for the idle timeout.
async fn kept_alive_connections_outlive_the_header_timeout_until_idle(db: Db) {
    let app = short_limits(db).await;
    let addr = app.addr.clone();
    tokio::task::spawn_blocking(move || {
        let mut c = TcpStream::connect(&addr).unwrap();
        assert!(request(&mut c, &addr).starts_with("HTTP/1.1 200"));
        // Idle past the header timeout, within the idle one.
        std::thread::sleep(Duration::from_millis(1600));
        assert!(request(&mut c, &addr).starts_with("HTTP/1.1 200"));
        assert!(closed(&mut c), "closed once idle for the idle timeout");
    })
    .await
    .unwrap();
}
