//! The provider's signing keys: generated on first start, sealed at rest with
//! the master key, parsed once per key id and kept in memory (immutable per
//! kid, so every instance may cache them), rotated on command.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use anyhow::Context;
use jsonwebtoken::DecodingKey;

use super::keys::{Alg, MasterKey, SigningKey, generate};
use crate::store::{KeyRow, Store};

/// How long a retired key stays in JWKS: longer than any token it signed
/// lives (tokens last minutes; relying parties cache JWKS for hours).
pub const RETIRED_KEY_PUBLISHED_FOR: i64 = 24 * 3600;

/// Parsed keys by kid.
#[derive(Default)]
pub struct KeyCache {
    signing: RwLock<HashMap<String, Arc<SigningKey>>>,
    verifying: RwLock<HashMap<String, Arc<(Alg, DecodingKey)>>>,
}

fn new_row(master: &MasterKey, alg: Alg, now: i64) -> anyhow::Result<KeyRow> {
    let key = generate(alg)?;
    Ok(KeyRow {
        private_sealed: master.seal(&key.private_der, key.kid.as_bytes())?,
        public_jwk: key.public_jwk.to_string(),
        kid: key.kid,
        alg: alg.as_str().to_string(),
        created_at: now,
        retired_at: None,
        unpublish_at: None,
    })
}

/// Makes sure every algorithm has an active key (first start).
pub async fn ensure_keys(store: &Store, master: &MasterKey, now: i64) -> anyhow::Result<()> {
    for alg in Alg::ALL {
        if store.active_signing_key(alg.as_str()).await?.is_none() {
            store
                .insert_signing_key(&new_row(master, alg, now)?)
                .await?;
            tracing::info!(alg = alg.as_str(), "signing key generated");
        }
    }
    Ok(())
}

/// Makes a new key active for every algorithm; the old ones stay published
/// until every token they signed has expired. Returns the new kids.
pub async fn rotate(store: &Store, master: &MasterKey, now: i64) -> anyhow::Result<Vec<String>> {
    let mut kids = Vec::new();
    for alg in Alg::ALL {
        let row = new_row(master, alg, now)?;
        store.insert_signing_key(&row).await?;
        store
            .retire_signing_keys(alg.as_str(), &row.kid, now, now + RETIRED_KEY_PUBLISHED_FOR)
            .await?;
        kids.push(row.kid);
    }
    Ok(kids)
}

impl KeyCache {
    /// The active key for `alg`, parsed once per kid.
    pub async fn signer(
        &self,
        store: &Store,
        master: &MasterKey,
        alg: Alg,
    ) -> anyhow::Result<Arc<SigningKey>> {
        let row = store
            .active_signing_key(alg.as_str())
            .await?
            .with_context(|| format!("no active {} signing key", alg.as_str()))?;
        if let Some(key) = self
            .signing
            .read()
            .ok()
            .and_then(|m| m.get(&row.kid).cloned())
        {
            return Ok(key);
        }
        let der = master
            .open(&row.private_sealed, row.kid.as_bytes())
            .with_context(|| format!("cannot unseal key {} (wrong master key?)", row.kid))?;
        let key = Arc::new(SigningKey::from_der(&row.kid, alg, &der)?);
        if let Ok(mut map) = self.signing.write() {
            map.insert(row.kid.clone(), key.clone());
        }
        Ok(key)
    }

    /// The verification key for `kid`, if it is published.
    pub async fn verifier(
        &self,
        store: &Store,
        kid: &str,
        now: i64,
    ) -> anyhow::Result<Option<Arc<(Alg, DecodingKey)>>> {
        if let Some(key) = self.verifying.read().ok().and_then(|m| m.get(kid).cloned()) {
            return Ok(Some(key));
        }
        let Some(row) = store
            .published_signing_keys(now)
            .await?
            .into_iter()
            .find(|k| k.kid == kid)
        else {
            return Ok(None);
        };
        let alg = Alg::parse(&row.alg).context("stored key has an unknown alg")?;
        let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_str(&row.public_jwk)?;
        let key = Arc::new((alg, DecodingKey::from_jwk(&jwk)?));
        if let Ok(mut map) = self.verifying.write() {
            map.insert(kid.to_string(), key.clone());
        }
        Ok(Some(key))
    }
}

/// The JWKS document: every published public key.
pub async fn jwks(store: &Store, now: i64) -> anyhow::Result<serde_json::Value> {
    let keys: Vec<serde_json::Value> = store
        .published_signing_keys(now)
        .await?
        .iter()
        .map(|k| serde_json::from_str(&k.public_jwk))
        .collect::<Result<_, _>>()?;
    Ok(serde_json::json!({ "keys": keys }))
}
