//! The `civitas` binary: migrate, serve with defaults, graceful shutdown.

use std::process::Command;

use crate::support::cli::ServerProcess;
use crate::support::db::{Backend, TestDb, skipped};

const BIN: &str = env!("CARGO_BIN_EXE_civitas");

async fn migrate_then_serve_then_stop(backend: Backend) {
    if skipped(backend) {
        return;
    }
    let db = TestDb::empty(backend).await;
    let work = std::env::temp_dir().join(format!("civitas-cli-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&work).unwrap();

    let migrate = Command::new(BIN)
        .current_dir(&work)
        .args(["migrate", "--database-url", &db.url])
        .output()
        .unwrap();
    assert!(
        migrate.status.success(),
        "{}",
        String::from_utf8_lossy(&migrate.stderr)
    );
    assert!(String::from_utf8_lossy(&migrate.stdout).contains("up to date"));

    // The environment variables work as well as the flags.
    let server = ServerProcess::start(&work, &[("CIVITAS_DATABASE_URL", db.url.clone())]).await;
    assert!(server.stop(), "serve did not exit cleanly after SIGTERM");
    std::fs::remove_dir_all(&work).unwrap();
    db.drop_db().await;
}

#[tokio::test]
async fn sqlite_migrate_serve_and_stop() {
    migrate_then_serve_then_stop(Backend::Sqlite).await;
}

#[tokio::test]
async fn postgres_migrate_serve_and_stop() {
    migrate_then_serve_then_stop(Backend::Postgres).await;
}

#[test]
fn serve_help_lists_every_setting() {
    let help = Command::new(BIN)
        .args(["serve", "--help"])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&help.stdout);
    for setting in [
        "--database-url",
        "CIVITAS_DATABASE_URL",
        "--listen",
        "CIVITAS_LISTEN",
        "--issuer",
        "CIVITAS_ISSUER",
        "--regions",
        "--config",
    ] {
        assert!(
            text.contains(setting),
            "serve --help lacks {setting}:\n{text}"
        );
    }
}

#[test]
fn an_unknown_database_scheme_is_refused() {
    let out = Command::new(BIN)
        .args(["migrate", "--database-url", "mysql://x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("sqlite:// or postgres://"));
}
