//! Test databases: each test gets its own, cloned from a template that is
//! built once (and reused by later runs while the migrations stay the same).
//!
//! The template holds what a server finds at its first start before it
//! bootstraps: the migrations applied, the sample regions loaded and the
//! signing keys generated with the test master key at [`START`]. It does not
//! hold the first administrator's invitation: the server creates that when
//! it starts, and the tests rely on it.
//!
//! PostgreSQL tests run when `TEST_DATABASE_URL` is set (and fail when that
//! server is unreachable); without it they are skipped, saying so once.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Once;

use civitas::config::Settings;
use civitas::store::Pool;
use sqlx::Connection;
use time::OffsetDateTime;
use time::macros::datetime;
use tokio::sync::OnceCell;

/// When every test server starts (the fixed clock); the template's keys are
/// dated then, as the first start would date them.
pub const START: OffsetDateTime = datetime!(2026-11-28 09:00 UTC);

/// The master key the test servers use (see `Settings::for_tests`).
pub const TEST_MASTER_KEY: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8";

/// Which database a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Where the PostgreSQL test databases are created, if anywhere.
fn postgres_admin_url() -> Option<String> {
    std::env::var("TEST_DATABASE_URL")
        .ok()
        .filter(|url| !url.is_empty())
}

/// True when a test on `backend` cannot run here: PostgreSQL without
/// `TEST_DATABASE_URL`. Says so once per test run, past the output capture.
pub fn skipped(backend: Backend) -> bool {
    static SAID: Once = Once::new();
    if backend == Backend::Sqlite || postgres_admin_url().is_some() {
        return false;
    }
    SAID.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "PostgreSQL tests skipped: TEST_DATABASE_URL is not set \
             (e.g. postgres://postgres@127.0.0.1:5432/postgres)"
        );
    });
    true
}

/// `TEST_DATABASE_URL`, without TLS unless it names an `sslmode`: a TLS
/// handshake costs about 0.1 s per connection in a debug build, and every
/// test opens several.
fn admin_url() -> String {
    let url = postgres_admin_url().expect("TEST_DATABASE_URL is not set");
    let mut parsed = url::Url::parse(&url).expect("TEST_DATABASE_URL is not a URL");
    if !parsed.query_pairs().any(|(key, _)| key == "sslmode") {
        parsed.query_pairs_mut().append_pair("sslmode", "disable");
    }
    parsed.to_string()
}

/// A database made for one test and removed after it.
pub struct TestDb {
    pub url: String,
    backend: Backend,
    name: String,
    dir: Option<PathBuf>,
}

impl TestDb {
    /// A copy of the template: ready for a server's first start.
    pub async fn create(backend: Backend) -> Self {
        let db = Self::named(backend);
        match backend {
            Backend::Sqlite => {
                let template = sqlite_template().await;
                std::fs::copy(template, db.sqlite_file()).unwrap();
            }
            Backend::Postgres => {
                let template = postgres_template().await;
                on_admin(format!("CREATE DATABASE {} TEMPLATE {template}", db.name)).await;
            }
        }
        db
    }

    /// An empty database, for tests of what migrates it.
    pub async fn empty(backend: Backend) -> Self {
        let db = Self::named(backend);
        if backend == Backend::Postgres {
            on_admin(format!("CREATE DATABASE {}", db.name)).await;
        }
        db
    }

    /// A fresh name (and, for SQLite, folder); nothing created yet.
    fn named(backend: Backend) -> Self {
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
            Backend::Postgres => Self {
                url: replace_db_name(&admin_url(), &name),
                backend,
                name,
                dir: None,
            },
        }
    }

    fn sqlite_file(&self) -> PathBuf {
        self.dir
            .as_ref()
            .expect("a SQLite test database has a folder")
            .join("civitas.db")
    }

    pub async fn drop_db(self) {
        match self.backend {
            Backend::Sqlite => {
                if let Some(dir) = self.dir {
                    let _ = std::fs::remove_dir_all(dir);
                }
            }
            Backend::Postgres => {
                on_admin(format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await;
            }
        }
    }
}

/// Runs one statement on a new connection to `TEST_DATABASE_URL`.
async fn on_admin(sql: String) {
    execute(&mut connect_pg(&admin_url()).await, sql).await;
}

/// Runs one statement, failing the test with it if it fails.
async fn execute(conn: &mut sqlx::PgConnection, sql: String) {
    if let Err(e) = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
        .execute(conn)
        .await
    {
        panic!("{sql}: {e}");
    }
}

async fn connect_pg(url: &str) -> sqlx::PgConnection {
    sqlx::PgConnection::connect(url)
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url} (TEST_DATABASE_URL) is not reachable: {e}"))
}

fn replace_db_name(url: &str, name: &str) -> String {
    let mut parsed = url::Url::parse(url).expect("the test database URL is not a URL");
    parsed.set_path(&format!("/{name}"));
    parsed.to_string()
}

/// Names what the template holds: the backend's migrations (names and
/// contents) and the sample regions, so a changed migration makes a new one.
fn template_name(backend: Backend) -> String {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend.name());
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    let mut hash = ring::digest::Context::new(&ring::digest::SHA256);
    for file in files {
        hash.update(file.file_name().unwrap().as_encoded_bytes());
        hash.update(&std::fs::read(&file).unwrap());
    }
    hash.update(civitas::domain::region::SAMPLE_REGIONS_CSV.as_bytes());
    hash.update(TEST_MASTER_KEY.as_bytes());
    hash.update(&START.unix_timestamp().to_be_bytes());
    let digest = hash.finish();
    let hex: String = digest.as_ref()[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("civitas_template_{hex}")
}

/// Brings the database at `url` to what a first start finds before it
/// bootstraps (see the module's doc).
async fn fill_template(url: &str) {
    let mut settings = Settings::for_tests(url, 0).unwrap();
    settings.database.max_connections = Some(2);
    let clock = civitas::clock::Clock::fixed(START);
    let (store, master) = civitas::startup::open_database(&settings.database, &clock)
        .await
        .unwrap();
    civitas::registry::load_regions(&store, None).await.unwrap();
    civitas::oidc::keyring::ensure_keys(&store, &master, START.unix_timestamp())
        .await
        .unwrap();
    if let Pool::Sqlite(pool) = store.pool() {
        // A self-contained copy, with nothing left in a write-ahead log.
        let copy = sqlite_template_path().with_extension(format!("{}.tmp", uuid::Uuid::new_v4()));
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "VACUUM INTO '{}'",
            copy.display()
        )))
        .execute(pool)
        .await
        .unwrap();
        // Atomic: a concurrent run sees the whole template or none.
        std::fs::rename(&copy, sqlite_template_path()).unwrap();
    }
    store.close().await;
}

fn sqlite_template_path() -> PathBuf {
    std::env::temp_dir()
        .join("civitas-test-templates")
        .join(format!("{}.db", template_name(Backend::Sqlite)))
}

/// The SQLite template file, built on first use.
async fn sqlite_template() -> &'static Path {
    static TEMPLATE: OnceCell<PathBuf> = OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            let path = sqlite_template_path();
            if !path.exists() {
                let work = std::env::temp_dir().join(format!(
                    "civitas-template-build-{}",
                    uuid::Uuid::new_v4().simple()
                ));
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::create_dir_all(&work).unwrap();
                fill_template(&format!("sqlite://{}", work.join("civitas.db").display())).await;
                let _ = std::fs::remove_dir_all(&work);
            }
            path
        })
        .await
}

/// The PostgreSQL template database, built on first use by one process while
/// the others wait. Nobody may connect to it (`ALLOW_CONNECTIONS false`), as
/// `CREATE DATABASE ... TEMPLATE` refuses a template that has sessions.
async fn postgres_template() -> &'static str {
    static TEMPLATE: OnceCell<String> = OnceCell::const_new();
    TEMPLATE
        .get_or_init(|| async {
            /// The advisory lock held while a template is built.
            const BUILDING: i64 = 0x0063_6976_6974_6173; // "civitas"
            let name = template_name(Backend::Postgres);
            let mut conn = connect_pg(&admin_url()).await;
            execute(&mut conn, format!("SELECT pg_advisory_lock({BUILDING})")).await;
            let exists: bool =
                sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
                    .bind(&name)
                    .fetch_one(&mut conn)
                    .await
                    .unwrap();
            if !exists {
                // Under the lock, so a leftover is from a build that died.
                let building = format!("{name}_building");
                execute(
                    &mut conn,
                    format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"),
                )
                .await;
                execute(&mut conn, format!("CREATE DATABASE {building}")).await;
                fill_template(&replace_db_name(&admin_url(), &building)).await;
                execute(
                    &mut conn,
                    format!("ALTER DATABASE {building} RENAME TO {name}"),
                )
                .await;
                execute(
                    &mut conn,
                    format!("ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true"),
                )
                .await;
            }
            execute(&mut conn, format!("SELECT pg_advisory_unlock({BUILDING})")).await;
            name
        })
        .await
}
