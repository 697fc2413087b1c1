#![deny(clippy::unwrap_used, clippy::expect_used)]

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    civitas::cli::run().await
}
