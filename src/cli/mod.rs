//! The `civitas` command line.

mod admin;
mod audit;
mod client;
mod keys;
mod register;

use std::path::PathBuf;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::clock::Clock;
use crate::config::{DatabaseArgs, LogFormat, ServeArgs, Settings};
use crate::registry::RegistryKeys;
use crate::secrets::MasterKey;
use crate::startup::{Application, open_database};
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
    Serve {
        #[command(flatten)]
        settings: ServeArgs,
        /// Load the demo country first if the database is empty (see
        /// `civitas demo`).
        #[arg(long)]
        demo: bool,
    },
    /// Load a demo country into an empty database: a register for the
    /// sample regions, two campaigns and five weeks of enrollments.
    Demo {
        #[command(flatten)]
        settings: ServeArgs,
        /// Register rows to make.
        #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u32).range(100..=2_000_000))]
        people: u32,
    },
    /// Apply database migrations and exit.
    Migrate(DatabaseArgs),
    /// Register and manage relying-party apps (OpenID Connect clients).
    Client {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(subcommand)]
        command: client::ClientCommand,
    },
    /// Staff: invite administrators, registrars and auditors; take roles away.
    Admin {
        #[command(subcommand)]
        command: admin::AdminCommand,
    },
    /// The population register.
    Register {
        #[command(subcommand)]
        command: RegisterCommand,
    },
    /// The audit log.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Manage the token signing keys.
    Keys {
        #[command(subcommand)]
        command: keys::KeysCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum RegisterCommand {
    /// Import a register CSV (register_ref,given_name,family_name,
    /// birth_date,region[,phone]); all rows or none.
    Import {
        #[command(flatten)]
        settings: ServeArgs,
        /// The register file.
        file: PathBuf,
        /// Where to write the letters (one activation code per row); without
        /// it they go to standard output.
        #[arg(long)]
        letters: Option<PathBuf>,
    },
}

/// Loads the demo country and says what it holds.
async fn load_demo(
    store: &Store,
    master: &MasterKey,
    settings: &Settings,
    people: u32,
) -> anyhow::Result<()> {
    let demo = crate::demo::load(
        store,
        &RegistryKeys::new(master),
        settings.activation_code_days,
        Clock::System.now(),
        people,
        &crate::audit::cli_actor(),
    )
    .await?;
    println!(
        "Demo country loaded: {} register rows, {} people enrolled over five weeks, {} campaigns.",
        demo.register_rows, demo.enrolled, demo.campaigns
    );
    println!("Activation codes to try on /enroll (register ref, date of birth, code):");
    for (reference, born, code) in &demo.sample_codes {
        println!("  {reference}  {born}  {code}");
    }
    Ok(())
}

/// Printed when the master key is a command-line argument.
const MASTER_KEY_ON_COMMAND_LINE: &str = "warning: --master-key puts the master key on the \
    command line, where every user of this host can read it (ps, /proc). Give it as \
    CIVITAS_MASTER_KEY or in a file named by --master-key-file instead.";

/// True when `--master-key` was given as a flag (at any subcommand level),
/// not through the environment.
fn master_key_on_command_line(matches: &ArgMatches) -> bool {
    let mut level = Some(matches);
    while let Some(m) = level {
        // `try_get_raw` first: `value_source` panics on a level that does
        // not define the argument.
        if matches!(m.try_get_raw("master_key"), Ok(Some(_)))
            && m.value_source("master_key") == Some(ValueSource::CommandLine)
        {
            return true;
        }
        level = m.subcommand().map(|(_, sub)| sub);
    }
    false
}

/// Entry point of the binary.
pub async fn run() -> anyhow::Result<()> {
    let matches = Cli::command().get_matches();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if master_key_on_command_line(&matches) {
        eprintln!("{MASTER_KEY_ON_COMMAND_LINE}");
    }
    match cli.command {
        Command::Serve { settings, demo } => {
            let settings = settings.resolve(&cli.config)?;
            telemetry::init(settings.log_format);
            if demo {
                let (store, master) = open_registry_with_key(&settings).await?;
                if store.count_citizens().await? == 0 && store.count_register_entries().await? == 0
                {
                    load_demo(&store, &master, &settings, 20_000).await?;
                } else {
                    tracing::info!("the database is not empty; the demo country is not loaded");
                }
                store.close().await;
            }
            Application::build(settings, Clock::System)
                .await?
                .run_until_stopped()
                .await
        }
        Command::Demo { settings, people } => {
            let settings = settings.resolve(&cli.config)?;
            let (store, master) = open_registry_with_key(&settings).await?;
            load_demo(&store, &master, &settings, people).await?;
            println!("Start the service with `civitas serve` and open /admin.");
            Ok(())
        }
        Command::Migrate(args) => {
            telemetry::init(LogFormat::Text);
            let db = args.resolve(&cli.config)?;
            let store = Store::connect(&db.url, db.max_connections).await?;
            store.migrate().await?;
            println!("{} database is up to date", store.backend());
            Ok(())
        }
        Command::Client { database, command } => {
            let store = open_store(database, &cli.config).await?;
            client::run(&store, command).await
        }
        Command::Admin { command } => admin::run(command, &cli.config).await,
        Command::Register {
            command:
                RegisterCommand::Import {
                    settings,
                    file,
                    letters,
                },
        } => {
            let settings = settings.resolve(&cli.config)?;
            let (store, master) = open_registry_with_key(&settings).await?;
            register::import_register(
                &store,
                &RegistryKeys::new(&master),
                &file,
                letters.as_deref(),
                settings.activation_code_days,
            )
            .await
        }
        Command::Audit { command } => audit::run(command, &cli.config).await,
        Command::Keys { command } => keys::run(command, &cli.config).await,
    }
}

/// Connects and migrates, so CLI commands work on a fresh database too,
/// with the master key that goes with the database.
pub(super) async fn open_store(
    args: DatabaseArgs,
    config: &std::path::Path,
) -> anyhow::Result<Store> {
    let (store, _) = open_database(&args.resolve(config)?, &Clock::System).await?;
    Ok(store)
}

/// Like `open_store`, and loads the regions as `civitas serve` does (the
/// sample regions into an empty database), so registry commands work
/// before the first start.
pub(super) async fn open_registry(settings: &crate::config::Settings) -> anyhow::Result<Store> {
    let (store, _) = open_registry_with_key(settings).await?;
    Ok(store)
}

/// `open_registry`, keeping the master key.
async fn open_registry_with_key(
    settings: &crate::config::Settings,
) -> anyhow::Result<(Store, MasterKey)> {
    let (store, master) = open_database(&settings.database, &Clock::System).await?;
    crate::registry::load_regions(&store, settings.regions_file.as_deref()).await?;
    Ok((store, master))
}
