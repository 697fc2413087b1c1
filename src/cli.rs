//! The `civitas` command line.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::clock::Clock;
use crate::config::{DatabaseArgs, LogFormat, ServeArgs};
use crate::domain::client::SubjectType;
use crate::oidc::clients::{self, NewClient};
use crate::oidc::keyring;
use crate::oidc::keys::{Alg, MasterKey};
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
    /// Register and manage relying-party apps (OpenID Connect clients).
    Client {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(subcommand)]
        command: ClientCommand,
    },
    /// Manage the token signing keys.
    Keys {
        #[command(flatten)]
        database: DatabaseArgs,
        /// Master key (base64url, 32 bytes) sealing the private keys.
        #[arg(long, env = "CIVITAS_MASTER_KEY", hide_env_values = true)]
        master_key: Option<String>,
        /// Master key file used without --master-key.
        #[arg(long, env = "CIVITAS_MASTER_KEY_FILE", default_value = crate::config::DEFAULT_MASTER_KEY_FILE)]
        master_key_file: PathBuf,
        #[command(subcommand)]
        command: KeysCommand,
    },
}

#[derive(Subcommand, Debug)]
pub enum ClientCommand {
    /// Register an app; prints {client_id, client_secret} as JSON.
    Create {
        /// The app's name, shown to citizens on the consent page.
        #[arg(long)]
        name: String,
        /// Where Civitas may send the browser back (exact match; repeat).
        #[arg(long = "redirect-uri", required = true)]
        redirect_uris: Vec<String>,
        /// Where the app may send the browser after sign-out (repeat).
        #[arg(long = "post-logout-redirect-uri")]
        post_logout_redirect_uris: Vec<String>,
        /// A public client (native or single-page app): no secret, PKCE only.
        #[arg(long)]
        public: bool,
        /// `pairwise` (a different sub per app, the default) or `public`.
        #[arg(long, default_value = "pairwise")]
        subject_type: String,
        /// A scope beyond openid, profile, address, age, offline_access (repeat).
        #[arg(long = "allow-scope")]
        allow_scopes: Vec<String>,
        /// ID token signing algorithm: RS256, ES256 or EdDSA.
        #[arg(long, default_value = "RS256")]
        id_token_alg: String,
    },
    /// List every app as JSON lines.
    List,
    /// Show one app as JSON.
    Show { client_id: String },
    /// Disable an app: it can no longer sign anyone in.
    Disable { client_id: String },
    /// Give a confidential app a new secret; the old one stops working.
    RotateSecret { client_id: String },
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Make new signing keys active; the old ones stay in JWKS until every
    /// token they signed has expired.
    Rotate,
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
            let store = open_store(args, &cli.config).await?;
            println!("{} database is up to date", store.backend());
            Ok(())
        }
        Command::Client { database, command } => {
            let store = open_store(database, &cli.config).await?;
            client_command(&store, command).await
        }
        Command::Keys {
            database,
            master_key,
            master_key_file,
            command: KeysCommand::Rotate,
        } => {
            let store = open_store(database, &cli.config).await?;
            let master = MasterKey::load(master_key.as_deref(), &master_key_file)?;
            let now = Clock::System.unix();
            keyring::ensure_keys(&store, &master, now).await?;
            let kids = keyring::rotate(&store, &master, now).await?;
            println!("{}", serde_json::json!({ "active_kids": kids }));
            Ok(())
        }
    }
}

/// Connects and migrates, so CLI commands work on a fresh database too.
async fn open_store(args: DatabaseArgs, config: &std::path::Path) -> anyhow::Result<Store> {
    let db = args.resolve(config)?;
    let store = Store::connect(&db.url, db.max_connections).await?;
    store.migrate().await?;
    Ok(store)
}

async fn client_command(store: &Store, command: ClientCommand) -> anyhow::Result<()> {
    let found = |c: Option<crate::domain::client::Client>, id: &str| {
        c.ok_or_else(|| anyhow::anyhow!("no client {id}"))
    };
    match command {
        ClientCommand::Create {
            name,
            redirect_uris,
            post_logout_redirect_uris,
            public,
            subject_type,
            allow_scopes,
            id_token_alg,
        } => {
            let subject_type = SubjectType::parse(&subject_type)
                .ok_or_else(|| anyhow::anyhow!("--subject-type must be pairwise or public"))?;
            let id_token_alg = Alg::parse(&id_token_alg)
                .ok_or_else(|| anyhow::anyhow!("--id-token-alg must be RS256, ES256 or EdDSA"))?;
            let new = NewClient {
                name,
                redirect_uris,
                post_logout_redirect_uris,
                public,
                subject_type,
                extra_scopes: allow_scopes,
                id_token_alg,
            };
            let created = clients::create(store, new, Clock::System.unix()).await?;
            println!("{}", serde_json::to_string(&created)?);
        }
        ClientCommand::List => {
            for c in store.list_clients().await? {
                println!("{}", clients::describe(&c));
            }
        }
        ClientCommand::Show { client_id } => {
            let c = found(store.find_client(&client_id).await?, &client_id)?;
            println!("{}", serde_json::to_string_pretty(&clients::describe(&c))?);
        }
        ClientCommand::Disable { client_id } => {
            if !store.set_client_disabled(&client_id, true).await? {
                anyhow::bail!("no client {client_id}");
            }
            println!("client {client_id} disabled");
        }
        ClientCommand::RotateSecret { client_id } => {
            let created = clients::rotate_secret(store, &client_id).await?;
            println!("{}", serde_json::to_string(&created)?);
        }
    }
    Ok(())
}
