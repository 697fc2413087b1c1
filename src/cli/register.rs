//! `civitas register import`.

use anyhow::{Context, bail};

use crate::audit;
use crate::clock::Clock;
use crate::registry::RegistryKeys;
use crate::registry::register::{self, ImportError, ImportSource};
use crate::store::Store;

/// `civitas register import`: letters go to a temporary file beside the
/// requested one and are renamed into place only when the import committed,
/// so a refused import leaves no codes behind.
pub(super) async fn import_register(
    store: &Store,
    keys: &RegistryKeys,
    file: &std::path::Path,
    letters: Option<&std::path::Path>,
    code_days: u32,
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
        code_days,
        letters_to: letters.map_or_else(
            || "standard output".to_string(),
            |path| path.display().to_string(),
        ),
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
