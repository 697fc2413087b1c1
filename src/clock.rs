//! Time as a parameter, so expiry rules are testable without sleeping.

use std::sync::{Arc, Mutex};

use time::{Duration, OffsetDateTime};

/// Where the application reads the current time.
#[derive(Clone)]
pub enum Clock {
    /// The operating system's clock.
    System,
    /// A clock that only moves when told to (tests).
    Fixed(Arc<Mutex<OffsetDateTime>>),
}

impl Clock {
    /// A test clock starting at `start`.
    pub fn fixed(start: OffsetDateTime) -> Self {
        Self::Fixed(Arc::new(Mutex::new(start)))
    }

    pub fn now(&self) -> OffsetDateTime {
        match self {
            // The one place that reads the system's time.
            #[allow(clippy::disallowed_methods)]
            Self::System => OffsetDateTime::now_utc(),
            Self::Fixed(t) => *t.lock().unwrap_or_else(|poisoned| poisoned.into_inner()),
        }
    }

    /// Moves a fixed clock forward; does nothing to the system clock.
    pub fn advance(&self, by: Duration) {
        if let Self::Fixed(t) = self {
            let mut guard = t.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            *guard += by;
        }
    }

    /// Seconds since the Unix epoch, as stored in the database.
    pub fn unix(&self) -> i64 {
        self.now().unix_timestamp()
    }
}
