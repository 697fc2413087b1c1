//! The results: a summary for people and a JSON file for the chart script
//! and for comparing runs.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use crate::runner::{Outcome, Plan};
use crate::stats::{Latency, Stats};

/// Figures for one journey kind (or for all together).
#[derive(Debug, Serialize)]
pub struct Figures {
    /// Successful operations in the measured window.
    pub operations: u64,
    /// Successful operations per second.
    pub throughput: f64,
    /// Failed operations.
    pub errors: u64,
    pub errors_by_kind: BTreeMap<String, u64>,
    pub latency_ms: Latency,
}

impl Figures {
    fn of(stats: &Stats, seconds: f64) -> Self {
        Self {
            operations: stats.ok(),
            throughput: if seconds > 0.0 {
                stats.ok() as f64 / seconds
            } else {
                0.0
            },
            errors: stats.error_count(),
            errors_by_kind: stats.errors.clone(),
            latency_ms: stats.latency(),
        }
    }
}

/// The JSON written with `--json`.
#[derive(Debug, Serialize)]
pub struct Report {
    pub scenario: String,
    /// Free text naming the set-up, e.g. "postgres" (the chart groups by it).
    pub label: String,
    pub target: String,
    pub concurrency: usize,
    pub duration_s: f64,
    pub warmup_s: f64,
    pub citizens: usize,
    #[serde(flatten)]
    pub overall: Figures,
    /// Per journey kind, for blends.
    pub journeys: BTreeMap<String, Figures>,
    /// The first detail of each error kind.
    pub error_details: BTreeMap<String, String>,
    /// 1-, 5- and 15-minute load averages at the end (Linux), to tell a
    /// busy machine from a slow server.
    pub load_average: Option<[f64; 3]>,
    /// Seconds since the Unix epoch when the run ended.
    pub finished_at: u64,
}

impl Report {
    pub fn new(scenario: &str, label: &str, target: &str, plan: &Plan, outcome: &Outcome) -> Self {
        let seconds = outcome.measured.as_secs_f64();
        Self {
            scenario: scenario.to_string(),
            label: label.to_string(),
            target: target.to_string(),
            concurrency: plan.concurrency,
            duration_s: seconds,
            warmup_s: plan.warmup.as_secs_f64(),
            citizens: outcome.citizens,
            overall: Figures::of(&outcome.overall, seconds),
            journeys: outcome
                .by_journey
                .iter()
                .map(|(j, s)| (j.to_string(), Figures::of(s, seconds)))
                .collect(),
            error_details: outcome.first_errors.clone(),
            load_average: load_average(),
            finished_at: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or_default(),
        }
    }

    /// The human summary.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "scenario {} on {} ({}), concurrency {}, {:.1} s measured after {:.1} s warm-up",
            self.scenario,
            self.target,
            self.label,
            self.concurrency,
            self.duration_s,
            self.warmup_s
        );
        let _ = writeln!(
            out,
            "{:<10} {:>9} {:>10} {:>7} {:>8} {:>8} {:>8} {:>8}",
            "journey", "ok", "per s", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"
        );
        let mut line = |name: &str, f: &Figures| {
            let l = f.latency_ms;
            let _ = writeln!(
                out,
                "{name:<10} {:>9} {:>10.1} {:>7} {:>8.2} {:>8.2} {:>8.2} {:>8.2}",
                f.operations, f.throughput, f.errors, l.p50, l.p95, l.p99, l.max
            );
        };
        if self.journeys.len() > 1 {
            for (name, f) in &self.journeys {
                line(name, f);
            }
        }
        line("all", &self.overall);
        if !self.overall.errors_by_kind.is_empty() {
            let _ = writeln!(out, "errors by kind:");
            for (kind, n) in &self.overall.errors_by_kind {
                let detail = self.error_details.get(kind).map_or("", String::as_str);
                let _ = writeln!(out, "  {n:>7}  {kind}  (first: {detail})");
            }
        }
        if let Some([one, five, fifteen]) = self.load_average {
            let _ = writeln!(out, "load average {one:.2} {five:.2} {fifteen:.2}");
        }
        out
    }
}

fn load_average() -> Option<[f64; 3]> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    let mut fields = text.split_whitespace().map(|f| f.parse::<f64>().ok());
    Some([fields.next()??, fields.next()??, fields.next()??])
}
