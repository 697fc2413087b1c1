//! The provider's signing keys: generated on first start, sealed at rest with
//! a key derived from the master key, parsed once per key id and kept in memory (immutable per
//! kid, so every instance may cache them), rotated on command. The JWKS
//! document is kept as prepared bytes and rebuilt when it may be stale.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::Context;
use jsonwebtoken::DecodingKey;

use super::signing::{Alg, SigningKey, generate};
use crate::secrets::{MasterKey, SEAL_VERSION};
use crate::store::{KeyRow, Store};

/// How long a retired key stays in JWKS: longer than any token it signed
/// lives (tokens last minutes; relying parties cache JWKS for hours).
pub const RETIRED_KEY_PUBLISHED_FOR: i64 = 24 * 3600;

/// How long this instance serves its prepared JWKS before reading the keys
/// again, so that a key rotated by another process (`civitas keys rotate`,
/// another instance) is published here within this time.
pub const JWKS_REFRESH: Duration = Duration::from_secs(1);

/// Parsed keys by kid, and the JWKS document as served.
#[derive(Default)]
pub struct KeyCache {
    signing: RwLock<HashMap<String, Arc<SigningKey>>>,
    verifying: RwLock<HashMap<String, Arc<(Alg, DecodingKey)>>>,
    published: RwLock<Option<Arc<Published>>>,
    /// One rebuild at a time; the others keep serving the previous bytes.
    rebuilding: tokio::sync::Mutex<()>,
}

/// The JWKS document, serialised once.
pub struct Published {
    /// The `application/jwk-set+json` body.
    pub body: Arc<[u8]>,
    kids: HashSet<String>,
    built: Instant,
    /// Application time at which a key in it stops being published.
    valid_until: i64,
}

impl Published {
    fn fresh(&self, now: i64) -> bool {
        now < self.valid_until && self.built.elapsed() < JWKS_REFRESH
    }
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
        seal_version: SEAL_VERSION,
    })
}

/// Opens a stored key's private key, however it was sealed.
fn unseal(master: &MasterKey, row: &KeyRow) -> anyhow::Result<Vec<u8>> {
    master
        .open_as(row.seal_version, &row.private_sealed, row.kid.as_bytes())
        .with_context(|| format!("cannot unseal key {} (wrong master key?)", row.kid))
}

/// Reseals the private keys still sealed under the raw master key with the
/// key derived for sealing (at start-up; a no-op once done). Any number of
/// processes may run it at once: a key resealed by another is left alone.
pub async fn reseal_keys(store: &Store, master: &MasterKey) -> anyhow::Result<u64> {
    let old = store.signing_keys_sealed_before(SEAL_VERSION).await?;
    if old.is_empty() {
        return Ok(0);
    }
    let mut tx = store.begin_write().await?;
    let mut done = 0;
    for row in &old {
        let der = unseal(master, row)?;
        let sealed = master.seal(&der, row.kid.as_bytes())?;
        done += tx
            .reseal_signing_key(&row.kid, row.seal_version, &sealed, SEAL_VERSION)
            .await?;
    }
    tx.commit().await?;
    Ok(done)
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
    /// The active key of each of `algs`, parsed once per kid. Each call
    /// reads only which kids are active (one query for all algorithms), so
    /// a rotation is seen at once; a sealed key is read and parsed the first
    /// time its kid is seen.
    pub async fn signers<const N: usize>(
        &self,
        store: &Store,
        master: &MasterKey,
        algs: [Alg; N],
    ) -> anyhow::Result<[Arc<SigningKey>; N]> {
        let active = store.active_signing_kids().await?;
        let mut keys = Vec::with_capacity(N);
        for alg in algs {
            let kid = active
                .iter()
                .find(|(a, _)| a == alg.as_str())
                .map(|(_, kid)| kid)
                .with_context(|| format!("no active {} signing key", alg.as_str()))?;
            let cached = self.signing.read().ok().and_then(|m| m.get(kid).cloned());
            keys.push(match cached {
                Some(key) => key,
                None => self.load_signer(store, master, alg).await?,
            });
        }
        keys.try_into()
            .map_err(|_| anyhow::anyhow!("one signing key per algorithm expected"))
    }

    /// The active key for `alg`.
    pub async fn signer(
        &self,
        store: &Store,
        master: &MasterKey,
        alg: Alg,
    ) -> anyhow::Result<Arc<SigningKey>> {
        let [key] = self.signers(store, master, [alg]).await?;
        Ok(key)
    }

    /// Reads, unseals and parses the active key of `alg` (a kid seen for
    /// the first time).
    async fn load_signer(
        &self,
        store: &Store,
        master: &MasterKey,
        alg: Alg,
    ) -> anyhow::Result<Arc<SigningKey>> {
        let row = store
            .active_signing_key(alg.as_str())
            .await?
            .with_context(|| format!("no active {} signing key", alg.as_str()))?;
        let der = unseal(master, &row)?;
        let key = Arc::new(SigningKey::from_der(&row.kid, alg, &der)?);
        // Publish before signing: prepared JWKS without this key is dropped,
        // so the next request for it reads the keys again.
        if let Ok(mut published) = self.published.write()
            && published
                .as_ref()
                .is_some_and(|p| !p.kids.contains(&row.kid))
        {
            *published = None;
        }
        if let Ok(mut map) = self.signing.write() {
            map.insert(row.kid.clone(), key.clone());
        }
        Ok(key)
    }

    /// The JWKS document as prepared bytes; read from the database at most
    /// once per [`JWKS_REFRESH`], and again when a key in it is due to leave.
    pub async fn jwks(&self, store: &Store, now: i64) -> anyhow::Result<Arc<Published>> {
        let current = self.published.read().ok().and_then(|p| p.clone());
        if let Some(p) = &current
            && p.fresh(now)
        {
            return Ok(p.clone());
        }
        let _one = match (current, self.rebuilding.try_lock()) {
            (_, Ok(guard)) => guard,
            // Someone is rebuilding: serve what there is, or wait for it.
            (Some(p), Err(_)) => return Ok(p),
            (None, Err(_)) => self.rebuilding.lock().await,
        };
        if let Some(p) = self.published.read().ok().and_then(|p| p.clone())
            && p.fresh(now)
        {
            return Ok(p);
        }
        let rows = store.published_signing_keys(now).await?;
        let keys: Vec<serde_json::Value> = rows
            .iter()
            .map(|k| serde_json::from_str(&k.public_jwk))
            .collect::<Result<_, _>>()?;
        let body = serde_json::to_vec(&serde_json::json!({ "keys": keys }))?;
        let published = Arc::new(Published {
            body: body.into(),
            kids: rows.iter().map(|k| k.kid.clone()).collect(),
            built: Instant::now(),
            valid_until: rows
                .iter()
                .filter_map(|k| k.unpublish_at)
                .min()
                .unwrap_or(i64::MAX),
        });
        if let Ok(mut slot) = self.published.write() {
            *slot = Some(published.clone());
        }
        Ok(published)
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
