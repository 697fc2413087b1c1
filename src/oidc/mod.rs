//! The OpenID Provider: clients, keys, the authorization code flow with
//! PKCE, tokens, UserInfo, revocation, introspection and logout.

pub mod authorize;
pub mod claims;
pub mod clients;
pub mod discovery;
pub mod error;
pub mod grant;
pub mod jwt;
pub mod keyring;
pub mod signing;

use crate::secrets::MasterKey;
use keyring::KeyCache;

pub use error::OAuthError;

/// `acr` values, from the citizen's assurance level.
pub const ACR_LEVEL_1: &str = "urn:civitas:loa:1";
pub const ACR_LEVEL_2: &str = "urn:civitas:loa:2";

/// Provider secrets and caches. Keys live in the database; this only holds
/// what is derived from configuration and parsed copies of stored keys.
pub struct Provider {
    pub master: MasterKey,
    /// HMAC key for pairwise subject identifiers.
    pub pairwise_secret: [u8; 32],
    pub keys: KeyCache,
    /// Country named in the `address` claim.
    pub country: String,
}

impl Provider {
    pub fn new(master: MasterKey, country: String) -> Self {
        let pairwise_secret = master.derive("civitas pairwise subject v1");
        Self {
            master,
            pairwise_secret,
            keys: KeyCache::default(),
            country,
        }
    }
}
