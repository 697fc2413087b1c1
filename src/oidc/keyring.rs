//! The provider's signing keys: generated on first start, sealed at rest
//! with a key derived from the master key, parsed once per key id and kept
//! in memory (immutable per kid, so every instance may cache them), rotated
//! and revoked on command.
//!
//! A rotated key is published for a while before it signs, so that relying
//! parties' caches of JWKS know it first. Verification follows what is
//! published: the JWKS document, read from the database at most once a
//! second, is also the set of keys tokens are checked against, so a key
//! revoked or unpublished by any process is refused everywhere within a
//! second. Only keys whose seal opens under the master key are published,
//! so a key planted in the database is neither.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use jsonwebtoken::DecodingKey;

use super::signing::{Alg, SigningKey, generate};
use crate::audit::AuditEvent;
use crate::secrets::{MasterKey, SEAL_VERSION};
use crate::store::{KeyRow, Store, Tx};

/// How long a retired key stays in JWKS: longer than any token it signed
/// lives (tokens last minutes; relying parties cache JWKS for hours).
pub const RETIRED_KEY_PUBLISHED_FOR: i64 = 24 * 3600;

/// How long a rotated key is published before it signs, by default
/// (`key_publish_before_minutes`): well over the JWKS `max-age` (300 s).
pub const DEFAULT_PUBLISH_BEFORE_MINUTES: u32 = 10;

/// How long this instance serves its prepared JWKS (and trusts the keys in
/// it) before reading the keys again, so that a key rotated, revoked or
/// unpublished by another process is seen here within this time.
pub const JWKS_REFRESH: Duration = Duration::from_secs(1);

/// A verification key.
pub type Verifier = Arc<(Alg, DecodingKey)>;

/// Parsed signing keys by kid, and the published keys as served.
#[derive(Default)]
pub struct KeyCache {
    signing: RwLock<HashMap<String, Arc<SigningKey>>>,
    published: RwLock<Option<Arc<Published>>>,
    /// One rebuild at a time; the others keep serving the previous bytes.
    rebuilding: tokio::sync::Mutex<()>,
}

/// The published keys: the JWKS document serialised once, and the same
/// keys ready to verify.
pub struct Published {
    /// The `application/jwk-set+json` body.
    pub body: Arc<[u8]>,
    verifiers: HashMap<String, Verifier>,
    built: Instant,
    /// Application time at which a key in it stops being published.
    valid_until: i64,
}

impl Published {
    fn fresh(&self, now: i64) -> bool {
        now < self.valid_until && self.built.elapsed() < JWKS_REFRESH
    }

    /// The key `kid`, if it is published.
    pub fn verifier(&self, kid: &str) -> Option<Verifier> {
        self.verifiers.get(kid).cloned()
    }
}

/// What the seal of a private key authenticates besides the key: its kid
/// and (from seal version 2) its public key, so that a public key put in
/// the database by someone without the master key is never published.
fn sealed_with(seal_version: i16, kid: &str, public_jwk: &str) -> Vec<u8> {
    if seal_version < SEAL_VERSION {
        kid.as_bytes().to_vec()
    } else {
        format!("{kid}\n{public_jwk}").into_bytes()
    }
}

fn new_row(master: &MasterKey, alg: Alg, now: i64, activates_at: i64) -> anyhow::Result<KeyRow> {
    let key = generate(alg)?;
    let public_jwk = key.public_jwk.to_string();
    let aad = sealed_with(SEAL_VERSION, &key.kid, &public_jwk);
    Ok(KeyRow {
        private_sealed: master.seal(&key.private_der, &aad)?,
        public_jwk,
        kid: key.kid,
        alg: alg.as_str().to_string(),
        created_at: now,
        activates_at,
        retired_at: None,
        unpublish_at: None,
        revoked_at: None,
        seal_version: SEAL_VERSION,
    })
}

/// Opens a stored key's private key, however it was sealed; fails unless
/// it was sealed under this master key with this kid and public key.
pub fn unseal(master: &MasterKey, row: &KeyRow) -> anyhow::Result<Vec<u8>> {
    let aad = sealed_with(row.seal_version, &row.kid, &row.public_jwk);
    master
        .open_as(row.seal_version, &row.private_sealed, &aad)
        .with_context(|| format!("cannot unseal key {} (wrong master key?)", row.kid))
}

/// Reseals the private keys still sealed under the raw master key with the
/// key derived for sealing (at start-up; a no-op once done). Any number of
/// processes may run it at once: a key resealed by another is left alone.
/// A key that does not open under `master` was not sealed by Civitas: it
/// is left as it is (and never published).
pub async fn reseal_keys(store: &Store, master: &MasterKey) -> anyhow::Result<u64> {
    let old = store.signing_keys_sealed_before(SEAL_VERSION).await?;
    if old.is_empty() {
        return Ok(0);
    }
    let mut tx = store.begin_write().await?;
    let mut done = 0;
    for row in &old {
        let Ok(der) = unseal(master, row) else {
            tracing::warn!(
                kid = row.kid,
                "a signing key not sealed under the master key is left alone"
            );
            continue;
        };
        let aad = sealed_with(SEAL_VERSION, &row.kid, &row.public_jwk);
        let sealed = master.seal(&der, &aad)?;
        done += tx
            .reseal_signing_key(&row.kid, row.seal_version, &sealed, SEAL_VERSION)
            .await?;
    }
    tx.commit().await?;
    Ok(done)
}

/// Opens a transaction holding the signing-key lock.
async fn locked(store: &Store) -> anyhow::Result<Tx> {
    let mut tx = store.begin_write().await?;
    tx.lock_signing_keys().await?;
    Ok(tx)
}

/// Sets when each live key of `alg` signs: each until the next one starts,
/// the last one with no end. If none signs at `now`, the first one signs
/// from `start` on. Call with the signing-key lock held.
async fn reschedule(tx: &mut Tx, alg: Alg, now: i64, start: i64) -> anyhow::Result<()> {
    let mut keys = tx.live_signing_keys(alg.as_str(), now).await?;
    if let Some(first) = keys.first_mut()
        && first.activates_at > now
    {
        first.activates_at = start;
    }
    let starts: Vec<i64> = keys.iter().map(|k| k.activates_at).collect();
    for (i, key) in keys.iter().enumerate() {
        let retired_at = starts.get(i + 1).copied();
        let unpublish_at = retired_at.map(|at| at + RETIRED_KEY_PUBLISHED_FOR);
        tx.schedule_signing_key(&key.kid, key.activates_at, retired_at, unpublish_at)
            .await?;
    }
    Ok(())
}

/// Makes sure every algorithm has a key that signs now or later (first
/// start); a missing one signs at once.
pub async fn ensure_keys(store: &Store, master: &MasterKey, now: i64) -> anyhow::Result<()> {
    let live = store.live_signing_algs(now).await?;
    let missing: Vec<Alg> = Alg::ALL
        .into_iter()
        .filter(|alg| !live.iter().any(|a| a == alg.as_str()))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    // Generated before the lock is taken: RSA takes a while.
    let rows = missing
        .into_iter()
        .map(|alg| Ok((alg, new_row(master, alg, now, now)?)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut tx = locked(store).await?;
    for (alg, row) in &rows {
        // Another process may have made one while this one generated.
        if tx.live_signing_keys(alg.as_str(), now).await?.is_empty() {
            tx.insert_signing_key(row).await?;
            tracing::info!(alg = alg.as_str(), "signing key generated");
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Makes a new key for every algorithm, published at once and signing
/// `publish_before` seconds later; until then the current keys sign, and
/// they stay published for a day after. Recorded in the audit log as
/// `actor`'s. Returns the new keys.
pub async fn rotate(
    store: &Store,
    master: &MasterKey,
    now: i64,
    publish_before: i64,
    actor: &str,
) -> anyhow::Result<Vec<KeyRow>> {
    let activates_at = now + publish_before;
    let rows = Alg::ALL
        .into_iter()
        .map(|alg| new_row(master, alg, now, activates_at))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mut tx = locked(store).await?;
    for (alg, row) in Alg::ALL.into_iter().zip(&rows) {
        tx.insert_signing_key(row).await?;
        reschedule(&mut tx, alg, now, now).await?;
    }
    let kids: Vec<&str> = rows.iter().map(|r| r.kid.as_str()).collect();
    tx.append_audit(&AuditEvent::new(
        actor,
        "keys.rotate",
        "signing_keys",
        serde_json::json!({ "new_kids": kids, "signs_from": activates_at }),
        now,
    ))
    .await?;
    tx.commit().await?;
    Ok(rows)
}

/// What a revocation did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revoked {
    pub alg: Alg,
    /// The key that signs for `alg` now.
    pub signing: String,
    /// Whether that key was made by the revocation (there was none waiting).
    pub generated: bool,
}

/// Revokes `kid` at once: it leaves JWKS and stops signing. If it was the
/// key signing for its algorithm, its successor signs at once, without the
/// wait of a rotation (a new key is made if none was waiting). Recorded in
/// the audit log as `actor`'s.
pub async fn revoke(
    store: &Store,
    master: &MasterKey,
    kid: &str,
    now: i64,
    actor: &str,
) -> anyhow::Result<Revoked> {
    let Some(row) = store.signing_key(kid).await? else {
        bail!("no signing key {kid}");
    };
    let alg = Alg::parse(&row.alg).context("stored key has an unknown alg")?;
    // In case no key is waiting: RSA takes a while, so before the lock.
    let spare = new_row(master, alg, now, now)?;
    let mut tx = locked(store).await?;
    let Some(row) = tx.signing_key(kid).await? else {
        bail!("no signing key {kid}");
    };
    if row.revoked_at.is_some() {
        bail!("signing key {kid} is already revoked");
    }
    tx.revoke_signing_key(kid, now).await?;
    // A successor takes over from when the revoked key started, so that no
    // instance, whatever its clock, is left without a key.
    let start = row.activates_at.min(now);
    let generated = tx.live_signing_keys(alg.as_str(), now).await?.is_empty();
    if generated {
        tx.insert_signing_key(&KeyRow {
            activates_at: start,
            ..spare
        })
        .await?;
    }
    reschedule(&mut tx, alg, now, start).await?;
    let signing = tx
        .live_signing_keys(alg.as_str(), now)
        .await?
        .into_iter()
        .next()
        .map(|k| k.kid)
        .context("no key left to sign")?;
    tx.append_audit(&AuditEvent::new(
        actor,
        "keys.revoke",
        format!("signing_key:{kid}"),
        serde_json::json!({ "alg": alg.as_str(), "signing": signing, "generated": generated }),
        now,
    ))
    .await?;
    tx.commit().await?;
    Ok(Revoked {
        alg,
        signing,
        generated,
    })
}

impl KeyCache {
    /// The key that signs for each of `algs` at `now`, parsed once per kid.
    /// Each call reads only which kids sign (one query for all
    /// algorithms), so a rotation or revocation is seen at once; a sealed
    /// key is read and parsed the first time its kid is seen.
    pub async fn signers<const N: usize>(
        &self,
        store: &Store,
        master: &MasterKey,
        algs: [Alg; N],
        now: i64,
    ) -> anyhow::Result<[Arc<SigningKey>; N]> {
        let signing = store.signing_kids(now).await?;
        let mut keys = Vec::with_capacity(N);
        for alg in algs {
            let kid = signing
                .iter()
                .find(|(a, _)| a == alg.as_str())
                .map(|(_, kid)| kid)
                .with_context(|| format!("no {} signing key", alg.as_str()))?;
            let cached = self.signing.read().ok().and_then(|m| m.get(kid).cloned());
            keys.push(match cached {
                Some(key) => key,
                None => self.load_signer(store, master, alg, kid).await?,
            });
        }
        keys.try_into()
            .map_err(|_| anyhow::anyhow!("one signing key per algorithm expected"))
    }

    /// The key that signs for `alg` at `now`.
    pub async fn signer(
        &self,
        store: &Store,
        master: &MasterKey,
        alg: Alg,
        now: i64,
    ) -> anyhow::Result<Arc<SigningKey>> {
        let [key] = self.signers(store, master, [alg], now).await?;
        Ok(key)
    }

    /// Reads, unseals and parses key `kid` (seen for the first time).
    async fn load_signer(
        &self,
        store: &Store,
        master: &MasterKey,
        alg: Alg,
        kid: &str,
    ) -> anyhow::Result<Arc<SigningKey>> {
        let row = store
            .signing_key(kid)
            .await?
            .with_context(|| format!("signing key {kid} is gone"))?;
        let der = unseal(master, &row)?;
        let key = Arc::new(SigningKey::from_der(&row.kid, alg, &der)?);
        // A key made by a revocation signs at once: prepared keys without
        // it are dropped, so this instance verifies what it signs.
        if let Ok(mut published) = self.published.write()
            && published
                .as_ref()
                .is_some_and(|p| !p.verifiers.contains_key(&row.kid))
        {
            *published = None;
        }
        if let Ok(mut map) = self.signing.write() {
            map.insert(row.kid.clone(), key.clone());
        }
        Ok(key)
    }

    /// The published keys; read from the database at most once per
    /// [`JWKS_REFRESH`], and again when a key in them is due to leave. A key
    /// whose seal does not open under `master` (put there by someone
    /// without it) is left out.
    pub async fn jwks(
        &self,
        store: &Store,
        master: &MasterKey,
        now: i64,
    ) -> anyhow::Result<Arc<Published>> {
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
        let mut keys = Vec::with_capacity(rows.len());
        let mut verifiers = HashMap::with_capacity(rows.len());
        for row in &rows {
            if unseal(master, row).is_err() {
                tracing::warn!(
                    kid = row.kid,
                    "a signing key not sealed under the master key is left out of JWKS"
                );
                continue;
            }
            let jwk: serde_json::Value = serde_json::from_str(&row.public_jwk)?;
            let alg = Alg::parse(&row.alg).context("stored key has an unknown alg")?;
            let decoding = DecodingKey::from_jwk(&serde_json::from_value(jwk.clone())?)?;
            verifiers.insert(row.kid.clone(), Arc::new((alg, decoding)));
            keys.push(jwk);
        }
        let body = serde_json::to_vec(&serde_json::json!({ "keys": keys }))?;
        let published = Arc::new(Published {
            body: body.into(),
            verifiers,
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

    /// The verification key for `kid`, if it is published now (as this
    /// instance read the keys within the last [`JWKS_REFRESH`]).
    pub async fn verifier(
        &self,
        store: &Store,
        master: &MasterKey,
        kid: &str,
        now: i64,
    ) -> anyhow::Result<Option<Verifier>> {
        Ok(self.jwks(store, master, now).await?.verifier(kid))
    }
}
