//! `civitas audit`: walking the chain, and checkpoints to keep elsewhere.

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use clap::Subcommand;

use crate::audit::AuditKey;
use crate::audit::checkpoint::{self, Checkpoint, Signed};
use crate::audit::verify::Verifier;
use crate::clock::Clock;
use crate::config::ServeArgs;
use crate::oidc::keyring::KeyCache;
use crate::oidc::signing::Alg;
use crate::secrets::MasterKey;
use crate::store::{AuditHead, Store};

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Walk the chain; exits non-zero naming the first broken entry. With
    /// --checkpoint, also fails when the log no longer extends that
    /// checkpoint.
    Verify {
        #[command(flatten)]
        settings: ServeArgs,
        /// A checkpoint made earlier by `civitas audit checkpoint`.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
    },
    /// Verify the chain, then print a checkpoint of it (a JWS signed with
    /// the ES256 signing key) to keep away from the database: publish it or
    /// send it to your auditors.
    Checkpoint {
        #[command(flatten)]
        settings: ServeArgs,
    },
}

pub(super) async fn run(command: AuditCommand, config: &Path) -> anyhow::Result<()> {
    match command {
        AuditCommand::Verify {
            settings,
            checkpoint,
        } => {
            let settings = settings.resolve(config)?;
            let (store, master) =
                crate::startup::open_database(&settings.database, &Clock::System).await?;
            let given = match checkpoint {
                Some(path) => Some(read_checkpoint(&store, &master, &path).await?),
                None => None,
            };
            let head = walk(&store, &master, given.as_ref().map(|s| &s.checkpoint)).await?;
            println!(
                "audit log intact: {} entries, keyed from entry {}, last hash {}",
                head.seq, head.keyed_from, head.hash
            );
            if let Some(Signed { checkpoint, kid }) = given {
                println!(
                    "it extends the checkpoint of entry {} made at {} (Unix time {}) by {} with key {kid}",
                    checkpoint.seq,
                    crate::http::format_time(checkpoint.iat),
                    checkpoint.iat,
                    checkpoint.iss
                );
            }
            Ok(())
        }
        AuditCommand::Checkpoint { settings } => {
            let settings = settings.resolve(config)?;
            let (store, master) =
                crate::startup::open_database(&settings.database, &Clock::System).await?;
            let head = walk(&store, &master, None).await?;
            let now = Clock::System.unix();
            let signer = KeyCache::default()
                .signer(&store, &master, Alg::ES256, now)
                .await?;
            let checkpoint = Checkpoint {
                iss: settings.issuer.as_str().to_string(),
                seq: head.seq,
                hash: head.hash,
                keyed_from: head.keyed_from,
                iat: now,
            };
            println!("{}", checkpoint.sign(&signer)?);
            eprintln!(
                "Checkpoint of the audit log at entry {} (hash {}), signed with key {}. Keep it \
                 away from this database (publish it, or send it to your auditors); \
                 `civitas audit verify --checkpoint FILE` fails if the log stops extending it.",
                checkpoint.seq, checkpoint.hash, signer.kid
            );
            Ok(())
        }
    }
}

async fn read_checkpoint(store: &Store, master: &MasterKey, path: &Path) -> anyhow::Result<Signed> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read checkpoint {}", path.display()))?;
    checkpoint::read(store, master, &text)
        .await
        .map_err(|e| anyhow!("checkpoint {}: {e}", path.display()))
}

/// Walks the chain up to the head read first (entries appended meanwhile
/// are left for the next run) and, with a checkpoint, checks that the log
/// still has the checkpoint's hash at its entry.
async fn walk(
    store: &Store,
    master: &MasterKey,
    checkpoint: Option<&Checkpoint>,
) -> anyhow::Result<AuditHead> {
    const PAGE: i64 = 10_000;
    let head = store.audit_head().await?;
    let key = AuditKey::new(master);
    let mut verifier = Verifier::new(&key, head.keyed_from);
    while verifier.last_seq() < head.seq {
        let before = verifier.last_seq();
        let page = store.audit_page(before, PAGE).await?;
        for entry in page.iter().take_while(|e| e.seq <= head.seq) {
            if let Some(c) = checkpoint
                && entry.seq == c.seq
                && entry.hash != c.hash
            {
                bail!(
                    "the audit log does not extend the checkpoint: entry {} is not the entry it \
                     was when the checkpoint was made (its hash was {}, it is {})",
                    c.seq,
                    c.hash,
                    entry.hash
                );
            }
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
    if let Some(c) = checkpoint
        && c.seq > head.seq
    {
        bail!(
            "the audit log does not extend the checkpoint: it ends at entry {}, the checkpoint \
             was made at entry {}",
            head.seq,
            c.seq
        );
    }
    Ok(head)
}
