//! Test harness: a fresh database and server per test, on each backend.

use std::future::Future;
use std::path::PathBuf;

use civitas::clock::Clock;
use civitas::config::Settings;
use civitas::startup::Application;
use civitas::store::Store;
use time::macros::datetime;

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Where the PostgreSQL test databases are created.
pub fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A database made for one test and removed after it.
pub struct TestDb {
    pub url: String,
    backend: Backend,
    name: String,
    dir: Option<PathBuf>,
}

impl TestDb {
    pub async fn create(backend: Backend) -> Self {
        let name = format!("civitas_test_{}", uuid::Uuid::new_v4().simple());
        match backend {
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(&name);
                std::fs::create_dir_all(&dir).unwrap();
                let url = format!("sqlite://{}", dir.join("civitas.db").display());
                Self {
                    url,
                    backend,
                    name,
                    dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let mut conn = connect_pg(&admin).await;
                sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
                    .execute(&mut conn)
                    .await
                    .expect("cannot create the test database");
                let url = replace_db_name(&admin, &name);
                Self {
                    url,
                    backend,
                    name,
                    dir: None,
                }
            }
        }
    }

    pub async fn drop_db(self) {
        match self.backend {
            Backend::Sqlite => {
                if let Some(dir) = self.dir {
                    let _ = std::fs::remove_dir_all(dir);
                }
            }
            Backend::Postgres => {
                let mut conn = connect_pg(&postgres_admin_url()).await;
                sqlx::query(sqlx::AssertSqlSafe(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                )))
                .execute(&mut conn)
                .await
                .expect("cannot drop the test database");
            }
        }
    }
}

async fn connect_pg(url: &str) -> sqlx::PgConnection {
    use sqlx::Connection;
    sqlx::PgConnection::connect(url).await.unwrap_or_else(|e| {
        panic!("PostgreSQL at {url} is not reachable ({e}); set TEST_DATABASE_URL")
    })
}

fn replace_db_name(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("TEST_DATABASE_URL is not a URL");
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}

/// A running server on a fresh database.
pub struct TestApp {
    pub address: String,
    pub store: Store,
    pub clock: Clock,
    pub client: reqwest::Client,
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request failed")
    }

    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> reqwest::Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request failed")
    }

    pub async fn citizen_count(&self) -> i64 {
        self.store.count_citizens().await.unwrap()
    }
}

/// Reads a JSON error body and checks its code.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str, case: &str) {
    assert_eq!(response.status().as_u16(), status, "case {case}: status");
    let body: serde_json::Value = response
        .json()
        .await
        .unwrap_or_else(|e| panic!("case {case}: error body is not JSON: {e}"));
    assert_eq!(body["error"], code, "case {case}: error code in {body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "case {case}: error_description missing in {body}"
    );
}

/// Spawns a server on a fresh database, runs the test, stops the server and
/// drops the database, even when the test fails.
pub async fn run<F, Fut>(backend: Backend, test: F)
where
    F: FnOnce(TestApp) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let db = TestDb::create(backend).await;
    let clock = Clock::fixed(datetime!(2026-11-28 09:00 UTC));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let settings = Settings::for_tests(&db.url, port).unwrap();
    let app = Application::build_on(listener, settings, clock.clone(), Some(2))
        .await
        .expect("cannot build the application");
    let store = app.store();
    let handle = app.handle();
    let address = format!("http://localhost:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .build()
        .unwrap();
    let test_app = TestApp {
        address,
        store: store.clone(),
        clock,
        client,
    };
    let outcome = tokio::spawn(test(test_app)).await;
    handle.stop(false).await;
    store.close().await;
    db.drop_db().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Declares each listed `async fn(TestApp)` as two tests:
/// `sqlite::NAME` and `postgres::NAME`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::helpers::run($crate::helpers::Backend::Sqlite, super::$name).await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::helpers::run($crate::helpers::Backend::Postgres, super::$name).await
                }
            )+
        }
    };
}
