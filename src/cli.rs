//! The `civitas` command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::clock::Clock;
use crate::config::{DatabaseArgs, LogFormat, ServeArgs};
use crate::startup::Application;
use crate::store::Store;
use crate::telemetry;

/// Civitas: national digital identity registry and OpenID Provider.
#[derive(Parser, Debug)]
#[command(name = "civitas", version, about)]
pub struct Cli {
    /// Optional configuration file; flags and environment variables win over it.
    #[arg(
        long,
        env = "CIVITAS_CONFIG",
        default_value = "civitas.toml",
        global = true
    )]
    pub config: PathBuf,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run the service.
    Serve(ServeArgs),
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
}

/// Entry point of the binary.
pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            let settings = args.resolve(&cli.config)?;
            telemetry::init(settings.log_format);
            Application::build(settings, Clock::System)
                .await?
                .run_until_stopped()
                .await
        }
        Command::Migrate(args) => {
            telemetry::init(LogFormat::Text);
            let db = args.resolve(&cli.config)?;
            let store = Store::connect(&db.url, db.max_connections).await?;
            store.migrate().await?;
            println!("{} database is up to date", store.backend());
            Ok(())
        }
    }
}
