//! The production backend: PostgreSQL (and wire-compatible engines).

use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

pub async fn connect(
    url: &str,
    max_connections: Option<u32>,
    acquire_timeout: Duration,
) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(max_connections.unwrap_or(16))
        .acquire_timeout(acquire_timeout)
        .connect(url)
        .await
        .context("cannot connect to PostgreSQL")
}
