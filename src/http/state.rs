//! What every handler can reach. Nothing here is state another instance
//! would need: that lives in the database. Only the HTTP layer sees this;
//! the services below it are given the parts they use.

use std::sync::Arc;

use actix_web::web;

use crate::clock::Clock;
use crate::config::Settings;
use crate::limits::Limits;
use crate::oidc::Provider;
use crate::passkey::Passkeys;
use crate::registry::RegistryKeys;
use crate::session::SessionPolicy;
use crate::store::Store;

pub struct AppState {
    pub store: Store,
    /// One connection of its own for readiness probes, so that a busy pool
    /// does not take the instance out of its load balancer.
    pub probe: Store,
    pub clock: Clock,
    pub settings: Settings,
    pub sessions: SessionPolicy,
    /// Passkey ceremonies.
    pub passkeys: Passkeys,
    /// The OpenID Provider.
    pub provider: Provider,
    /// The discovery document, serialised once.
    pub discovery: web::Bytes,
    /// Keys of the registry's keyed hashes (activation codes, documents).
    pub registry_keys: RegistryKeys,
    /// In-memory rate limits of this instance.
    pub limits: Arc<Limits>,
}
