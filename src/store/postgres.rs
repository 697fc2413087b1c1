//! The production backend: PostgreSQL (and wire-compatible engines).

use std::time::Duration;

use anyhow::Context;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

pub async fn connect(url: &str, max_connections: Option<u32>) -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(max_connections.unwrap_or(16))
        .acquire_timeout(Duration::from_secs(5))
        .connect(url)
        .await
        .context("cannot connect to PostgreSQL")
}
