//! `civitas-load`: drives a running Civitas with whole citizen journeys and
//! reports throughput, latency percentiles and errors.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use clap::{Parser, ValueEnum};

use civitas_load::journey::Journey;
use civitas_load::report::Report;
use civitas_load::runner::{self, Mix, Plan};
use civitas_load::target::{App, Target};

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Scenario {
    /// Enrollment start + finish: a new citizen and passkey each time.
    Enroll,
    /// Passkey sign-in, /authorize (consent given), /token, ID-token check, /userinfo.
    Login,
    /// Refresh-token grants with rotation.
    Refresh,
    /// A blend of journeys (see --mix).
    Mixed,
    /// The discovery document.
    Discovery,
    /// The JWKS document.
    Jwks,
}

/// Drives a running Civitas with whole citizen journeys over HTTP.
#[derive(Parser, Debug)]
#[command(version)]
struct Args {
    /// Base URL of the Civitas to load, e.g. http://localhost:8080.
    #[arg(long)]
    target: String,
    #[arg(long, value_enum)]
    scenario: Scenario,
    /// Operations in flight at once (one worker each).
    #[arg(long, default_value_t = 8)]
    concurrency: usize,
    /// Measured time, e.g. 30s, 2m, 500ms.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    duration: Duration,
    /// Time run but not counted before the measurement.
    #[arg(long, default_value = "5s", value_parser = parse_duration)]
    warmup: Duration,
    /// Citizens enrolled before the timed phase of login, refresh and mixed
    /// (at least one per worker).
    #[arg(long, default_value_t = 200)]
    citizens: usize,
    /// The blend for --scenario mixed, as journey=weight pairs.
    #[arg(long, default_value = "login=60,refresh=30,enroll=10")]
    mix: String,
    /// A confidential client made with `civitas client create`.
    #[arg(long)]
    client_id: Option<String>,
    #[arg(long)]
    client_secret: Option<String>,
    /// One of the client's registered redirect URIs (never contacted).
    #[arg(long)]
    redirect_uri: Option<String>,
    /// Write the results as JSON to this file.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Names the set-up in the results, e.g. "postgres" or "sqlite".
    #[arg(long, default_value = "")]
    label: String,
    /// Per-request timeout.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
    /// No progress line.
    #[arg(long)]
    quiet: bool,
    /// Each citizen from an address of their own in 10.0.0.0/8, sent as
    /// `X-Forwarded-For` (the target must run with `--behind-proxy true`),
    /// as real citizens are: rate limits per client network then apply to
    /// each of them, not to this machine as a whole.
    #[arg(long)]
    spread_addresses: bool,
}

/// `30s`, `2m`, `500ms` or a bare number of seconds.
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a duration like 30s, 2m or 500ms"))?;
    let seconds = match unit {
        "" | "s" => n,
        "ms" => n / 1000.0,
        "m" | "min" => n * 60.0,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?} (use ms, s or m)"
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string())
}

fn mix(args: &Args) -> anyhow::Result<Mix> {
    Ok(match args.scenario {
        Scenario::Enroll => Mix::only(Journey::Enroll),
        Scenario::Login => Mix::only(Journey::Login),
        Scenario::Refresh => Mix::only(Journey::Refresh),
        Scenario::Discovery => Mix::only(Journey::Discovery),
        Scenario::Jwks => Mix::only(Journey::Jwks),
        Scenario::Mixed => Mix::parse(&args.mix)?,
    })
}

fn app(args: &Args) -> anyhow::Result<Option<App>> {
    match (&args.client_id, &args.client_secret, &args.redirect_uri) {
        (Some(id), Some(secret), Some(uri)) => Ok(Some(App {
            client_id: id.clone(),
            client_secret: secret.clone(),
            redirect_uri: uri.clone(),
        })),
        (None, None, None) => Ok(None),
        _ => bail!("give --client-id, --client-secret and --redirect-uri together"),
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    let mix = mix(&args)?;
    let app = app(&args)?;
    if app.is_none() && mix.0.iter().any(|(j, _)| j.needs_citizens()) {
        bail!(
            "this scenario signs citizens in to an app: give --client-id, --client-secret and \
             --redirect-uri of a confidential client (`civitas client create`)"
        );
    }
    let target = Arc::new(Target::connect(&args.target, app, args.timeout).await?);
    let plan = Plan {
        mix,
        concurrency: args.concurrency,
        duration: args.duration,
        warmup: args.warmup,
        citizens: args.citizens,
        progress: !args.quiet,
        spread_addresses: args.spread_addresses,
    };
    let scenario = format!("{:?}", args.scenario).to_lowercase();
    let outcome = runner::run(target, &plan).await?;
    let report = Report::new(&scenario, &args.label, &args.target, &plan, &outcome);
    print!("{}", report.summary());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report)?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("3"), Ok(Duration::from_secs(3)));
        assert!(parse_duration("3h").is_err());
        assert!(parse_duration("s").is_err());
    }
}
