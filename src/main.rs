#[tokio::main]
async fn main() -> anyhow::Result<()> {
    civitas::cli::run().await
}
