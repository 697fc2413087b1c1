//! The OpenID Provider: clients, keys, the authorization code flow with
//! PKCE, tokens, UserInfo, revocation, introspection and logout. One file
//! (or folder) per endpoint; each parses its input into a typed request and
//! applies rules that are tested without a server.

pub mod authorize;
pub mod claims;
pub mod client_auth;
pub mod clients;
pub mod discovery;
pub mod end_session;
pub mod error;
pub mod introspect;
pub mod jwt;
pub mod keyring;
pub mod revoke;
pub mod signing;
pub mod token;
pub mod userinfo;

use std::collections::HashMap;

use keyring::KeyCache;

use crate::clock::Clock;
use crate::config::Issuer;
use crate::domain::client::Client;
use crate::domain::{AssuranceLevel, Citizen};
use crate::secrets::MasterKey;
use crate::store::Store;

pub use error::{ErrorCode, OAuthError};

/// `acr` values, from the citizen's assurance level.
pub const ACR_LEVEL_1: &str = "urn:civitas:loa:1";
pub const ACR_LEVEL_2: &str = "urn:civitas:loa:2";

/// A protocol request's parameters (query or form).
pub type Params = HashMap<String, String>;

/// A parameter's value; an empty value counts as absent (RFC 6749 §3.1).
pub fn param<'a>(params: &'a Params, name: &str) -> Option<&'a str> {
    params
        .get(name)
        .map(String::as_str)
        .filter(|v| !v.is_empty())
}

/// The `acr` a citizen's assurance level earns.
pub fn acr_of(level: AssuranceLevel) -> &'static str {
    match level {
        AssuranceLevel::SelfAsserted => ACR_LEVEL_1,
        AssuranceLevel::Verified => ACR_LEVEL_2,
    }
}

/// The OpenID Provider and what it uses: the store, the clock, the issuer,
/// and its secrets (keys live in the database; this holds what is derived
/// from configuration and parsed copies of stored keys).
pub struct Provider {
    store: Store,
    clock: Clock,
    issuer: Issuer,
    master: MasterKey,
    /// HMAC key for pairwise subject identifiers.
    pairwise_secret: [u8; 32],
    /// HMAC key sealing the sign-in round trip of `/authorize`.
    round_trip_secret: [u8; 32],
    /// HMAC key for pairwise session identifiers (`sid`).
    sid_secret: [u8; 32],
    pub keys: KeyCache,
    /// Country named in the `address` claim.
    country: String,
    /// How long a grant lasts at most, however often it is refreshed
    /// (seconds).
    grant_max_age: i64,
}

impl Provider {
    pub fn new(
        store: Store,
        clock: Clock,
        issuer: Issuer,
        master: MasterKey,
        country: String,
        grant_max_age: i64,
    ) -> Self {
        let pairwise_secret = master.derive("civitas pairwise subject v1");
        let round_trip_secret = master.derive("civitas sign-in round trip v1");
        let sid_secret = master.derive("civitas session id v1");
        Self {
            store,
            clock,
            issuer,
            master,
            pairwise_secret,
            round_trip_secret,
            sid_secret,
            keys: KeyCache::default(),
            country,
            grant_max_age,
        }
    }

    /// The `sub` `client` sees for `citizen`.
    pub fn subject(&self, client: &Client, citizen: &Citizen) -> String {
        claims::subject(&self.pairwise_secret, client, citizen)
    }

    /// The `sid` `client` sees for a browser session.
    pub fn session_id(&self, client: &Client, session: uuid::Uuid) -> String {
        claims::session_id(&self.sid_secret, client, session)
    }

    /// The JWKS document as served (see `KeyCache::jwks`).
    pub async fn jwks(&self) -> anyhow::Result<std::sync::Arc<keyring::Published>> {
        self.keys
            .jwks(&self.store, &self.master, self.clock.unix())
            .await
    }
}
