//! Latency histograms and error counts, kept per worker and merged at the
//! end so that recording never takes a lock.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Longest latency the histogram tracks exactly (one minute, in µs); longer
/// ones are clamped, and a request times out well before that anyway.
const MAX_MICROS: u64 = 60_000_000;

/// What one worker (or the whole run) observed.
#[derive(Clone)]
pub struct Stats {
    latency: Histogram<u64>,
    /// Failed operations by kind, e.g. "http 500 POST /token".
    pub errors: BTreeMap<String, u64>,
}

impl Stats {
    pub fn new() -> anyhow::Result<Self> {
        // Three significant figures: p99 is exact to 0.1 %.
        let latency = Histogram::new_with_bounds(1, MAX_MICROS, 3)
            .map_err(|e| anyhow::anyhow!("cannot make a latency histogram: {e}"))?;
        Ok(Self {
            latency,
            errors: BTreeMap::new(),
        })
    }

    /// A completed operation.
    pub fn record(&mut self, took: Duration) {
        let micros = u64::try_from(took.as_micros())
            .unwrap_or(MAX_MICROS)
            .clamp(1, MAX_MICROS);
        self.latency.saturating_record(micros);
    }

    /// A failed operation of `kind`.
    pub fn fail(&mut self, kind: String) {
        *self.errors.entry(kind).or_default() += 1;
    }

    pub fn add(&mut self, other: &Stats) {
        // Both histograms have the same bounds, so adding cannot fail.
        let _ = self.latency.add(&other.latency);
        for (kind, n) in &other.errors {
            *self.errors.entry(kind.clone()).or_default() += n;
        }
    }

    /// Successful operations.
    pub fn ok(&self) -> u64 {
        self.latency.len()
    }

    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }

    /// Percentiles in milliseconds.
    pub fn latency(&self) -> Latency {
        let ms = |micros: u64| micros as f64 / 1000.0;
        if self.latency.is_empty() {
            return Latency::default();
        }
        Latency {
            p50: ms(self.latency.value_at_quantile(0.50)),
            p95: ms(self.latency.value_at_quantile(0.95)),
            p99: ms(self.latency.value_at_quantile(0.99)),
            max: ms(self.latency.max()),
            mean: self.latency.mean() / 1000.0,
        }
    }
}

/// Latency percentiles, in milliseconds.
#[derive(Debug, Default, Clone, Copy, Serialize)]
pub struct Latency {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
    pub mean: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merges_latencies_and_errors() {
        let mut a = Stats::new().unwrap();
        let mut b = Stats::new().unwrap();
        for ms in 1..=100 {
            a.record(Duration::from_millis(ms));
        }
        b.record(Duration::from_secs(3600));
        b.fail("timeout".into());
        b.fail("timeout".into());
        a.add(&b);
        assert_eq!(a.ok(), 101);
        assert_eq!(a.error_count(), 2);
        let l = a.latency();
        assert!((l.p50 - 51.0).abs() < 0.1, "{l:?}");
        assert!((l.max - 60_000.0).abs() < 60.0, "{l:?}");
    }
}
