//! What a test runs against: a server on its own database ([`TestApp`]) or,
//! for tests of the store and the library alone, just the database
//! ([`TestStore`], no server booted). [`on_both_backends!`] runs each on
//! SQLite and on PostgreSQL.

use std::future::Future;

use civitas::clock::Clock;
use civitas::config::{Issuer, Settings};
use civitas::startup::Application;
use civitas::store::Store;
use civitas::telemetry::MetricsToken;

use super::db::{Backend, START, TestDb, skipped};

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

    /// Another server on this test's database and clock, with the test
    /// settings changed by `configure` (its issuer is its own address
    /// unless `configure` names another; its client sends that issuer as
    /// `Origin`). It stops when the test's runtime ends.
    pub async fn instance(&self, configure: impl FnOnce(&mut Settings)) -> TestApp {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let mut settings = test_settings(&self.db_url, port);
        configure(&mut settings);
        let origin = settings.issuer.as_str().to_string();
        let app = Application::build_on(listener, settings, self.clock.clone(), Some(2))
            .await
            .expect("cannot build another instance");
        tokio::spawn(app.run_until_stopped());
        TestApp {
            address: format!("http://localhost:{port}"),
            store: self.store.clone(),
            clock: self.clock.clone(),
            client: browser_client(&origin),
            db_url: self.db_url.clone(),
        }
    }

    /// `GET /metrics` as the operator's Prometheus scrapes it: with the
    /// test servers' metrics token.
    pub async fn metrics(&self) -> reqwest::Response {
        self.client
            .get(self.url("/metrics"))
            .bearer_auth(TEST_METRICS_TOKEN)
            .send()
            .await
            .expect("request failed")
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

/// The database of a server that was never started, with the test clock.
pub struct TestStore {
    pub store: Store,
    pub clock: Clock,
}

impl TestStore {
    pub async fn citizen_count(&self) -> i64 {
        self.store.count_citizens().await.unwrap()
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

/// The bearer token test servers require on `/metrics`.
pub const TEST_METRICS_TOKEN: &str = "test-metrics-token-not-a-secret";

/// What a test gets to run against, set up on its own database.
pub trait Fixture: Sized + Send + 'static {
    /// Sets up on `db`; the second value stops what was started.
    fn start(db: &TestDb) -> impl Future<Output = (Self, Teardown)>;
}

/// Stops a fixture after its test: the server, if any, then the pool.
pub struct Teardown {
    server: Option<actix_web::dev::ServerHandle>,
    store: Store,
}

impl Teardown {
    async fn stop(self) {
        if let Some(server) = self.server {
            server.stop(false).await;
        }
        self.store.close().await;
    }
}

impl Fixture for TestApp {
    async fn start(db: &TestDb) -> (Self, Teardown) {
        start_app(db, false).await
    }
}

/// A server whose issuer is `https://localhost:PORT`, spoken to over plain
/// HTTP as a TLS-terminating proxy in front of it would; its client sends
/// the issuer as `Origin`, as a browser on the https site does.
pub struct HttpsApp {
    pub app: TestApp,
    /// `https://localhost:PORT`: the origin of pages and passkeys.
    pub issuer: String,
}

impl Fixture for HttpsApp {
    async fn start(db: &TestDb) -> (Self, Teardown) {
        let (app, teardown) = start_app(db, true).await;
        let issuer = app.address.replacen("http://", "https://", 1);
        let app = TestApp {
            client: browser_client(&issuer),
            ..app
        };
        (HttpsApp { app, issuer }, teardown)
    }
}

/// The settings of every test server on `url` listening on `port`.
fn test_settings(url: &str, port: u16) -> Settings {
    let mut settings = Settings::for_tests(url, port).unwrap();
    settings.metrics_token = Some(MetricsToken::new(TEST_METRICS_TOKEN).unwrap());
    settings
}

/// Starts a server on `db`, with an `https://` issuer when `https`.
async fn start_app(db: &TestDb, https: bool) -> (TestApp, Teardown) {
    let clock = Clock::fixed(START);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let mut settings = test_settings(&db.url, port);
    if https {
        settings.issuer = Issuer::parse(&format!("https://localhost:{port}")).unwrap();
    }
    let app = Application::build_on(listener, settings, clock.clone(), Some(2))
        .await
        .expect("cannot build the application");
    let store = app.store();
    let server = app.handle();
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
    let teardown = Teardown {
        server: Some(server),
        store,
    };
    (test_app, teardown)
}

impl Fixture for TestStore {
    async fn start(db: &TestDb) -> (Self, Teardown) {
        let settings = Settings::for_tests(&db.url, 0).unwrap();
        let store = Store::connect(&settings.database.url, settings.database.max_connections)
            .await
            .expect("cannot open the test database");
        let fixture = TestStore {
            store: store.clone(),
            clock: Clock::fixed(START),
        };
        let teardown = Teardown {
            server: None,
            store,
        };
        (fixture, teardown)
    }
}

/// Sets up a fixture (a server, or only the store: the test's argument says
/// which) on a copy of the template database, runs the test, stops what was
/// started and drops the database, even when the test fails.
pub async fn run<T, F, Fut>(backend: Backend, test: F)
where
    T: Fixture,
    F: FnOnce(T) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    if skipped(backend) {
        return;
    }
    let db = TestDb::create(backend).await;
    let (fixture, teardown) = T::start(&db).await;
    let outcome = tokio::spawn(test(fixture)).await;
    teardown.stop().await;
    db.drop_db().await;
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
}

/// Declares each listed `async fn(TestApp)` or `async fn(TestStore)` as two
/// tests: `sqlite::NAME` and `postgres::NAME`.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::support::app::run(
                        $crate::support::db::Backend::Sqlite,
                        super::$name,
                    )
                    .await
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    $crate::support::app::run(
                        $crate::support::db::Backend::Postgres,
                        super::$name,
                    )
                    .await
                }
            )+
        }
    };
}
