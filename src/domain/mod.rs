//! Pure types and rules of the registry: no HTTP, no SQL.

pub mod citizen;
pub mod client;
pub mod national_id;
pub mod region;

pub use citizen::{
    AssuranceLevel, Citizen, CitizenId, CitizenStatus, NewCitizen, PersonName, dedup_key,
    parse_birth_date,
};
pub use national_id::{NationalId, NationalIdError};
pub use region::{Region, RegionCode};
