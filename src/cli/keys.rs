//! `civitas keys`: the token signing keys.

use std::path::Path;

use clap::Subcommand;

use crate::audit::{self, AuditEvent};
use crate::clock::Clock;
use crate::config::ServeArgs;
use crate::oidc::keyring;

#[derive(Subcommand, Debug)]
pub enum KeysCommand {
    /// Make new signing keys active; the old ones stay in JWKS until every
    /// token they signed has expired.
    Rotate {
        #[command(flatten)]
        settings: ServeArgs,
    },
}

pub(super) async fn run(command: KeysCommand, config: &Path) -> anyhow::Result<()> {
    match command {
        KeysCommand::Rotate { settings } => {
            let settings = settings.resolve(config)?;
            let (store, master) =
                crate::startup::open_database(&settings.database, &Clock::System).await?;
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
