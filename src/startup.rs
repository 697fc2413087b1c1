//! Builds the application: database, migrations, regions, HTTP server.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use actix_web::middleware::from_fn;
use actix_web::{App, HttpServer, web};
use anyhow::Context;

use crate::audit::AuditKey;
use crate::clock::Clock;
use crate::config::{DatabaseSettings, Settings};
use crate::http::AppState;
use crate::http::headers::{self, BrowserPolicy};
use crate::http::shield::{self, Shield};
use crate::limits::Limits;
use crate::oidc::Provider;
use crate::oidc::keyring;
use crate::passkey::Passkeys;
use crate::secrets::MasterKey;
use crate::session::SessionPolicy;
use crate::staff::invitations::{self, Bootstrap};
use crate::store::Store;
use crate::telemetry::{Metrics, observe_request};
use crate::{http, registry};

/// Connects to the database and brings its schema up to date, then loads
/// the master key that goes with it: refuses one that does not match the
/// database's check value, reseals private keys sealed the old way, and
/// gives the store the audit key derived from it. The server and every
/// command that writes start here.
pub async fn open_database(
    db: &DatabaseSettings,
    clock: &Clock,
) -> anyhow::Result<(Store, MasterKey)> {
    let store = Store::open(db).await?;
    store
        .migrate()
        .await
        .context("cannot apply database migrations")?;
    let master = MasterKey::load(db.master_key.as_deref(), &db.master_key_file)
        .context("cannot load the master key")?;
    crate::secrets::check_master_key(&store, &master, clock.unix()).await?;
    let resealed = keyring::reseal_keys(&store, &master).await?;
    if resealed > 0 {
        tracing::info!(resealed, "private keys resealed under the sealing key");
    }
    let store = store.with_audit_key(AuditKey::new(&master));
    Ok((store, master))
}

/// A bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    store: Store,
    /// The expired-row sweep (system clock only).
    sweeper: Option<tokio::task::JoinHandle<()>>,
    /// Forgets rate-limit keys that have recovered.
    forget: tokio::task::JoinHandle<()>,
}

impl Application {
    /// Binds the configured address, connects, migrates and loads regions.
    pub async fn build(settings: Settings, clock: Clock) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(&settings.listen)
            .with_context(|| format!("cannot listen on {}", settings.listen))?;
        Self::build_on(listener, settings, clock, None).await
    }

    /// Like `build`, on a listener bound by the caller (tests bind port 0 first
    /// so the issuer can name the real port), with a fixed number of workers.
    pub async fn build_on(
        listener: TcpListener,
        settings: Settings,
        clock: Clock,
        workers: Option<usize>,
    ) -> anyhow::Result<Self> {
        let (store, master) = open_database(&settings.database, &clock).await?;
        registry::load_regions(&store, settings.regions_file.as_deref()).await?;
        let rekeyed = registry::rekey_citizens(&store).await?;
        if rekeyed > 0 {
            tracing::info!(rekeyed, "duplicate-check keys recomputed");
        }
        keyring::ensure_keys(&store, &master, clock.unix()).await?;
        let registry_keys = registry::RegistryKeys::new(&master);
        let sessions = SessionPolicy {
            idle: settings.session_idle,
            max_age: settings.session_max_age,
        };
        let limits = Arc::new(Limits::new(&settings.limits));
        let passkeys = Passkeys::new(
            store.clone(),
            clock.clone(),
            &settings.issuer,
            sessions,
            limits.clone(),
            &master,
        )
        .context("cannot set up WebAuthn for this issuer")?;
        let provider = Provider::new(
            store.clone(),
            clock.clone(),
            settings.issuer.clone(),
            master,
            settings.country.clone(),
            settings.grant_max_age.whole_seconds(),
        );
        // Printed, not logged: the console of the first start is where the
        // person installing Civitas is looking.
        match invitations::bootstrap(&store, settings.issuer.as_str(), clock.unix()).await? {
            Bootstrap::AdminExists => {}
            Bootstrap::Created(invitation) => println!(
                "No administrator yet. Open this one-time link within 24 hours, \
                 signed in with your passkey, to become the first administrator:\n  {}",
                invitation.url
            ),
            Bootstrap::Live { expires_at } => println!(
                "No administrator yet. The one-time link printed earlier works until {} \
                 (Unix time {expires_at}); `civitas admin invite --role admin` prints a new \
                 one and ends the old.",
                crate::http::format_time(expires_at)
            ),
        }
        let port = listener.local_addr()?.port();
        tracing::info!(
            listen = %listener.local_addr()?,
            issuer = settings.issuer.as_str(),
            database = store.backend(),
            "civitas ready"
        );
        let probe = Store::open(&DatabaseSettings {
            max_connections: Some(1),
            acquire_timeout: std::time::Duration::from_secs(1),
            ..settings.database.clone()
        })
        .await
        .context("cannot open the readiness probe's database connection")?;
        let shield = web::Data::new(Shield::new(limits.clone(), &settings));
        let browser = web::Data::new(BrowserPolicy::new(&settings.issuer));
        let overload = settings.overload.clone();
        let discovery = web::Bytes::from(serde_json::to_vec(&crate::oidc::discovery::document(
            settings.issuer.as_str(),
        ))?);
        // The expired-row sweep runs on the system clock only.
        let sweep_clock = matches!(clock, Clock::System).then(|| clock.clone());
        let state = web::Data::new(AppState {
            store: store.clone(),
            probe,
            limits: limits.clone(),
            clock,
            settings,
            sessions,
            passkeys,
            provider,
            discovery,
            registry_keys,
        });
        let metrics = web::Data::new(Metrics::new().context("cannot create metrics")?);
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(from_fn(http::origin::check_origin))
                .wrap(from_fn(shield::shield))
                .wrap(from_fn(observe_request))
                .wrap(from_fn(headers::harden))
                .app_data(state.clone())
                .app_data(browser.clone())
                .app_data(metrics.clone())
                .app_data(shield.clone())
                .configure(http::configure)
        })
        .client_request_timeout(overload.header_timeout)
        .client_disconnect_timeout(std::time::Duration::from_secs(1))
        .keep_alive(overload.keep_alive)
        .max_connections(overload.max_connections)
        .backlog(4096)
        .listen(listener)?;
        if let Some(n) = workers {
            server = server.workers(n);
        }
        let sweeper = sweep_clock.map(|clock| crate::sweeper::spawn(store.clone(), clock));
        let forget = tokio::spawn(async move {
            let mut every = tokio::time::interval(std::time::Duration::from_secs(30));
            loop {
                every.tick().await;
                limits.sweep();
            }
        });
        Ok(Self {
            port,
            server: server.run(),
            store,
            sweeper,
            forget,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The database this server uses.
    pub fn store(&self) -> Store {
        self.store.clone()
    }

    /// A handle to stop the server.
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM, finishing requests in flight.
    pub async fn run_until_stopped(self) -> anyhow::Result<()> {
        self.server.await?;
        if let Some(sweeper) = self.sweeper {
            sweeper.abort();
        }
        self.forget.abort();
        self.store.close().await;
        tracing::info!("civitas stopped");
        Ok(())
    }
}
