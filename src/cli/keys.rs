//! `civitas keys`: the token signing keys.

use std::path::Path;

use clap::Subcommand;

use crate::audit::cli_actor;
use crate::clock::Clock;
use crate::config::ServeArgs;
use crate::oidc::keyring;

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Make new signing keys: published at once, signing after
    /// `key_publish_before_minutes`; the old ones sign until then and stay
    /// in JWKS until every token they signed has expired.
    Rotate {
        #[command(flatten)]
        settings: ServeArgs,
    },
    /// In an emergency: take a key out of JWKS and out of use at once.
    /// Tokens it signed are refused; if it was signing, its successor signs
    /// at once (a new key is made if none was waiting).
    Revoke {
        #[command(flatten)]
        settings: ServeArgs,
        /// The key id (`kid`) to revoke (base64url: it may start with `-`).
        #[arg(allow_hyphen_values = true)]
        kid: String,
    },
}

pub(super) async fn run(command: KeysCommand, config: &Path) -> anyhow::Result<()> {
    match command {
        KeysCommand::Rotate { settings } => {
            let settings = settings.resolve(config)?;
            let (store, master) =
                crate::startup::open_database(&settings.database, &Clock::System).await?;
            let now = Clock::System.unix();
            let wait = settings.key_publish_before.whole_seconds();
            keyring::ensure_keys(&store, &master, now).await?;
            let rows = keyring::rotate(&store, &master, now, wait, &cli_actor()).await?;
            let kids: Vec<&str> = rows.iter().map(|r| r.kid.as_str()).collect();
            println!(
                "{}",
                serde_json::json!({ "new_kids": kids, "signs_from": now + wait })
            );
            eprintln!(
                "New keys are published now and sign from {} (in {} minutes).",
                crate::http::format_time(now + wait),
                wait / 60
            );
            Ok(())
        }
        KeysCommand::Revoke { settings, kid } => {
            let settings = settings.resolve(config)?;
            let (store, master) =
                crate::startup::open_database(&settings.database, &Clock::System).await?;
            let now = Clock::System.unix();
            let revoked = keyring::revoke(&store, &master, &kid, now, &cli_actor()).await?;
            println!(
                "{}",
                serde_json::json!({
                    "revoked": kid,
                    "alg": revoked.alg.as_str(),
                    "signing": revoked.signing,
                    "generated": revoked.generated,
                })
            );
            eprintln!(
                "Key {kid} is out of JWKS and out of use; every instance refuses its tokens \
                 within a second. {} tokens are signed with {}.",
                revoked.alg, revoked.signing
            );
            Ok(())
        }
    }
}
