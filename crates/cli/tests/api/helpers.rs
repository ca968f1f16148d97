use std::sync::Arc;
use std::time::Duration;

use dutyhook_domain::ids::PersonId;
use dutyhook_server::bootstrap::create_admin;
use dutyhook_server::AppState;
use dutyhook_store::Store;
use rand::Rng;
use serde_json::{json, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Db {
    Sqlite,
    Postgres,
}

/// Runs each named `async fn NAME(db: Db)` of the calling module once on
/// SQLite and once on PostgreSQL.
macro_rules! both_dbs {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(crate::helpers::Db::Sqlite).await } )*
        }
        mod postgres {
            $( #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
               async fn $name() { super::$name(crate::helpers::Db::Postgres).await } )*
        }
    };
}

/// The key that seals secrets in the tests' PostgreSQL databases (SQLite
/// ones use the key file made beside them), for in-process stores and the
/// processes the tests start alike.
pub const TEST_SECRET_KEY: &str = "ZGVmZ2hpamtsbW5vcHFyc3R1dnd4eXp7fH1+f4CBgoM=";

pub fn pg_admin_url() -> String {
    std::env::var("DUTYHOOK_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

/// A database that exists for one test and is removed afterwards.
pub struct TestDb {
    pub url: String,
    pg_name: Option<String>,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// PostgreSQL: this database's URL with `password` in its user part;
    /// the local server trusts its clients, so it is sent and ignored.
    /// SQLite URLs hold no password.
    pub fn url_with_password(&self, password: &str) -> Option<String> {
        let url = self
            .url
            .replacen("://postgres@", &format!("://postgres:{password}@"), 1);
        (url != self.url).then_some(url)
    }

    /// The keys a store of this database is opened with.
    pub fn keyring(&self) -> Option<dutyhook_store::Keyring> {
        self.url
            .starts_with("postgres")
            .then(|| dutyhook_store::Keyring::parse(TEST_SECRET_KEY).unwrap())
    }

    /// A SQLite database in `dir` (which the caller keeps).
    pub fn sqlite_in(dir: &std::path::Path) -> TestDb {
        TestDb {
            url: format!("sqlite://{}", dir.join("dutyhook.db").display()),
            pg_name: None,
            _dir: None,
        }
    }

    /// A PostgreSQL database at `url` that the caller owns.
    pub fn at(url: String) -> TestDb {
        TestDb {
            url,
            pg_name: None,
            _dir: None,
        }
    }

    pub async fn new(db: Db) -> TestDb {
        match db {
            Db::Sqlite => {
                let dir = tempfile::tempdir().expect("tempdir");
                let url = format!("sqlite://{}", dir.path().join("dutyhook.db").display());
                TestDb {
                    url,
                    pg_name: None,
                    _dir: Some(dir),
                }
            }
            Db::Postgres => {
                let name = format!("dh_test_{:016x}", rand::thread_rng().gen::<u64>());
                let admin = pg_admin_url();
                let mut conn: sqlx::PgConnection =
                    sqlx::Connection::connect(&admin).await.unwrap_or_else(|e| {
                        panic!("PostgreSQL at {admin} is needed for these tests: {e}")
                    });
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create database");
                let base = admin
                    .rsplit_once('/')
                    .map(|(b, _)| b.to_string())
                    .expect("URL with a database");
                TestDb {
                    url: format!("{base}/{name}"),
                    pg_name: Some(name),
                    _dir: None,
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = self.pg_name.take() {
            let admin = pg_admin_url();
            // Drop runs outside async; a short-lived runtime on its own thread does the cleanup.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .ok()?;
                rt.block_on(async move {
                    let mut conn: sqlx::PgConnection =
                        sqlx::Connection::connect(&admin).await.ok()?;
                    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await
                        .ok()
                })
            })
            .join();
        }
    }
}

pub struct TestApp {
    pub addr: String,
    pub key: String,
    pub admin_id: PersonId,
    /// The admin's console password (email `ADMIN_EMAIL`).
    pub password: String,
    pub store: Arc<dyn Store>,
    pub state: AppState,
    pub client: reqwest::Client,
    shutdown: tokio::sync::watch::Sender<bool>,
    pub db: TestDb,
}

pub const ADMIN_EMAIL: &str = "ada@example.com";
pub const PUBLIC_URL: &str = "http://dutyhook.test:8080";

impl TestApp {
    pub async fn spawn(db: Db) -> TestApp {
        Self::spawn_with(db, |_| {}).await
    }

    /// Starts with the test configuration changed by `tweak`.
    pub async fn spawn_with(db: Db, tweak: impl FnOnce(&mut dutyhook_server::Config)) -> TestApp {
        Self::spawn_on(TestDb::new(db).await, tweak).await
    }

    /// Starts on a database the test prepared.
    pub async fn spawn_on(db: TestDb, tweak: impl FnOnce(&mut dutyhook_server::Config)) -> TestApp {
        let store = dutyhook_store::open(&db.url, db.keyring())
            .await
            .expect("open store");
        let mut config = dutyhook_server::Config::new(PUBLIC_URL);
        config.snooze_check_every = Duration::from_millis(50);
        config.delivery.poll = Duration::from_millis(50);
        config.delivery.schedule = dutyhook_delivery::retry::Schedule { scale: 0.001 };
        config.delivery.circuit_open = Duration::from_millis(300);
        tweak(&mut config);
        let state = dutyhook_server::state(store.clone(), &config)
            .await
            .expect("state");
        let (admin, _) = create_admin(&state, "Ada Admin", ADMIN_EMAIL)
            .await
            .expect("admin");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().unwrap().to_string();
        let (tx, rx) = tokio::sync::watch::channel(false);
        tokio::spawn(dutyhook_server::serve(listener, state.clone(), config, rx));
        TestApp {
            addr,
            key: admin.app_key,
            admin_id: PersonId(admin.person_id),
            password: admin.password,
            store,
            state,
            client: reqwest::Client::new(),
            shutdown: tx,
            db,
        }
    }

    /// The JSON a GET of `path` answers (`/openapi.json`, `/health`, …).
    pub async fn get_json(&self, path: &str) -> Value {
        let resp = self.client.get(self.url(path)).send().await.unwrap();
        resp.json().await.unwrap()
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POSTs JSON with the admin's key; answers (status, body).
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.post_as(&self.key.clone(), path, body).await
    }

    pub async fn post_as(&self, key: &str, path: &str, body: Value) -> (u16, Value) {
        let resp = self
            .client
            .post(self.url(path))
            .bearer_auth(key)
            .json(&body)
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        let v = serde_json::from_str(&text)
            .unwrap_or_else(|_| panic!("{path} answered non-JSON: {text}"));
        (status, v)
    }

    /// POSTs with the admin's key on a task of its own, so several calls
    /// race; the task answers the whole envelope.
    pub fn post_task(&self, path: &str, body: Value) -> tokio::task::JoinHandle<Value> {
        let request = self
            .client
            .post(self.url(path))
            .bearer_auth(&self.key)
            .json(&body);
        tokio::spawn(async move {
            request
                .send()
                .await
                .expect("request")
                .json::<Value>()
                .await
                .expect("a JSON answer")
        })
    }

    /// POSTs and expects success; answers `data`.
    pub async fn ok(&self, path: &str, body: Value) -> Value {
        let (status, v) = self.post(path, body.clone()).await;
        assert_eq!(status, 200, "{path} {body} answered {v}");
        v["data"].clone()
    }

    /// POSTs and expects the error `code` with `status`; answers the message.
    pub async fn fails(&self, path: &str, body: Value, status: u16, code: &str) -> String {
        self.fails_as(&self.key.clone(), path, body, status, code)
            .await
    }

    /// As [`Self::fails`], called with `key`.
    pub async fn fails_as(
        &self,
        key: &str,
        path: &str,
        body: Value,
        status: u16,
        code: &str,
    ) -> String {
        let (got, v) = self.post_as(key, path, body.clone()).await;
        assert_eq!(
            (got, v["error"]["code"].as_str()),
            (status, Some(code)),
            "{path} {body} answered {v}"
        );
        assert!(
            v["request_id"].as_str().is_some_and(|s| !s.is_empty()),
            "{v}"
        );
        v["error"]["message"].as_str().unwrap().to_string()
    }

    pub async fn events(&self) -> Vec<Value> {
        self.store
            .events_after(0, 100_000)
            .await
            .expect("events")
            .into_iter()
            .map(|e| {
                let v: Value = serde_json::from_str(&e.payload).expect("payload is JSON");
                assert_eq!(v["event_id"], json!(e.event_id));
                assert_eq!(v["event_type"], json!(e.event_type));
                v
            })
            .collect()
    }

    /// The invocation history of an integration, newest first, once it holds
    /// at least `n` attempts (waits up to 20 s).
    pub async fn attempts(&self, integration_id: i64, n: usize) -> Vec<Value> {
        for _ in 0..2000 {
            let h = self
                .ok(
                    "/integration/history/list",
                    json!({"integration_id": integration_id, "start_time": now_s() - 600,
                           "end_time": now_s() + 600, "limit": 100}),
                )
                .await;
            let items = h["items"].as_array().unwrap().clone();
            if items.len() >= n {
                return items;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("fewer than {n} attempts recorded for integration {integration_id}");
    }

    pub async fn event_count(&self) -> usize {
        self.store.count_events().await.unwrap() as usize
    }

    /// The events recorded after the first `skip`.
    pub async fn events_since(&self, skip: usize) -> Vec<Value> {
        self.events().await.into_iter().skip(skip).collect()
    }

    pub async fn person(&self, name: &str, email: &str, role: &str) -> (i64, String) {
        let id = self
            .ok(
                "/person/create",
                json!({"person_name": name, "email": email, "role": role}),
            )
            .await["person_id"]
            .as_i64()
            .unwrap();
        let key = self
            .ok("/app-key/create", json!({"name": "test", "person_id": id}))
            .await["app_key"]
            .as_str()
            .unwrap()
            .to_string();
        (id, key)
    }

    pub async fn channel(&self, name: &str) -> i64 {
        self.ok("/channel/create", json!({"channel_name": name}))
            .await["channel_id"]
            .as_i64()
            .unwrap()
    }

    pub async fn incident(&self, title: &str) -> String {
        self.ok(
            "/incident/create",
            json!({"title": title, "incident_severity": "Warning"}),
        )
        .await["incident_id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    pub async fn info(&self, id: &str) -> Value {
        self.ok("/incident/info", json!({"incident_id": id})).await
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.shutdown.send(true);
    }
}

/// The `type` of each timeline item of a `/incident/feed` answer, in order.
pub fn feed_types(feed: &Value) -> Vec<String> {
    feed["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|i| i["type"].as_str().expect("type").to_string())
        .collect()
}

pub fn now_s() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// An incident as the API reads it, less what a read adds beside the
/// payload's fields (all 0 for an incident without alerts): the payload.
pub fn payload_part(mut incident: Value) -> Value {
    for f in ["owner_id", "active_alert_cnt", "alert_event_cnt"] {
        let extra = incident.as_object_mut().and_then(|m| m.remove(f));
        assert_eq!(extra, Some(json!(0)), "read beside the payload: {f}");
    }
    incident
}

/// The properties a schema of the app's OpenAPI document declares.
pub async fn declared_properties(
    app: &TestApp,
    schema: &str,
) -> std::collections::BTreeSet<String> {
    let doc = app.get_json("/openapi.json").await;
    doc["components"]["schemas"][schema]["properties"]
        .as_object()
        .unwrap_or_else(|| panic!("{schema} lists its properties"))
        .keys()
        .cloned()
        .collect()
}

/// `base` with the fields of `extra` set over it.
pub fn with_fields(base: &Value, extra: Value) -> Value {
    let mut out = base.clone();
    for (k, v) in extra.as_object().expect("extra is an object") {
        out[k] = v.clone();
    }
    out
}

/// An endpoint that refuses every connection. Port 1 lies below the range the
/// kernel hands out for port 0, so no receiver started by a parallel test can
/// be given it, as it can a port bound and let go.
pub fn refused_endpoint(path: &str) -> String {
    format!("http://127.0.0.1:1/{path}")
}
