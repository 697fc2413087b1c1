//! Every instance sweeps expired rows once a minute (see
//! `Store::sweep_expired`), so abandoned ceremonies, sessions, authorization
//! requests and throttle windows do not pile up, and no request has to
//! clean up after others on its way.

use std::time::Duration;

use crate::clock::Clock;
use crate::store::Store;
use crate::throttle::LONGEST_WINDOW;

pub const EVERY: Duration = Duration::from_secs(60);

/// Starts the sweep, reading the time from `clock` at each tick. (Start-up
/// starts it on the system clock only: a fixed test clock never moves by
/// itself, so there is nothing to sweep on a timer there.)
pub fn spawn(store: Store, clock: Clock) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + EVERY, EVERY);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let now = clock.unix();
            match store.sweep_expired(now, LONGEST_WINDOW).await {
                Ok(0) => {}
                Ok(removed) => tracing::debug!(removed, "expired rows swept"),
                Err(e) => tracing::warn!(error = %e, "sweeping expired rows failed"),
            }
        }
    })
}
