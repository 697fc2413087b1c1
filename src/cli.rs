//! The `civitas` command line.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand};

use crate::audit::{self, AuditEvent, verify::Verifier};
use crate::clock::Clock;
use crate::config::{DatabaseArgs, LogFormat, ServeArgs, Settings};
use crate::domain::client::SubjectType;
use crate::oidc::clients::{self, NewClient};
use crate::oidc::keyring;
use crate::oidc::signing::Alg;
use crate::registry::RegistryKeys;
use crate::registry::register::{self, ImportError, ImportSource};
use crate::secrets::MasterKey;
use crate::staff::{Role, invitations};
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
        command: ClientCommand,
    },
    /// Staff: invite administrators, registrars and auditors.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// The population register.
    Register {
        #[command(subcommand)]
        command: RegisterCommand,
    },
    /// The audit log.
    Audit {
        #[command(flatten)]
        database: DatabaseArgs,
        #[command(subcommand)]
        command: AuditCommand,
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
pub enum AdminCommand {
    /// Print a one-time invitation link to a staff role, valid 24 hours.
    Invite {
        #[command(flatten)]
        settings: ServeArgs,
        /// admin, registrar or auditor.
        #[arg(long, default_value = "admin")]
        role: String,
        /// A region a registrar covers, sub-regions included (repeat).
        #[arg(long = "region")]
        region_codes: Vec<String>,
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

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Walk the hash chain; exits non-zero naming the first broken entry.
    Verify,
}

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Make new signing keys active; the old ones stay in JWKS until every
    /// token they signed has expired.
    Rotate,
}

/// Loads the demo country and says what it holds.
async fn load_demo(store: &Store, settings: &Settings, people: u32) -> anyhow::Result<()> {
    let master = MasterKey::load(settings.master_key.as_deref(), &settings.master_key_file)?;
    let demo = crate::demo::load(
        store,
        &RegistryKeys::new(&master),
        Clock::System.now(),
        people,
        &audit::cli_actor(),
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

/// Entry point of the binary.
pub async fn run() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve { settings, demo } => {
            let settings = settings.resolve(&cli.config)?;
            telemetry::init(settings.log_format);
            if demo {
                let store = open_registry(&settings).await?;
                if store.count_citizens().await? == 0 && store.count_register_entries().await? == 0
                {
                    load_demo(&store, &settings, 20_000).await?;
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
            let store = open_registry(&settings).await?;
            load_demo(&store, &settings, people).await?;
            println!("Start the service with `civitas serve` and open /admin.");
            Ok(())
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
        Command::Admin {
            command:
                AdminCommand::Invite {
                    settings,
                    role,
                    region_codes,
                },
        } => {
            let settings = settings.resolve(&cli.config)?;
            let store = open_registry(&settings).await?;
            let role = Role::parse(&role)
                .ok_or_else(|| anyhow::anyhow!("--role must be admin, registrar or auditor"))?;
            let invitation = invitations::create(
                &store,
                settings.issuer.as_str(),
                role,
                &region_codes,
                audit::cli_actor(),
                Clock::System.unix(),
            )
            .await?;
            println!("{}", invitation.url);
            eprintln!(
                "One-time invitation to the {} role{}; valid for 24 hours.",
                role.as_str(),
                if invitation.regions.is_empty() {
                    String::new()
                } else {
                    format!(" for {}", invitation.regions.join(", "))
                }
            );
            Ok(())
        }
        Command::Register {
            command:
                RegisterCommand::Import {
                    settings,
                    file,
                    letters,
                },
        } => {
            let settings = settings.resolve(&cli.config)?;
            let store = open_registry(&settings).await?;
            let master =
                MasterKey::load(settings.master_key.as_deref(), &settings.master_key_file)?;
            import_register(
                &store,
                &RegistryKeys::new(&master),
                &file,
                letters.as_deref(),
            )
            .await
        }
        Command::Audit {
            database,
            command: AuditCommand::Verify,
        } => {
            let store = open_store(database, &cli.config).await?;
            verify_audit(&store).await
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
            store
                .append_audit(&AuditEvent::new(
                    audit::cli_actor(),
                    "keys.rotate",
                    "signing_keys",
                    serde_json::json!({ "active_kids": kids }),
                    now,
                ))
                .await?;
            println!("{}", serde_json::json!({ "active_kids": kids }));
            Ok(())
        }
    }
}

/// Connects and migrates, so CLI commands work on a fresh database too.
async fn open_store(args: DatabaseArgs, config: &std::path::Path) -> anyhow::Result<Store> {
    open_store_at(&args.resolve(config)?).await
}

async fn open_store_at(db: &crate::config::DatabaseSettings) -> anyhow::Result<Store> {
    let store = Store::connect(&db.url, db.max_connections).await?;
    store.migrate().await?;
    Ok(store)
}

/// Like `open_store`, and loads the regions as `civitas serve` does (the
/// sample regions into an empty database), so registry commands work
/// before the first start.
async fn open_registry(settings: &crate::config::Settings) -> anyhow::Result<Store> {
    let store = open_store_at(&settings.database).await?;
    crate::registry::load_regions(&store, settings.regions_file.as_deref()).await?;
    Ok(store)
}

/// `civitas register import`: letters go to a temporary file beside the
/// requested one and are renamed into place only when the import committed,
/// so a refused import leaves no codes behind.
async fn import_register(
    store: &Store,
    keys: &RegistryKeys,
    file: &std::path::Path,
    letters: Option<&std::path::Path>,
) -> anyhow::Result<()> {
    let size = std::fs::metadata(file)
        .with_context(|| format!("cannot read {}", file.display()))?
        .len();
    if size > register::MAX_FILE_BYTES {
        bail!(
            "{} is {} MiB; a register file may be at most {} MiB. Split it into several files.",
            file.display(),
            size / 1024 / 1024,
            register::MAX_FILE_BYTES / 1024 / 1024
        );
    }
    let input = std::io::BufReader::new(
        std::fs::File::open(file).with_context(|| format!("cannot open {}", file.display()))?,
    );
    let source = ImportSource {
        name: file.display().to_string(),
        actor: audit::cli_actor(),
    };
    let now = Clock::System.now();
    // Without --letters the letters still go through a private file, so a
    // refused import prints nothing.
    let partial = match letters {
        Some(path) => path.with_extension("partial"),
        None => {
            std::env::temp_dir().join(format!("civitas-letters-{}.partial", uuid::Uuid::new_v4()))
        }
    };
    let out = std::io::BufWriter::new(create_private(&partial)?);
    let result = register::import(
        store,
        keys,
        now.date(),
        now.unix_timestamp(),
        source,
        input,
        out,
    )
    .await;
    let delivered = match (&result, letters) {
        (Ok(_), Some(path)) => std::fs::rename(&partial, path)
            .with_context(|| format!("cannot write {}", path.display())),
        (Ok(_), None) => std::fs::File::open(&partial)
            .and_then(|mut f| std::io::copy(&mut f, &mut std::io::stdout().lock()))
            .map(|_| ())
            .context("cannot print the letters"),
        (Err(_), _) => Ok(()),
    };
    let _ = std::fs::remove_file(&partial);
    delivered?;
    match result {
        Ok(report) => {
            eprintln!(
                "imported {} register rows (import {})",
                report.imported,
                report.import_id.map(|i| i.to_string()).unwrap_or_default()
            );
            Ok(())
        }
        Err(ImportError::Invalid(report)) => {
            for e in &report.errors {
                eprintln!("line {}: {}", e.line, e.reason);
            }
            if report.error_count > report.errors.len() as u64 {
                eprintln!(
                    "… and {} more bad lines",
                    report.error_count - report.errors.len() as u64
                );
            }
            bail!(
                "{} bad line(s) in {}; nothing was imported",
                report.error_count,
                file.display()
            )
        }
        Err(e) => Err(e.into()),
    }
}

/// Creates a file only its owner can read (it will hold activation codes).
fn create_private(path: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))
}

/// `civitas audit verify`.
async fn verify_audit(store: &Store) -> anyhow::Result<()> {
    const PAGE: i64 = 10_000;
    let mut verifier = Verifier::default();
    loop {
        let page = store.audit_page(verifier.last_seq(), PAGE).await?;
        for entry in &page {
            verifier
                .check(entry)
                .map_err(|e| anyhow::anyhow!("audit log broken: {e}"))?;
        }
        if (page.len() as i64) < PAGE {
            break;
        }
    }
    let (head_seq, head_hash) = store.audit_head().await?;
    verifier
        .finish(head_seq, &head_hash)
        .map_err(|e| anyhow::anyhow!("audit log broken: {e}"))?;
    println!(
        "audit log intact: {} entries, last hash {}",
        verifier.last_seq(),
        head_hash
    );
    Ok(())
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
            let now = Clock::System.unix();
            let details = serde_json::json!({
                "name": new.name,
                "redirect_uris": new.redirect_uris,
                "public": new.public,
                "subject_type": subject_type.as_str(),
            });
            let created = clients::create(store, new, now).await?;
            audit_client(store, "client.create", &created.client_id, details).await?;
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
            audit_client(store, "client.disable", &client_id, serde_json::json!({})).await?;
            println!("client {client_id} disabled");
        }
        ClientCommand::RotateSecret { client_id } => {
            let created = clients::rotate_secret(store, &client_id).await?;
            audit_client(
                store,
                "client.rotate_secret",
                &client_id,
                serde_json::json!({}),
            )
            .await?;
            println!("{}", serde_json::to_string(&created)?);
        }
    }
    Ok(())
}

async fn audit_client(
    store: &Store,
    action: &'static str,
    client_id: &str,
    details: serde_json::Value,
) -> anyhow::Result<()> {
    store
        .append_audit(&AuditEvent::new(
            audit::cli_actor(),
            action,
            format!("client:{client_id}"),
            details,
            Clock::System.unix(),
        ))
        .await?;
    Ok(())
}
