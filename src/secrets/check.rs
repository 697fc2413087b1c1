//! One master key per database: the first process writes the key's check
//! value, every later one (instance or command) compares, so a process
//! holding another master key stops before it seals, hashes or signs
//! anything with it.

use anyhow::bail;

use super::MasterKey;
use crate::store::Store;

/// What a process with another master key is told.
const MISMATCH: &str = "the master key does not match the one this database was set up with \
     (its key check value differs): every instance and command on one database needs the \
     same master key; check CIVITAS_MASTER_KEY, --master-key or --master-key-file";

/// Compares `master` with the database's check value, writing it if the
/// database has none yet. A database from before check values gets one only
/// if `master` opens its newest signing key.
pub async fn check_master_key(store: &Store, master: &MasterKey, now: i64) -> anyhow::Result<()> {
    let value = master.check_value();
    match store.master_key_check().await? {
        Some(stored) if stored == value => return Ok(()),
        Some(_) => bail!(MISMATCH),
        None => {}
    }
    if let Some(key) = store.newest_signing_key().await?
        && crate::oidc::keyring::unseal(master, &key).is_err()
    {
        bail!("{MISMATCH} (it cannot open signing key {})", key.kid);
    }
    // Insert-if-absent, then read: of two processes starting at once, the
    // one that lost the race compares with the winner's value.
    store.insert_master_key_check(&value, now).await?;
    match store.master_key_check().await? {
        Some(stored) if stored == value => Ok(()),
        _ => bail!(MISMATCH),
    }
}
