//! Registry services: issuing national ID numbers, keeping regions, the
//! population register with its activation codes, and the registrar desk.

pub mod activation;
pub mod claim;
pub mod enrollment;
pub mod register;
pub mod registrar;

use anyhow::Context;
use ring::hmac;

use crate::clock::Clock;
use crate::domain::region::{SAMPLE_REGIONS_CSV, parse_regions_csv};
use crate::domain::{Citizen, CitizenId, CitizenStatus, NationalId, NewCitizen, dedup_key};
use crate::secrets::MasterKey;
use crate::store::{Store, StoreError, Tx};

/// How often a freshly drawn national ID number may collide before we give
/// up. With 8e10 possible numbers even a billion citizens make a collision
/// rare; ten in a row means something else is wrong.
pub const MAX_ID_ATTEMPTS: usize = 10;

/// Errors while issuing a national ID number.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    #[error("no free national ID number after {MAX_ID_ATTEMPTS} draws")]
    Exhausted,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Creates a citizen with a new random national ID number, drawing again on
/// the rare collision. Unique even under concurrent issuance: the database's
/// unique index decides, not a check-then-insert.
pub async fn issue_citizen(
    store: &Store,
    clock: &Clock,
    new: NewCitizen,
) -> Result<Citizen, IssueError> {
    let now = clock.now();
    let mut citizen = Citizen {
        id: CitizenId::new(),
        national_id: NationalId::generate(),
        status: CitizenStatus::Active,
        assurance_level: new.assurance_level,
        given_name: new.given_name,
        family_name: new.family_name,
        birth_date: new.birth_date,
        region: new.region,
        created_at: now,
        updated_at: now,
    };
    let mut tx = store.begin().await?;
    if !insert_drawing_numbers(&mut tx, &mut citizen).await? {
        return Err(IssueError::Exhausted);
    }
    tx.commit().await?;
    Ok(citizen)
}

/// Inserts `citizen` on `tx`, drawing a new national ID number each time
/// the one it has is taken; false when every draw collided. The database's
/// unique index decides, so numbers stay unique under concurrency.
pub async fn insert_drawing_numbers(
    tx: &mut Tx,
    citizen: &mut Citizen,
) -> Result<bool, StoreError> {
    for _ in 0..MAX_ID_ATTEMPTS {
        if tx.insert_citizen(citizen).await? {
            return Ok(true);
        }
        tracing::info!("national ID collision; drawing another");
        citizen.national_id = NationalId::generate();
    }
    Ok(false)
}

/// Recomputes the duplicate-check keys made before the current
/// `dedup_key` (at start-up; a no-op once done). Any instance may run it:
/// each key is a function of the record alone.
pub async fn rekey_citizens(store: &Store) -> Result<u64, StoreError> {
    let mut done = 0;
    loop {
        let stale = store.citizens_with_stale_keys(1000).await?;
        if stale.is_empty() {
            return Ok(done);
        }
        for c in &stale {
            let key = dedup_key(&c.given_name, &c.family_name, c.birth_date, &c.region);
            store.set_dedup_key(c.id, &key).await?;
            done += 1;
        }
    }
}

/// Loads regions at start-up: the given file, or the sample file into an
/// empty database.
pub async fn load_regions(store: &Store, file: Option<&std::path::Path>) -> anyhow::Result<()> {
    let regions = match file {
        Some(path) => {
            let data = std::fs::read(path)
                .with_context(|| format!("cannot read regions file {}", path.display()))?;
            parse_regions_csv(&data)
                .map_err(|e| anyhow::anyhow!("regions file {}: {e}", path.display()))?
        }
        None if store.count_regions().await? == 0 => {
            parse_regions_csv(SAMPLE_REGIONS_CSV.as_bytes())
                .map_err(|e| anyhow::anyhow!("sample regions: {e}"))?
        }
        None => return Ok(()),
    };
    store.upsert_regions(&regions).await?;
    tracing::info!(count = regions.len(), "regions loaded");
    Ok(())
}

/// Keys for the registry's keyed hashes, derived from the master key, so
/// that a copy of the database alone cannot test guesses of activation
/// codes or identity-document numbers.
pub struct RegistryKeys {
    activation: hmac::Key,
    document: hmac::Key,
}

impl RegistryKeys {
    pub fn new(master: &MasterKey) -> Self {
        Self {
            activation: hmac::Key::new(
                hmac::HMAC_SHA256,
                &master.derive("civitas activation code v1"),
            ),
            document: hmac::Key::new(
                hmac::HMAC_SHA256,
                &master.derive("civitas document number v1"),
            ),
        }
    }

    /// What the database keeps of an activation code.
    pub fn activation_hash(&self, code: &activation::ActivationCode) -> String {
        crate::encoding::hex(hmac::sign(&self.activation, code.data().as_bytes()).as_ref())
    }

    /// What the database keeps of an identity document's number (already
    /// normalised to upper-case letters and digits).
    pub fn document_hash(&self, number: &str) -> String {
        crate::encoding::hex(hmac::sign(&self.document, number.as_bytes()).as_ref())
    }
}
