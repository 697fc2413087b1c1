//! The embedded backend: one SQLite file, write-ahead log, full fsync on commit.

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::SqlitePool;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

pub async fn connect(
    url: &str,
    max_connections: Option<u32>,
    acquire_timeout: Duration,
) -> anyhow::Result<SqlitePool> {
    let options = SqliteConnectOptions::from_str(url)
        .with_context(|| format!("invalid SQLite URL {url:?}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        // Every acknowledged write survives a power cut.
        .synchronous(SqliteSynchronous::Full)
        .foreign_keys(true)
        .busy_timeout(Duration::from_secs(10));
    if let Some(dir) = options.get_filename().parent()
        && !dir.as_os_str().is_empty()
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create database folder {}", dir.display()))?;
    }
    SqlitePoolOptions::new()
        .max_connections(max_connections.unwrap_or(8))
        .acquire_timeout(acquire_timeout)
        .connect_with(options)
        .await
        .with_context(|| format!("cannot open SQLite database {url}"))
}
