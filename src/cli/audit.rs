//! `civitas audit`: walking the chain.

use std::path::Path;

use anyhow::anyhow;
use clap::Subcommand;

use crate::audit::AuditKey;
use crate::audit::verify::Verifier;
use crate::config::ServeArgs;
use crate::secrets::MasterKey;
use crate::store::{AuditHead, Store};

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Walk the chain; exits non-zero naming the first broken entry.
    Verify {
        #[command(flatten)]
        settings: ServeArgs,
    },
}

pub(super) async fn run(command: AuditCommand, config: &Path) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify { settings } => {
            let settings = settings.resolve(config)?;
            let (store, master) = crate::startup::open_database(&settings.database).await?;
            let head = walk(&store, &master).await?;
            println!(
                "audit log intact: {} entries, keyed from entry {}, last hash {}",
                head.seq, head.keyed_from, head.hash
            );
            Ok(())
        }
    }
}

/// Walks the chain up to the head read first (entries appended meanwhile
/// are left for the next run).
async fn walk(store: &Store, master: &MasterKey) -> anyhow::Result<AuditHead> {
    const PAGE: i64 = 10_000;
    let head = store.audit_head().await?;
    let key = AuditKey::new(master);
    let mut verifier = Verifier::new(&key, head.keyed_from);
    while verifier.last_seq() < head.seq {
        let before = verifier.last_seq();
        let page = store.audit_page(before, PAGE).await?;
        for entry in page.iter().take_while(|e| e.seq <= head.seq) {
            verifier
                .check(entry)
                .map_err(|e| anyhow!("audit log broken: {e}"))?;
        }
        if (page.len() as i64) < PAGE || verifier.last_seq() == before {
            break;
        }
    }
    verifier
        .finish(head.seq, &head.hash)
        .map_err(|e| anyhow!("audit log broken: {e}"))?;
    Ok(head)
}
