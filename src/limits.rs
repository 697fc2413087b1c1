//! Rate limits held in memory, per instance (GCRA, with `governor`): per
//! client network and route class, per app and network at the app-facing
//! endpoints, per citizen at sign-in, and one cap for the whole instance.
//! Guessing throttles that must hold across instances (activation codes)
//! live in the database instead (`throttle`).

use std::hash::Hash;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, DefaultKeyedRateLimiter, Quota, RateLimiter};
use uuid::Uuid;

use crate::config::LimitSettings;

/// The doors that share a limit per client network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RouteClass {
    /// Liveness, readiness and metrics: never limited, never shed.
    Probe,
    /// Passkey ceremonies: enrollment, sign-in, adding a passkey.
    Ceremony,
    /// The authorization endpoint, consent and logout.
    Authorize,
    /// The public national-ID validator.
    NationalId,
    /// Accepting a staff invitation.
    Invitation,
    /// Staff APIs and pages.
    Staff,
    /// Token, introspection and revocation: limited per app and network in
    /// their handlers (`Limits::check_app`), since an app's servers send
    /// every citizen's sign-in from a few addresses.
    AppFacing,
    /// Everything else: citizens' pages and APIs, discovery, keys, UserInfo.
    Other,
}

impl RouteClass {
    /// The class of a request path.
    pub fn of(path: &str) -> Self {
        match path {
            "/healthz" | "/readyz" | "/metrics" => return Self::Probe,
            "/token" | "/introspect" | "/revoke" => return Self::AppFacing,
            "/api/v1/national-ids/validate" => return Self::NationalId,
            "/api/v1/staff/invitations/accept" | "/staff/invitation" => return Self::Invitation,
            "/api/v1/me/passkeys/start" | "/api/v1/me/passkeys/finish" => return Self::Ceremony,
            _ => {}
        }
        let under = |prefix: &str| {
            path.strip_prefix(prefix)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        if under("/api/v1/enrollment") || under("/api/v1/login") {
            Self::Ceremony
        } else if under("/authorize") || under("/end_session") {
            Self::Authorize
        } else if ["/api/v1/admin", "/api/v1/registrar", "/api/v1/staff"]
            .iter()
            .chain(&["/admin", "/registrar"])
            .any(|p| under(p))
        {
            Self::Staff
        } else {
            Self::Other
        }
    }

    /// The label in metrics and logs.
    pub fn label(self) -> &'static str {
        match self {
            Self::Probe => "probe",
            Self::Ceremony => "ceremony",
            Self::Authorize => "authorize",
            Self::NationalId => "national_id",
            Self::Invitation => "invitation",
            Self::Staff => "staff",
            Self::AppFacing => "app",
            Self::Other => "other",
        }
    }
}

/// A refused request: when the client may try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    pub retry_after: Duration,
}

impl Limited {
    /// Whole seconds for `Retry-After`, at least one.
    pub fn retry_after_secs(self) -> u64 {
        self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0)
    }
}

/// Keys are capped in length: a proxy or client could send anything.
const MAX_KEY_LEN: usize = 64;

/// Past this many tracked keys, idle ones are dropped at once rather than
/// at the next periodic sweep.
const MAX_TRACKED_KEYS: usize = 1_000_000;

/// One keyed limit, or none when its setting is 0.
struct Keyed<K: Hash + Eq + Clone>(Option<DefaultKeyedRateLimiter<K>>);

impl<K: Hash + Eq + Clone> Keyed<K> {
    fn per_minute(n: u32) -> Self {
        Self(NonZeroU32::new(n).map(|n| RateLimiter::keyed(Quota::per_minute(n))))
    }

    fn check(&self, key: &K, cost: NonZeroU32) -> Result<(), Limited> {
        let Some(limiter) = &self.0 else {
            return Ok(());
        };
        if limiter.len() > MAX_TRACKED_KEYS {
            limiter.retain_recent();
        }
        match limiter.check_key_n(key, cost) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(not_until)) => Err(Limited {
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            }),
            // More than the whole burst at once: wait a full period.
            Err(_) => Err(Limited {
                retry_after: Duration::from_secs(60),
            }),
        }
    }

    fn sweep(&self) {
        if let Some(limiter) = &self.0 {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }

    fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |l| l.len())
    }
}

/// Every in-memory limit of one instance.
pub struct Limits {
    classes: Vec<(RouteClass, Keyed<String>)>,
    app: Keyed<(String, String)>,
    failed_app_cost: NonZeroU32,
    citizen_sign_in: Keyed<Uuid>,
    global: Option<DefaultDirectRateLimiter>,
}

const ONE: NonZeroU32 = NonZeroU32::MIN;

impl Limits {
    pub fn new(settings: &LimitSettings) -> Self {
        let classes = [
            (RouteClass::Ceremony, settings.ceremony),
            (RouteClass::Authorize, settings.authorize),
            (RouteClass::NationalId, settings.national_id),
            (RouteClass::Invitation, settings.invitation),
            (RouteClass::Staff, settings.staff),
            (RouteClass::Other, settings.other),
        ]
        .into_iter()
        .map(|(class, n)| (class, Keyed::per_minute(n)))
        .collect();
        Self {
            classes,
            app: Keyed::per_minute(settings.app),
            failed_app_cost: NonZeroU32::new(settings.failed_app_cost).unwrap_or(ONE),
            citizen_sign_in: Keyed::per_minute(settings.citizen_sign_in),
            global: NonZeroU32::new(settings.global_per_second)
                .map(|n| RateLimiter::direct(Quota::per_second(n))),
        }
    }

    /// One request of `class` from `network`.
    pub fn check_class(&self, class: RouteClass, network: &str) -> Result<(), Limited> {
        match self.classes.iter().find(|(c, _)| *c == class) {
            Some((_, limit)) => limit.check(&capped(network), ONE),
            None => Ok(()),
        }
    }

    /// One request to the instance.
    pub fn check_global(&self) -> Result<(), Limited> {
        match &self.global {
            None => Ok(()),
            Some(limiter) => limiter.check().map_err(|not_until| Limited {
                retry_after: not_until.wait_time_from(DefaultClock::default().now()),
            }),
        }
    }

    /// One request from an app (the client id it claims) on `network`.
    /// The pair is the key: a client id is public, so wrong secrets sent
    /// from one network must not lock the app out everywhere.
    pub fn check_app(&self, client_id: &str, network: &str) -> Result<(), Limited> {
        self.app.check(&(capped(client_id), capped(network)), ONE)
    }

    /// Charges a failed client authentication: it counts as
    /// `failed_app_cost` requests.
    pub fn charge_failed_app(&self, client_id: &str, network: &str) {
        if let Some(extra) = NonZeroU32::new(self.failed_app_cost.get() - 1) {
            let _ = self.app.check(&(capped(client_id), capped(network)), extra);
        }
    }

    /// One sign-in attempt with a passkey of `citizen`.
    pub fn check_sign_in(&self, citizen: Uuid) -> Result<(), Limited> {
        self.citizen_sign_in.check(&citizen, ONE)
    }

    /// Drops keys whose limit has fully recovered; returns how many keys
    /// remain tracked.
    pub fn sweep(&self) -> usize {
        for (_, limit) in &self.classes {
            limit.sweep();
        }
        self.app.sweep();
        self.citizen_sign_in.sweep();
        self.classes.iter().map(|(_, l)| l.len()).sum::<usize>()
            + self.app.len()
            + self.citizen_sign_in.len()
    }
}

fn capped(text: &str) -> String {
    text.chars().take(MAX_KEY_LEN).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_fall_into_their_class() {
        for (path, class) in [
            ("/healthz", RouteClass::Probe),
            ("/readyz", RouteClass::Probe),
            ("/metrics", RouteClass::Probe),
            ("/api/v1/enrollment/start", RouteClass::Ceremony),
            ("/api/v1/enrollment/finish", RouteClass::Ceremony),
            ("/api/v1/login/start", RouteClass::Ceremony),
            ("/api/v1/me/passkeys/start", RouteClass::Ceremony),
            ("/api/v1/me/passkeys", RouteClass::Other),
            ("/api/v1/logout", RouteClass::Other),
            ("/authorize", RouteClass::Authorize),
            ("/authorize/consent", RouteClass::Authorize),
            ("/end_session/confirm", RouteClass::Authorize),
            ("/api/v1/national-ids/validate", RouteClass::NationalId),
            ("/api/v1/staff/invitations/accept", RouteClass::Invitation),
            ("/staff/invitation", RouteClass::Invitation),
            ("/api/v1/admin/campaigns", RouteClass::Staff),
            ("/api/v1/registrar/duplicates", RouteClass::Staff),
            ("/admin", RouteClass::Staff),
            ("/registrar", RouteClass::Staff),
            ("/administrator", RouteClass::Other),
            ("/token", RouteClass::AppFacing),
            ("/introspect", RouteClass::AppFacing),
            ("/userinfo", RouteClass::Other),
            ("/", RouteClass::Other),
        ] {
            assert_eq!(RouteClass::of(path), class, "{path}");
        }
    }

    fn settings() -> LimitSettings {
        LimitSettings {
            ceremony: 3,
            app: 10,
            failed_app_cost: 5,
            citizen_sign_in: 2,
            global_per_second: 0,
            ..LimitSettings::default()
        }
    }

    #[test]
    fn a_network_gets_its_burst_then_waits_and_others_are_untouched() {
        let limits = Limits::new(&settings());
        for _ in 0..3 {
            limits
                .check_class(RouteClass::Ceremony, "192.0.2.1")
                .unwrap();
        }
        let refused = limits
            .check_class(RouteClass::Ceremony, "192.0.2.1")
            .unwrap_err();
        assert!(
            (1..=20).contains(&refused.retry_after_secs()),
            "{refused:?}"
        );
        limits
            .check_class(RouteClass::Ceremony, "192.0.2.2")
            .unwrap();
        limits.check_class(RouteClass::Probe, "192.0.2.1").unwrap();
    }

    #[test]
    fn failed_client_authentications_cost_more_but_only_on_their_network() {
        let limits = Limits::new(&settings());
        limits.check_app("bank", "198.51.100.7").unwrap();
        limits.charge_failed_app("bank", "198.51.100.7");
        limits.check_app("bank", "198.51.100.7").unwrap();
        limits.charge_failed_app("bank", "198.51.100.7");
        assert!(limits.check_app("bank", "198.51.100.7").is_err());
        // The bank's own servers are elsewhere.
        for _ in 0..10 {
            limits.check_app("bank", "203.0.113.9").unwrap();
        }
    }

    #[test]
    fn zero_turns_a_limit_off() {
        let limits = Limits::new(&LimitSettings {
            ceremony: 0,
            global_per_second: 0,
            ..settings()
        });
        for _ in 0..1000 {
            limits
                .check_class(RouteClass::Ceremony, "192.0.2.1")
                .unwrap();
            limits.check_global().unwrap();
        }
    }

    #[test]
    fn sign_ins_are_limited_per_citizen() {
        let limits = Limits::new(&settings());
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        limits.check_sign_in(a).unwrap();
        limits.check_sign_in(a).unwrap();
        assert!(limits.check_sign_in(a).is_err());
        limits.check_sign_in(b).unwrap();
    }

    #[test]
    fn sweeping_forgets_networks_that_recovered() {
        let limits = Limits::new(&LimitSettings {
            other: 6000,
            ..settings()
        });
        limits.check_class(RouteClass::Other, "192.0.2.1").unwrap();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(limits.sweep(), 0);
    }
}
