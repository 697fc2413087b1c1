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
    /// The database URL, for running the `civitas` binary against it.
    pub db_url: String,
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

    /// Row counts of the tables a refused request must leave alone.
    pub async fn counts(&self) -> [i64; 5] {
        use civitas::store::Table::*;
        let mut out = [0; 5];
        for (i, t) in [
            Citizens,
            Passkeys,
            Sessions,
            EnrollmentDuplicates,
            CredentialIncidents,
        ]
        .into_iter()
        .enumerate()
        {
            out[i] = self.store.count_rows(t).await.unwrap();
        }
        out
    }

    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.client
            .request(method, self.url(path))
            .json(body)
            .send()
            .await
            .expect("request failed")
    }
}

/// Reads a JSON error body and checks its code.
pub async fn assert_error(response: reqwest::Response, status: u16, code: &str, case: &str) {
    let got = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(got, status, "case {case}: status; body {text}");
    let body: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("case {case}: error body is not JSON: {e}: {text}"));
    assert_eq!(body["error"], code, "case {case}: error code in {body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty()),
        "case {case}: error_description missing in {body}"
    );
}

/// A client like a browser on our pages: keeps cookies, does not follow
/// redirects, and sends our origin as `Origin`.
pub fn browser_client(origin: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::ORIGIN, origin.parse().unwrap());
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .cookie_store(true)
        .default_headers(headers)
        .build()
        .unwrap()
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
    let client = browser_client(&address);
    let test_app = TestApp {
        address,
        store: store.clone(),
        clock,
        client,
        db_url: db.url.clone(),
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

/// A `civitas serve` process of the real binary, stopped (SIGTERM) on drop.
pub struct ServerProcess {
    pub child: std::process::Child,
    pub port: u16,
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl ServerProcess {
    /// Starts the binary in `dir` and waits until `/readyz` answers 200.
    pub async fn start(dir: &std::path::Path, envs: &[(&str, String)]) -> Self {
        Self::launch(dir, envs, false).await
    }

    /// Like `start`, keeping what the server prints for `stop_and_read`.
    pub async fn start_capturing(dir: &std::path::Path, envs: &[(&str, String)]) -> Self {
        Self::launch(dir, envs, true).await
    }

    async fn launch(dir: &std::path::Path, envs: &[(&str, String)], capture: bool) -> Self {
        let port = free_port();
        let stdout = if capture {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        };
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_civitas"))
            .current_dir(dir)
            .env("CIVITAS_LISTEN", format!("127.0.0.1:{port}"))
            .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
            .arg("serve")
            .stdout(stdout)
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let server = Self { child, port };
        let client = reqwest::Client::new();
        for _ in 0..100 {
            if let Ok(r) = client
                .get(format!("http://127.0.0.1:{port}/readyz"))
                .send()
                .await
                && r.status() == 200
            {
                return server;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("civitas serve did not become ready on port {port}");
    }

    /// Sends SIGTERM and waits; returns whether the process exited cleanly.
    pub fn stop(self) -> bool {
        self.stop_and_read().0
    }

    /// Like `stop`, with what the server printed (`start_capturing`).
    pub fn stop_and_read(mut self) -> (bool, String) {
        use std::io::Read;
        let pid = self.child.id().to_string();
        let _ = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        let ok = self.child.wait().is_ok_and(|s| s.success());
        let mut out = String::new();
        if let Some(mut stdout) = self.child.stdout.take() {
            let _ = stdout.read_to_string(&mut out);
        }
        std::mem::forget(self);
        (ok, out)
    }
}

/// The master key the test servers use (see `Settings::for_tests`).
pub const TEST_MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";
/// The `USER` the `civitas` binary runs as, so CLI audit actors are known.
pub const CLI_USER: &str = "registry-test";
pub const CLI_ACTOR: &str = "cli:registry-test";

/// Runs the `civitas` binary on the test database, outside any config file.
pub fn civitas(app: &TestApp, args: &[&str]) -> std::process::Output {
    civitas_with_env(app, args, &[])
}

/// Like [`civitas`], with more environment variables.
pub fn civitas_with_env(
    app: &TestApp,
    args: &[&str],
    envs: &[(&str, &str)],
) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_civitas"))
        .args(args)
        .current_dir(std::env::temp_dir())
        .env("CIVITAS_DATABASE_URL", &app.db_url)
        .env("CIVITAS_MASTER_KEY", TEST_MASTER_KEY)
        .env("CIVITAS_CONFIG", "/nonexistent/civitas.toml")
        .env("USER", CLI_USER)
        .envs(envs.iter().copied())
        .output()
        .unwrap()
}

pub fn stdout(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
