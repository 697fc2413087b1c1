//! Settings: command-line flag, then environment variable, then `civitas.toml`,
//! then the built-in default that runs a complete system with no setup at all.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::Deserialize;

use crate::telemetry::MetricsToken;

/// The embedded database used when no URL is given.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://civitas-data/civitas.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_ISSUER: &str = "http://localhost:8080";
pub const DEFAULT_MASTER_KEY_FILE: &str = "civitas-data/master.key";
pub const DEFAULT_ACTIVATION_CODE_DAYS: u32 = 180;

/// Where the database is; shared by every subcommand that touches data.
#[derive(clap::Args, Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseArgs {
    /// Database URL: `sqlite://PATH` (embedded) or `postgres://USER@HOST/DB`.
    /// [default: sqlite://civitas-data/civitas.db]
    #[arg(long, env = "CIVITAS_DATABASE_URL", global = true)]
    pub database_url: Option<String>,

    /// Largest number of pooled database connections. [default: 16 for
    /// PostgreSQL, 8 for SQLite]
    #[arg(long, env = "CIVITAS_DATABASE_MAX_CONNECTIONS", global = true)]
    pub database_max_connections: Option<u32>,

    /// Milliseconds a request waits for a pooled database connection before
    /// it is answered 503 `database_unavailable`. [default: 3000]
    #[arg(long, env = "CIVITAS_DATABASE_ACQUIRE_TIMEOUT_MS", global = true)]
    pub database_acquire_timeout_ms: Option<u64>,

    /// Master key (32 bytes, base64url) that goes with the database: it
    /// seals the signing keys and keys the registry's hashes and the audit
    /// chain. Without it, a key file is used (created with mode 0600 if
    /// missing).
    #[arg(
        long,
        env = "CIVITAS_MASTER_KEY",
        hide_env_values = true,
        global = true
    )]
    pub master_key: Option<String>,

    /// Master key file used when no master key is given.
    /// [default: civitas-data/master.key]
    #[arg(long, env = "CIVITAS_MASTER_KEY_FILE", global = true)]
    pub master_key_file: Option<PathBuf>,
}

/// Settings of `civitas serve`.
#[derive(clap::Args, Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServeArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub database: DatabaseArgs,

    /// Address and port to listen on. [default: 127.0.0.1:8080]
    #[arg(long, env = "CIVITAS_LISTEN")]
    pub listen: Option<String>,

    /// Public base URL of this service: the OpenID issuer and the WebAuthn
    /// origin. [default: http://localhost:8080]
    #[arg(long, env = "CIVITAS_ISSUER")]
    pub issuer: Option<String>,

    /// Regions CSV (`code,name,parent_code`) to load at start-up. Without it,
    /// an empty database gets the sample regions shipped with Civitas.
    #[arg(long, env = "CIVITAS_REGIONS")]
    pub regions: Option<PathBuf>,

    /// Minutes a signed-in browser may stay idle. [default: 30]
    #[arg(long, env = "CIVITAS_SESSION_IDLE_MINUTES")]
    pub session_idle_minutes: Option<u32>,

    /// Hours a sign-in lasts at most, however active. [default: 12]
    #[arg(long, env = "CIVITAS_SESSION_MAX_HOURS")]
    pub session_max_hours: Option<u32>,

    /// Country named in the `address` claim. [default: Civitas]
    #[arg(long, env = "CIVITAS_COUNTRY")]
    pub country: Option<String>,

    /// Log format: `text` or `json`. [default: text]
    #[arg(long, env = "CIVITAS_LOG_FORMAT")]
    pub log_format: Option<LogFormat>,

    /// Days a sign-in to an app lasts at most, however often the app
    /// refreshes its tokens. [default: 90]
    #[arg(long, env = "CIVITAS_GRANT_MAX_DAYS")]
    pub grant_max_days: Option<u32>,

    /// Days an activation code on a register letter stays valid.
    /// [default: 180]
    #[arg(long, env = "CIVITAS_ACTIVATION_CODE_DAYS")]
    pub activation_code_days: Option<u32>,

    /// Minutes a rotated signing key is published in JWKS before it signs,
    /// so that relying parties' caches know it first (keep it above the
    /// 5 minutes JWKS may be cached). [default: 10]
    #[arg(long, env = "CIVITAS_KEY_PUBLISH_BEFORE_MINUTES")]
    pub key_publish_before_minutes: Option<u32>,

    /// `true` when a reverse proxy you run sits in front of Civitas: the
    /// client address (for guessing throttles) is then the last entry of
    /// `X-Forwarded-For` instead of the connection's peer. [default: false]
    #[arg(long, env = "CIVITAS_BEHIND_PROXY")]
    pub behind_proxy: Option<bool>,

    /// Bearer token Prometheus must send to read `/metrics`
    /// (`Authorization: Bearer TOKEN`), at least 16 characters. Without
    /// one, `/metrics` answers 404. [default: none]
    #[arg(long, env = "CIVITAS_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// Rate limits (`[limits]` in civitas.toml).
    #[command(flatten)]
    #[serde(default)]
    pub limits: LimitArgs,

    /// Load shedding and connection timeouts (`[overload]` in civitas.toml).
    #[command(flatten)]
    #[serde(default)]
    pub overload: OverloadArgs,
}

/// Rate limits per instance, in requests per minute (a client may use a
/// whole minute's worth at once, then one more each 1/N minute); 0 turns a
/// limit off.
#[derive(clap::Args, Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitArgs {
    /// Passkey ceremonies (enrollment, sign-in, adding a passkey) per
    /// client network. [default: 60]
    #[arg(long = "limit-ceremony", env = "CIVITAS_LIMIT_CEREMONY")]
    pub ceremony: Option<u32>,

    /// Authorization, consent and logout requests per client network.
    /// [default: 120]
    #[arg(long = "limit-authorize", env = "CIVITAS_LIMIT_AUTHORIZE")]
    pub authorize: Option<u32>,

    /// National ID validations per client network. [default: 60]
    #[arg(long = "limit-national-id", env = "CIVITAS_LIMIT_NATIONAL_ID")]
    pub national_id: Option<u32>,

    /// Staff invitation acceptances per client network. [default: 10]
    #[arg(long = "limit-invitation", env = "CIVITAS_LIMIT_INVITATION")]
    pub invitation: Option<u32>,

    /// Staff API and page requests per client network. [default: 600]
    #[arg(long = "limit-staff", env = "CIVITAS_LIMIT_STAFF")]
    pub staff: Option<u32>,

    /// Every other request per client network (citizens' pages and APIs,
    /// discovery, keys, UserInfo). [default: 600]
    #[arg(long = "limit-other", env = "CIVITAS_LIMIT_OTHER")]
    pub other: Option<u32>,

    /// Token, introspection and revocation requests per app and client
    /// network. [default: 6000]
    #[arg(long = "limit-app", env = "CIVITAS_LIMIT_APP")]
    pub app: Option<u32>,

    /// How many requests a failed client authentication counts as.
    /// [default: 50]
    #[arg(long = "limit-failed-app-cost", env = "CIVITAS_LIMIT_FAILED_APP_COST")]
    pub failed_app_cost: Option<u32>,

    /// Sign-in attempts per citizen. [default: 10]
    #[arg(long = "limit-citizen-sign-in", env = "CIVITAS_LIMIT_CITIZEN_SIGN_IN")]
    pub citizen_sign_in: Option<u32>,

    /// Requests per second to this instance, from everyone together.
    /// [default: 5000]
    #[arg(
        long = "limit-global-per-second",
        env = "CIVITAS_LIMIT_GLOBAL_PER_SECOND"
    )]
    pub global_per_second: Option<u32>,
}

/// What an instance does when more arrives than it can serve.
#[derive(clap::Args, Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverloadArgs {
    /// Requests served at once; more wait in line. [default: 256]
    #[arg(long, env = "CIVITAS_MAX_IN_FLIGHT")]
    pub max_in_flight: Option<usize>,

    /// Milliseconds a request may wait in line before it is answered 503
    /// `overloaded`. [default: 2000]
    #[arg(long, env = "CIVITAS_QUEUE_TIMEOUT_MS")]
    pub queue_timeout_ms: Option<u64>,

    /// Seconds a client has to send a request's headers. [default: 5]
    #[arg(long, env = "CIVITAS_HEADER_TIMEOUT_SECS")]
    pub header_timeout_secs: Option<u64>,

    /// Seconds a client has to send a request's body. [default: 10]
    #[arg(long, env = "CIVITAS_BODY_TIMEOUT_SECS")]
    pub body_timeout_secs: Option<u64>,

    /// Seconds an idle kept-alive connection stays open. [default: 15]
    #[arg(long, env = "CIVITAS_KEEP_ALIVE_SECS")]
    pub keep_alive_secs: Option<u64>,

    /// Open connections per worker thread. [default: 5000]
    #[arg(long, env = "CIVITAS_MAX_CONNECTIONS")]
    pub max_connections: Option<usize>,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl DatabaseArgs {
    fn or(self, file: DatabaseArgs) -> Self {
        Self {
            database_url: self.database_url.or(file.database_url),
            database_max_connections: self
                .database_max_connections
                .or(file.database_max_connections),
            database_acquire_timeout_ms: self
                .database_acquire_timeout_ms
                .or(file.database_acquire_timeout_ms),
            master_key: self.master_key.or(file.master_key),
            master_key_file: self.master_key_file.or(file.master_key_file),
        }
    }

    /// Resolves against the config file and defaults.
    pub fn resolve(self, config_file: &Path) -> anyhow::Result<DatabaseSettings> {
        let file: ServeArgs = read_config_file(config_file)?;
        Ok(self.or(file.database).settings())
    }

    fn settings(self) -> DatabaseSettings {
        DatabaseSettings {
            url: self
                .database_url
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.to_string()),
            max_connections: self.database_max_connections,
            acquire_timeout: std::time::Duration::from_millis(
                self.database_acquire_timeout_ms.unwrap_or(3000),
            ),
            master_key: self.master_key,
            master_key_file: self
                .master_key_file
                .unwrap_or_else(|| PathBuf::from(DEFAULT_MASTER_KEY_FILE)),
        }
    }
}

impl ServeArgs {
    /// Resolves flags and environment against the config file and defaults.
    pub fn resolve(self, config_file: &Path) -> anyhow::Result<Settings> {
        let file: ServeArgs = read_config_file(config_file)?;
        self.resolve_with(file)
    }

    /// Resolves flags and environment against the parsed contents of the
    /// config file (see [`parse_config`]) and defaults.
    pub fn resolve_with(self, file: ServeArgs) -> anyhow::Result<Settings> {
        let issuer = self
            .issuer
            .or(file.issuer)
            .unwrap_or_else(|| DEFAULT_ISSUER.to_string());
        Ok(Settings {
            database: self.database.or(file.database).settings(),
            listen: self
                .listen
                .or(file.listen)
                .unwrap_or_else(|| DEFAULT_LISTEN.to_string()),
            issuer: Issuer::parse(&issuer)?,
            regions_file: self.regions.or(file.regions),
            log_format: self.log_format.or(file.log_format).unwrap_or_default(),
            country: self
                .country
                .or(file.country)
                .unwrap_or_else(|| "Civitas".to_string()),
            session_idle: time::Duration::minutes(i64::from(
                self.session_idle_minutes
                    .or(file.session_idle_minutes)
                    .unwrap_or(30),
            )),
            session_max_age: time::Duration::hours(i64::from(
                self.session_max_hours
                    .or(file.session_max_hours)
                    .unwrap_or(12),
            )),
            behind_proxy: self.behind_proxy.or(file.behind_proxy).unwrap_or(false),
            grant_max_age: time::Duration::days(i64::from(
                self.grant_max_days.or(file.grant_max_days).unwrap_or(90),
            )),
            activation_code_days: self
                .activation_code_days
                .or(file.activation_code_days)
                .unwrap_or(DEFAULT_ACTIVATION_CODE_DAYS),
            metrics_token: self
                .metrics_token
                .or(file.metrics_token)
                .map(|t| MetricsToken::new(&t))
                .transpose()
                .context("invalid metrics_token")?,
            limits: self.limits.or(file.limits),
            overload: self.overload.or(file.overload),
            key_publish_before: time::Duration::minutes(i64::from(
                self.key_publish_before_minutes
                    .or(file.key_publish_before_minutes)
                    .unwrap_or(crate::oidc::keyring::DEFAULT_PUBLISH_BEFORE_MINUTES),
            )),
        })
    }
}

impl LimitArgs {
    fn or(self, file: LimitArgs) -> LimitSettings {
        let d = LimitSettings::default();
        LimitSettings {
            ceremony: self.ceremony.or(file.ceremony).unwrap_or(d.ceremony),
            authorize: self.authorize.or(file.authorize).unwrap_or(d.authorize),
            national_id: self
                .national_id
                .or(file.national_id)
                .unwrap_or(d.national_id),
            invitation: self.invitation.or(file.invitation).unwrap_or(d.invitation),
            staff: self.staff.or(file.staff).unwrap_or(d.staff),
            other: self.other.or(file.other).unwrap_or(d.other),
            app: self.app.or(file.app).unwrap_or(d.app),
            failed_app_cost: self
                .failed_app_cost
                .or(file.failed_app_cost)
                .unwrap_or(d.failed_app_cost),
            citizen_sign_in: self
                .citizen_sign_in
                .or(file.citizen_sign_in)
                .unwrap_or(d.citizen_sign_in),
            global_per_second: self
                .global_per_second
                .or(file.global_per_second)
                .unwrap_or(d.global_per_second),
        }
    }
}

impl OverloadArgs {
    fn or(self, file: OverloadArgs) -> OverloadSettings {
        let d = OverloadSettings::default();
        let ms = std::time::Duration::from_millis;
        let secs = std::time::Duration::from_secs;
        OverloadSettings {
            max_in_flight: self
                .max_in_flight
                .or(file.max_in_flight)
                .unwrap_or(d.max_in_flight)
                .max(1),
            queue_timeout: self
                .queue_timeout_ms
                .or(file.queue_timeout_ms)
                .map_or(d.queue_timeout, ms),
            header_timeout: self
                .header_timeout_secs
                .or(file.header_timeout_secs)
                .map_or(d.header_timeout, secs),
            body_timeout: self
                .body_timeout_secs
                .or(file.body_timeout_secs)
                .map_or(d.body_timeout, secs),
            keep_alive: self
                .keep_alive_secs
                .or(file.keep_alive_secs)
                .map_or(d.keep_alive, secs),
            max_connections: self
                .max_connections
                .or(file.max_connections)
                .unwrap_or(d.max_connections)
                .max(1),
        }
    }
}

/// Rate limits, resolved (see `LimitArgs`; 0 = off).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitSettings {
    pub ceremony: u32,
    pub authorize: u32,
    pub national_id: u32,
    pub invitation: u32,
    pub staff: u32,
    pub other: u32,
    pub app: u32,
    pub failed_app_cost: u32,
    pub citizen_sign_in: u32,
    pub global_per_second: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            ceremony: 60,
            authorize: 120,
            national_id: 60,
            invitation: 10,
            staff: 600,
            other: 600,
            app: 6000,
            failed_app_cost: 50,
            citizen_sign_in: 10,
            global_per_second: 5000,
        }
    }
}

impl LimitSettings {
    /// Every limit off (load generators sending from one address).
    pub fn off() -> Self {
        Self {
            ceremony: 0,
            authorize: 0,
            national_id: 0,
            invitation: 0,
            staff: 0,
            other: 0,
            app: 0,
            failed_app_cost: 1,
            citizen_sign_in: 0,
            global_per_second: 0,
        }
    }
}

/// Load shedding and connection timeouts, resolved (see `OverloadArgs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OverloadSettings {
    pub max_in_flight: usize,
    pub queue_timeout: std::time::Duration,
    pub header_timeout: std::time::Duration,
    pub body_timeout: std::time::Duration,
    pub keep_alive: std::time::Duration,
    pub max_connections: usize,
}

impl Default for OverloadSettings {
    fn default() -> Self {
        Self {
            max_in_flight: 256,
            queue_timeout: std::time::Duration::from_secs(2),
            header_timeout: std::time::Duration::from_secs(5),
            body_timeout: std::time::Duration::from_secs(10),
            keep_alive: std::time::Duration::from_secs(15),
            max_connections: 5000,
        }
    }
}

/// Parses the text of `civitas.toml` (as `ServeArgs` or `DatabaseArgs`).
pub fn parse_config<T: for<'de> Deserialize<'de>>(text: &str) -> Result<T, toml::de::Error> {
    toml::from_str(text)
}

/// Reads `civitas.toml`; a missing file is an empty configuration.
fn read_config_file<T: Default + for<'de> Deserialize<'de>>(path: &Path) -> anyhow::Result<T> {
    match std::fs::read_to_string(path) {
        Ok(text) => parse_config(&text).with_context(|| format!("invalid {}", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(T::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

/// The database and the master key that goes with it.
#[derive(Debug, Clone)]
pub struct DatabaseSettings {
    pub url: String,
    pub max_connections: Option<u32>,
    /// How long a request waits for a pooled connection.
    pub acquire_timeout: std::time::Duration,

    /// Master key (base64url), when given directly.
    pub master_key: Option<String>,
    /// Master key file, used without `master_key`.
    pub master_key_file: PathBuf,
}

/// Everything `civitas serve` needs, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub listen: String,
    pub issuer: Issuer,
    pub regions_file: Option<PathBuf>,
    pub log_format: LogFormat,
    /// Country in the `address` claim.
    pub country: String,
    /// Idle timeout of a browser session.
    pub session_idle: time::Duration,
    /// Absolute lifetime of a browser session.
    pub session_max_age: time::Duration,
    /// Whether client addresses come from `X-Forwarded-For`.
    pub behind_proxy: bool,
    /// Days an activation code stays valid.
    pub activation_code_days: u32,
    /// How long a grant to an app lasts at most.
    pub grant_max_age: time::Duration,
    /// Who may read `/metrics`; nobody without it.
    pub metrics_token: Option<MetricsToken>,
    /// Rate limits.
    pub limits: LimitSettings,
    /// Load shedding and connection timeouts.
    pub overload: OverloadSettings,

    /// How long a rotated signing key is published before it signs.
    pub key_publish_before: time::Duration,
}

impl Settings {
    /// Settings for tests: the given database and `http://localhost:PORT`,
    /// with client addresses taken from `X-Forwarded-For` (as behind a proxy).
    pub fn for_tests(database_url: &str, port: u16) -> anyhow::Result<Self> {
        Ok(Self {
            database: DatabaseSettings {
                url: database_url.to_string(),
                max_connections: Some(16),
                acquire_timeout: std::time::Duration::from_secs(3),
                master_key: Some("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8".to_string()),
                master_key_file: PathBuf::from(DEFAULT_MASTER_KEY_FILE),
            },
            listen: format!("127.0.0.1:{port}"),
            issuer: Issuer::parse(&format!("http://localhost:{port}"))?,
            regions_file: None,
            log_format: LogFormat::Text,
            country: "Civitas".to_string(),
            session_idle: time::Duration::minutes(30),
            session_max_age: time::Duration::hours(12),
            // Tests stand for clients on other networks with X-Forwarded-For.
            behind_proxy: true,
            activation_code_days: DEFAULT_ACTIVATION_CODE_DAYS,
            grant_max_age: time::Duration::days(90),
            metrics_token: None,
            limits: LimitSettings::default(),
            overload: OverloadSettings::default(),
            key_publish_before: time::Duration::minutes(10),
        })
    }
}

/// The public base URL: scheme, host and optional port, nothing else.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issuer {
    url: url::Url,
}

impl Issuer {
    pub fn parse(input: &str) -> anyhow::Result<Self> {
        let url =
            url::Url::parse(input).with_context(|| format!("issuer {input:?} is not a URL"))?;
        if url.scheme() != "https" && url.scheme() != "http" {
            bail!("issuer {input:?} must start with https:// (or http:// for local use)");
        }
        if url.host_str().is_none() {
            bail!("issuer {input:?} has no host");
        }
        if url.query().is_some() || url.fragment().is_some() || url.path() != "/" {
            bail!("issuer {input:?} must be scheme, host and port only, without a path");
        }
        if !url.username().is_empty() || url.password().is_some() {
            bail!("issuer {input:?} must not contain user information");
        }
        Ok(Self { url })
    }

    /// The issuer as published: no trailing slash.
    pub fn as_str(&self) -> &str {
        self.url.as_str().trim_end_matches('/')
    }

    /// The host name, which is also the WebAuthn relying-party id.
    pub fn host(&self) -> &str {
        self.url.host_str().unwrap_or_default()
    }

    pub fn is_https(&self) -> bool {
        self.url.scheme() == "https"
    }

    pub fn url(&self) -> &url::Url {
        &self.url
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn issuer_rules() {
        assert_eq!(
            Issuer::parse("http://localhost:8080").unwrap().as_str(),
            "http://localhost:8080"
        );
        assert_eq!(
            Issuer::parse("https://id.example.gov/").unwrap().as_str(),
            "https://id.example.gov"
        );
        assert_eq!(
            Issuer::parse("https://id.example.gov").unwrap().host(),
            "id.example.gov"
        );
        for bad in [
            "ftp://x",
            "https://x/path",
            "https://x/?a=1",
            "not a url",
            "https://u@x",
        ] {
            assert!(Issuer::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn flags_beat_file_which_beats_defaults() {
        let dir = std::env::temp_dir().join(format!("civitas-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("civitas.toml");
        std::fs::write(
            &file,
            "listen = \"0.0.0.0:9000\"\nissuer = \"https://id.example.gov\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            issuer: Some("https://flag.example.gov".into()),
            ..Default::default()
        };
        let s = args.resolve(&file).unwrap();
        assert_eq!(s.listen, "0.0.0.0:9000");
        assert_eq!(s.issuer.as_str(), "https://flag.example.gov");
        assert_eq!(s.database.url, DEFAULT_DATABASE_URL);
        std::fs::write(&file, "lisen = \"typo\"\n").unwrap();
        assert!(ServeArgs::default().resolve(&file).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
