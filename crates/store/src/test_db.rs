//! Databases, people and recorders for the store's own tests.

use dutyhook_domain::ids::PersonId;
use dutyhook_domain::incident::RenderContext;
use dutyhook_domain::person::Person;
use dutyhook_domain::recorder::Recorder;

use crate::connect::open_sql;
use crate::store::SqlStore;

/// A fresh database of each kind; PostgreSQL ones are dropped afterwards.
pub(crate) struct Db {
    pub url: String,
    drop_pg: Option<(String, String)>,
    _dir: tempfile::TempDir,
}

impl Db {
    pub async fn sqlite() -> Db {
        let dir = tempfile::tempdir().unwrap();
        Db {
            url: format!("sqlite://{}", dir.path().join("w.db").display()),
            drop_pg: None,
            _dir: dir,
        }
    }

    pub async fn postgres() -> Db {
        use sqlx::Connection;
        let admin = std::env::var("DUTYHOOK_TEST_PG")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
        let name = format!("dh_writer_{:016x}", rand::random::<u64>());
        let mut conn = sqlx::PgConnection::connect(&admin).await.unwrap();
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap();
        let base = admin.rsplit_once('/').unwrap().0;
        Db {
            url: format!("{base}/{name}"),
            drop_pg: Some((admin, name)),
            _dir: tempfile::tempdir().unwrap(),
        }
    }

    pub async fn drop(mut self) {
        if let Some((admin, name)) = self.drop_pg.take() {
            drop_database(&admin, &name).await;
        }
    }
}

/// A test that fails, or ends without its `drop`, leaves no database
/// behind either: dropped from a thread of its own, since this may run on
/// the test's runtime.
impl Drop for Db {
    fn drop(&mut self) {
        if let Some((admin, name)) = self.drop_pg.take() {
            let _ = std::thread::spawn(move || {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(drop_database(&admin, &name))
            })
            .join();
        }
    }
}

async fn drop_database(admin: &str, name: &str) {
    use sqlx::Connection;
    let mut conn = sqlx::PgConnection::connect(admin).await.unwrap();
    sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .await
        .unwrap();
}

pub(crate) fn ada() -> Person {
    Person {
        person_id: PersonId(1),
        person_name: "Ada".into(),
        email: "ada@example.com".into(),
    }
}

pub(crate) fn recorder() -> Recorder {
    Recorder::new(
        crate::sql::now_ms(),
        RenderContext {
            public_url: "http://dutyhook.test".into(),
            account_id: 1,
            account_name: "t".into(),
        },
    )
}

/// A store on `db` with a fresh key.
pub(crate) async fn open(db: &Db) -> std::sync::Arc<SqlStore> {
    open_sql(
        &db.url,
        Some(crate::Keyring::parse(&crate::generate_key()).unwrap()),
    )
    .await
    .unwrap()
}

/// One test module per database: `on_both!(a, b)` runs each of the
/// functions `a(db)`, `b(db)` on a fresh SQLite and a fresh PostgreSQL
/// database (the caller imports `Db`).
macro_rules! on_both {
    ($($name:ident),*) => {
        mod sqlite {
            $( #[tokio::test] async fn $name() { super::$name(super::Db::sqlite().await).await } )*
        }
        mod postgres {
            $( #[tokio::test] async fn $name() { super::$name(super::Db::postgres().await).await } )*
        }
    };
}
pub(crate) use on_both;
