//! `civitas-flood`: one client flooding a running Civitas with one kind of
//! request, for `scripts/flood-bench`. Prints what it saw as JSON.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context;
use clap::Parser;

use civitas_load::flood::{self, Flood, FloodPlan};
use civitas_load::target::{App, Target};

/// Floods a running Civitas with one kind of request until the duration
/// ends or it is interrupted (SIGINT or SIGTERM), then prints its counts.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Base URL of the Civitas to flood, e.g. http://localhost:8080.
    #[arg(long)]
    target: String,
    #[arg(long, value_enum)]
    flood: Flood,
    /// Requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Connections the slow flood holds open.
    #[arg(long, default_value_t = 500)]
    connections: usize,
    /// How long to flood at most, in seconds.
    #[arg(long, default_value_t = 600)]
    seconds: u64,
    /// The flood's client address, sent as `X-Forwarded-For` (the target
    /// must run with `--behind-proxy true`).
    #[arg(long)]
    forwarded_for: Option<String>,
    /// The app whose id the authorize and token floods use.
    #[arg(long)]
    client_id: Option<String>,
    /// One of that app's registered redirect URIs.
    #[arg(long)]
    redirect_uri: Option<String>,
    /// Write the counts as JSON to this file as well.
    #[arg(long)]
    json: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let app = match (args.client_id, args.redirect_uri) {
        (Some(client_id), Some(redirect_uri)) => Some(App {
            client_id,
            // Never the app's: the token flood is a guesser.
            client_secret: "not-the-secret".to_string(),
            redirect_uri,
        }),
        (None, None) => None,
        _ => anyhow::bail!("give --client-id and --redirect-uri together"),
    };
    let target = Arc::new(Target::connect(&args.target, app, Duration::from_secs(10)).await?);
    let plan = FloodPlan {
        flood: args.flood,
        concurrency: args.concurrency,
        connections: args.connections,
        duration: Duration::from_secs(args.seconds),
        address: args.forwarded_for,
    };
    let stop = Arc::new(AtomicBool::new(false));
    let stopper = {
        let stop = stop.clone();
        tokio::spawn(async move {
            let mut term =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            stop.store(true, Ordering::Relaxed);
            Ok::<_, std::io::Error>(())
        })
    };
    let report = flood::run(target, &plan, stop).await?;
    stopper.abort();
    let text = serde_json::to_string_pretty(&report)?;
    println!("{text}");
    if let Some(path) = &args.json {
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}
