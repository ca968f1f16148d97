//! Secrets at rest: sealed with a key kept outside the database, unsealed
//! rows of an older database sealed at start, keys rotated, and a process
//! without the right key refused with a message that says what to do.

use dutyhook_domain::headers::Header;
use dutyhook_domain::ids::IntegrationId;
use dutyhook_domain::integration::{IntegrationConfig, IntegrationKind};
use dutyhook_domain::webhook::{RetryPolicy, WebhookConfig, WebhookKind};
use dutyhook_store::{generate_key, IntegrationRecord, Keyring, Store};

use crate::cli::dutyhook;
use crate::helpers::{Db, TestApp, TestDb};

both_dbs!(
    rows_stored_in_clear_are_sealed_at_start,
    keys_rotate_and_a_wrong_key_is_refused
);

fn ring(keys: &[&str]) -> Option<Keyring> {
    Some(Keyring::parse(&keys.join("\n")).unwrap())
}

fn webhook(secret: &str) -> IntegrationRecord {
    IntegrationRecord {
        integration_id: IntegrationId(0),
        kind: IntegrationKind::IncidentWebhook,
        name: "chat".into(),
        team_id: 0,
        enabled: true,
        disabled_reason: String::new(),
        config: IntegrationConfig::Webhook(WebhookConfig {
            kind: WebhookKind::Incident,
            name: "chat".into(),
            description: String::new(),
            team_id: 0,
            endpoint: "http://127.0.0.1:9/".into(),
            headers: vec![
                Header {
                    key: "Authorization".into(),
                    value: "Bearer hdr-7f3a".into(),
                    secret: true,
                },
                Header {
                    key: "X-Env".into(),
                    value: "prod".into(),
                    secret: false,
                },
            ],
            tls_verify: true,
            channel_ids: None,
            event_types: vec![],
            body_template: None,
            timeout_ms: 1000,
            retry_policy: RetryPolicy::Backoff,
            auth: Default::default(),
        }),
        secret: secret.into(),
        previous_secret: String::new(),
        previous_secret_until: 0,
        created_at: 0,
        updated_at: 0,
    }
}

/// What the row holds, as stored.
pub(crate) async fn stored_row(url: &str, id: IntegrationId) -> String {
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(url)
        .await
        .unwrap();
    let (secret, config): (String, String) =
        sqlx::query_as("SELECT secret, config FROM integrations WHERE id = $1")
            .bind(id.get())
            .fetch_one(&pool)
            .await
            .unwrap();
    pool.close().await;
    format!("{secret} {config}")
}

async fn open(db: &TestDb, keys: Option<Keyring>) -> Result<std::sync::Arc<dyn Store>, String> {
    dutyhook_store::open(&db.url, keys)
        .await
        .map_err(|e| e.to_string())
}

/// A database written before secrets were sealed: its rows hold them in
/// clear until the next start seals them.
async fn rows_stored_in_clear_are_sealed_at_start(db: Db) {
    sqlx::any::install_default_drivers();
    let db = TestDb::new(db).await;
    let key = generate_key();
    let store = open(&db, ring(&[&key])).await.unwrap();
    let id = store
        .create_integration(&webhook("whsec_c2VjcmV0LXNpZ25pbmcta2V5LTAxMjM0NQ=="))
        .await
        .unwrap();
    store.close().await;
    // Back to how an older dutyhook stored it.
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&db.url)
        .await
        .unwrap();
    sqlx::query("UPDATE integrations SET secret = $1, config = $2 WHERE id = $3")
        .bind("whsec_c2VjcmV0LXNpZ25pbmcta2V5LTAxMjM0NQ==")
        .bind(webhook("").config.to_json().to_string())
        .bind(id.get())
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    assert!(stored_row(&db.url, id).await.contains("hdr-7f3a"));

    let store = open(&db, ring(&[&key])).await.unwrap();
    let row = stored_row(&db.url, id).await;
    assert!(
        !row.contains("hdr-7f3a") && !row.contains("c2VjcmV0LXNpZ25pbmc"),
        "sealed at start: {row}"
    );
    assert!(
        row.contains("\"X-Env\"") && row.contains("prod"),
        "the rest stays readable: {row}"
    );
    let read = store.integration(id).await.unwrap().unwrap();
    assert_eq!(read.secret, "whsec_c2VjcmV0LXNpZ25pbmcta2V5LTAxMjM0NQ==");
    assert_eq!(
        read.config.webhook().unwrap().headers[0].value,
        "Bearer hdr-7f3a"
    );
    store.close().await;
}

async fn keys_rotate_and_a_wrong_key_is_refused(db: Db) {
    sqlx::any::install_default_drivers();
    let db = TestDb::new(db).await;
    let (old, new, stranger) = (generate_key(), generate_key(), generate_key());
    let store = open(&db, ring(&[&old])).await.unwrap();
    let id = store
        .create_integration(&webhook("whsec_b2xk"))
        .await
        .unwrap();
    store
        .rotate_secret(id, "whsec_bmV3", i64::MAX)
        .await
        .unwrap();
    store.close().await;

    // A stranger's key opens nothing, and says which key it would need.
    let err = open(&db, ring(&[&stranger])).await.err().expect("refused");
    let old_id = Keyring::parse(&old).unwrap().current().id().to_string();
    assert!(
        err.contains(&old_id) && err.contains("older keys may follow"),
        "{err}"
    );

    // The new key first, the old one after it: everything is sealed again
    // with the new key, and the old one can go.
    let store = open(&db, ring(&[&new, &old])).await.unwrap();
    store.close().await;
    let store = open(&db, ring(&[&new])).await.unwrap();
    let read = store.integration(id).await.unwrap().unwrap();
    assert_eq!(
        (read.secret.as_str(), read.previous_secret.as_str()),
        ("whsec_bmV3", "whsec_b2xk")
    );
    assert_eq!(
        read.config.webhook().unwrap().headers[0].value,
        "Bearer hdr-7f3a"
    );
    store.close().await;
}

/// PostgreSQL has no file to keep a key beside: it needs one given, and
/// says how to make one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_without_a_key_says_how_to_make_one() {
    let db = TestDb::new(Db::Postgres).await;
    let out = std::process::Command::new(crate::cli::BIN)
        .args(["migrate", "--database", &db.url])
        .env_remove("DUTYHOOK_SECRET_KEY")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("DUTYHOOK_SECRET_KEY") && err.contains("dutyhook secret-key generate"),
        "{err}"
    );
    let generated = dutyhook(&["secret-key", "generate"]).output().unwrap();
    let key = String::from_utf8_lossy(&generated.stdout)
        .trim()
        .to_string();
    assert!(Keyring::parse(&key).is_ok(), "{key}");
    let out = dutyhook(&["migrate", "--database", &db.url])
        .env("DUTYHOOK_SECRET_KEY", &key)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// On SQLite the key lives beside the database, readable by its owner only.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_keeps_its_key_in_a_private_file_beside_the_database() {
    use std::os::unix::fs::PermissionsExt;
    let app = TestApp::spawn(Db::Sqlite).await;
    let db = dutyhook_store::sqlite_path(&app.db.url).unwrap();
    let mut key_file = db.into_os_string();
    key_file.push(".key");
    let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600, "{key_file:?}");
    assert!(Keyring::from_file(std::path::Path::new(&key_file)).is_ok());
}
