//! `civitas admin`: invitations to staff roles, and taking roles away.

use std::path::Path;

use clap::Subcommand;

use super::{open_registry, open_store};
use crate::audit;
use crate::clock::Clock;
use crate::config::{DatabaseArgs, ServeArgs};
use crate::staff::Role;
use crate::staff::invitations::{self, Offer};

#[derive(Subcommand, Debug)]
pub enum AdminCommand {
    /// Print a one-time invitation link to a staff role, valid 24 hours.
    Invite {
        #[command(flatten)]
        settings: Box<ServeArgs>,
        /// admin, registrar or auditor.
        #[arg(long, default_value = "admin")]
        role: String,
        /// A region a registrar covers, sub-regions included (repeat).
        #[arg(long = "region")]
        region_codes: Vec<String>,
        /// The national ID of the one citizen who may accept it.
        #[arg(long = "for", value_name = "NATIONAL_ID")]
        for_national_id: Option<String>,
    },
    /// Take a staff role away from a citizen (never the last administrator).
    Revoke {
        #[command(flatten)]
        database: DatabaseArgs,
        /// The citizen's national ID.
        #[arg(long = "national-id")]
        national_id: String,
        /// admin, registrar or auditor.
        #[arg(long)]
        role: String,
        /// For a registrar: only this region (without it, every region).
        #[arg(long)]
        region: Option<String>,
    },
}

fn parse_role(role: &str) -> anyhow::Result<Role> {
    Role::parse(role).ok_or_else(|| anyhow::anyhow!("--role must be admin, registrar or auditor"))
}

pub(super) async fn run(command: AdminCommand, config: &Path) -> anyhow::Result<()> {
    match command {
        AdminCommand::Invite {
            settings,
            role,
            region_codes,
            for_national_id,
        } => {
            let settings = settings.resolve(config)?;
            let store = open_registry(&settings).await?;
            let role = parse_role(&role)?;
            let offer = Offer {
                role,
                regions: &region_codes,
                for_national_id: for_national_id.as_deref(),
            };
            let invitation = invitations::create(
                &store,
                settings.issuer.as_str(),
                offer,
                audit::cli_actor(),
                Clock::System.unix(),
            )
            .await?;
            println!("{}", invitation.url);
            eprintln!(
                "One-time invitation to the {} role{}{}; valid for 24 hours.",
                role.as_str(),
                if invitation.regions.is_empty() {
                    String::new()
                } else {
                    format!(" for {}", invitation.regions.join(", "))
                },
                invitation
                    .for_national_id
                    .map(|n| format!(", only for national ID {n}"))
                    .unwrap_or_default()
            );
            Ok(())
        }
        AdminCommand::Revoke {
            database,
            national_id,
            role,
            region,
        } => {
            let store = open_store(database, config).await?;
            let role = parse_role(&role)?;
            invitations::revoke(
                &store,
                &national_id,
                role,
                region.as_deref(),
                audit::cli_actor(),
                Clock::System.unix(),
            )
            .await?;
            println!("{} role taken away from {national_id}", role.as_str());
            Ok(())
        }
    }
}
