//! Runs a plan: untimed set-up (citizens enrolled and consenting), then N
//! workers doing operations back to back until the deadline; operations
//! that start during the warm-up are not counted.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use rand::RngExt;

use crate::journey::{self, Citizen, Journey, LOGIN_SCOPE, REFRESH_SCOPE};
use crate::stats::Stats;
use crate::target::Target;

/// A blend of journeys with integer weights.
#[derive(Debug, Clone)]
pub struct Mix(pub Vec<(Journey, u32)>);

impl Mix {
    /// One journey only.
    pub fn only(journey: Journey) -> Self {
        Self(vec![(journey, 1)])
    }

    /// Parses `login=60,refresh=30,enroll=10`.
    pub fn parse(text: &str) -> anyhow::Result<Self> {
        let mut parts = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .with_context(|| format!("{part:?} is not journey=weight"))?;
            let journey = Journey::parse(name.trim())
                .with_context(|| format!("unknown journey {name:?} in the mix"))?;
            let weight: u32 = weight
                .trim()
                .parse()
                .with_context(|| format!("weight {weight:?} is not a whole number"))?;
            if weight > 0 {
                parts.push((journey, weight));
            }
        }
        if parts.is_empty() {
            bail!("the mix names no journey with a weight above zero");
        }
        Ok(Self(parts))
    }

    fn total(&self) -> u32 {
        self.0.iter().map(|(_, w)| w).sum()
    }

    fn pick(&self, rng: &mut impl rand::Rng) -> Journey {
        let mut roll = rng.random_range(0..self.total());
        for (journey, weight) in &self.0 {
            if roll < *weight {
                return *journey;
            }
            roll -= weight;
        }
        self.0[0].0
    }

    fn contains(&self, journey: Journey) -> bool {
        self.0.iter().any(|(j, _)| *j == journey)
    }

    fn needs_citizens(&self) -> bool {
        self.0.iter().any(|(j, _)| j.needs_citizens())
    }

    /// The scopes citizens must have consented to.
    fn scopes(&self) -> Vec<&'static str> {
        let mut scopes = Vec::new();
        if self.contains(Journey::Login) {
            scopes.push(LOGIN_SCOPE);
        }
        if self.contains(Journey::Refresh) {
            scopes.push(REFRESH_SCOPE);
        }
        scopes
    }
}

/// What to run.
#[derive(Debug, Clone)]
pub struct Plan {
    pub mix: Mix,
    pub concurrency: usize,
    pub duration: Duration,
    pub warmup: Duration,
    /// Citizens enrolled before the timed phase (at least one per worker).
    pub citizens: usize,
    /// Print a progress line while running.
    pub progress: bool,
    /// Each citizen from an address of their own (`X-Forwarded-For`, for a
    /// Civitas behind a proxy), rather than all from this machine's.
    pub spread_addresses: bool,
}

/// What a run observed in its measured window.
pub struct Outcome {
    pub overall: Stats,
    pub by_journey: BTreeMap<Journey, Stats>,
    /// The measured window (warm-up excluded).
    pub measured: Duration,
    /// The first detail seen for each error kind.
    pub first_errors: BTreeMap<String, String>,
    /// Citizens enrolled during set-up.
    pub citizens: usize,
}

/// Counters the progress line reads.
#[derive(Default)]
struct Live {
    ok: AtomicU64,
    errors: AtomicU64,
    stop: AtomicBool,
}

/// Sets up and runs `plan` against `target`.
pub async fn run(target: Arc<Target>, plan: &Plan) -> anyhow::Result<Outcome> {
    let citizens = if plan.mix.needs_citizens() {
        let n = plan.citizens.max(plan.concurrency);
        eprintln!("setting up {n} citizens (enrolled, consent given)...");
        prepare(
            &target,
            n,
            plan.mix.scopes(),
            plan.concurrency,
            plan.spread_addresses,
        )
        .await?
    } else {
        Vec::new()
    };
    let enrolled = citizens.len();
    // Each worker owns its citizens, so no passkey is used twice at once.
    let mut shares: Vec<Vec<Citizen>> = (0..plan.concurrency).map(|_| Vec::new()).collect();
    for (i, citizen) in citizens.into_iter().enumerate() {
        shares[i % plan.concurrency].push(citizen);
    }

    let live = Arc::new(Live::default());
    let start = Instant::now();
    let measure_from = start + plan.warmup;
    let end = measure_from + plan.duration;
    let progress = plan.progress.then(|| {
        tokio::spawn(report_progress(
            live.clone(),
            start,
            plan.warmup,
            plan.warmup + plan.duration,
        ))
    });
    let stopper = {
        let live = live.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\ninterrupted: finishing the operations in flight");
                live.stop.store(true, Ordering::Relaxed);
            }
        })
    };

    let mut workers = tokio::task::JoinSet::new();
    for share in shares {
        let target = target.clone();
        let mix = plan.mix.clone();
        let live = live.clone();
        let spread = plan.spread_addresses;
        workers.spawn(
            async move { work(&target, &mix, share, spread, measure_from, end, &live).await },
        );
    }
    let mut overall = Stats::new()?;
    let mut by_journey: BTreeMap<Journey, Stats> = BTreeMap::new();
    let mut first_errors = BTreeMap::new();
    while let Some(result) = workers.join_next().await {
        let (stats, firsts) = result.context("a worker panicked")??;
        for (journey, s) in stats {
            overall.add(&s);
            match by_journey.get_mut(&journey) {
                Some(total) => total.add(&s),
                None => {
                    by_journey.insert(journey, s);
                }
            }
        }
        for (kind, detail) in firsts {
            first_errors.entry(kind).or_insert(detail);
        }
    }
    let finished = Instant::now().min(end);
    stopper.abort();
    if let Some(p) = progress {
        p.abort();
        eprintln!();
    }
    Ok(Outcome {
        overall,
        by_journey,
        measured: finished.saturating_duration_since(measure_from),
        first_errors,
        citizens: enrolled,
    })
}

type WorkerResult = (BTreeMap<Journey, Stats>, BTreeMap<String, String>);

/// One worker: operations back to back until `end`.
async fn work(
    target: &Target,
    mix: &Mix,
    mut citizens: Vec<Citizen>,
    spread: bool,
    measure_from: Instant,
    end: Instant,
    live: &Live,
) -> anyhow::Result<WorkerResult> {
    let mut stats: BTreeMap<Journey, Stats> = BTreeMap::new();
    for (journey, _) in &mix.0 {
        stats.insert(*journey, Stats::new()?);
    }
    let mut first_errors = BTreeMap::new();
    let mut next = 0usize;
    loop {
        let began = Instant::now();
        if began >= end || live.stop.load(Ordering::Relaxed) {
            break;
        }
        let journey = mix.pick(&mut rand::rng());
        let citizen = if journey.needs_citizens() && !citizens.is_empty() {
            next = (next + 1) % citizens.len();
            citizens.get_mut(next)
        } else {
            None
        };
        let result = journey::run(target, journey, citizen, spread).await;
        let finished = Instant::now();
        let counted = began >= measure_from && finished <= end;
        match result {
            Ok(()) => {
                live.ok.fetch_add(1, Ordering::Relaxed);
                if counted && let Some(s) = stats.get_mut(&journey) {
                    s.record(finished - began);
                }
            }
            Err(failure) => {
                live.errors.fetch_add(1, Ordering::Relaxed);
                if counted && let Some(s) = stats.get_mut(&journey) {
                    s.fail(failure.kind.clone());
                }
                first_errors.entry(failure.kind).or_insert(failure.detail);
                if journey == Journey::Refresh
                    && let Some(citizen) = citizens.get_mut(next)
                    && citizen.refresh_token.is_none()
                {
                    // Best effort; a failure shows up at the next refresh.
                    let address = citizen.address.clone();
                    let _ =
                        crate::client::as_client(address, journey::recover(target, citizen)).await;
                }
            }
        }
    }
    Ok((stats, first_errors))
}

/// Enrolls `n` citizens with consent for `scopes`, `parallel` at a time.
async fn prepare(
    target: &Arc<Target>,
    n: usize,
    scopes: Vec<&'static str>,
    parallel: usize,
    spread: bool,
) -> anyhow::Result<Vec<Citizen>> {
    let parallel = parallel.clamp(1, 32).min(n.max(1));
    let mut tasks = tokio::task::JoinSet::new();
    for lane in 0..parallel {
        let target = target.clone();
        let scopes = scopes.clone();
        let count = n / parallel + usize::from(lane < n % parallel);
        tasks.spawn(async move {
            let mut made = Vec::with_capacity(count);
            for _ in 0..count {
                let address = spread.then(crate::client::someone);
                made.push(journey::prepare_citizen(&target, &scopes, address).await?);
            }
            Ok::<_, crate::failure::Failure>(made)
        });
    }
    let mut citizens = Vec::with_capacity(n);
    while let Some(result) = tasks.join_next().await {
        citizens.extend(
            result
                .context("a set-up task panicked")?
                .context("set-up failed")?,
        );
    }
    Ok(citizens)
}

/// A progress line every second (in place on a terminal, every five
/// seconds as a new line otherwise).
async fn report_progress(live: Arc<Live>, start: Instant, warmup: Duration, total: Duration) {
    let terminal = std::io::stderr().is_terminal();
    let every = if terminal { 1 } else { 5 };
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    let mut last_ok = 0;
    let mut seconds = 0u64;
    loop {
        tick.tick().await;
        let ok = live.ok.load(Ordering::Relaxed);
        let errors = live.errors.load(Ordering::Relaxed);
        let rate = ok - last_ok;
        last_ok = ok;
        seconds += 1;
        if !seconds.is_multiple_of(every) {
            continue;
        }
        let elapsed = start.elapsed();
        let phase = if elapsed < warmup {
            "warm-up"
        } else {
            "measuring"
        };
        let line = format!(
            "{:>5.1}s/{:.0}s {phase:<9} ok {ok:>8}  {rate:>6}/s  errors {errors}",
            elapsed.as_secs_f64(),
            total.as_secs_f64(),
        );
        let mut err = std::io::stderr().lock();
        let _ = if terminal {
            write!(err, "\r{line}   ")
        } else {
            writeln!(err, "{line}")
        };
        let _ = err.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_mix() {
        let mix = Mix::parse("login=60, refresh=30,enroll=10,jwks=0").unwrap();
        assert_eq!(mix.0.len(), 3);
        assert_eq!(mix.total(), 100);
        assert_eq!(mix.scopes(), vec![LOGIN_SCOPE, REFRESH_SCOPE]);
        for bad in ["", "login", "login=x", "fly=3", "login=0"] {
            assert!(Mix::parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn picks_by_weight() {
        let mix = Mix::parse("login=3,enroll=1").unwrap();
        let mut rng = rand::rng();
        let logins = (0..4000)
            .filter(|_| mix.pick(&mut rng) == Journey::Login)
            .count();
        assert!((2700..3300).contains(&logins), "{logins}");
    }
}
