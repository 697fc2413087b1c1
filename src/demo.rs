//! The demo country: a register for the sample regions, two campaigns and
//! five weeks of enrollments, so that a new installation shows a living
//! dashboard. Everything goes through the same paths as real data: the
//! register through the checked import (codes hashed, audited), campaigns
//! through `create`, and enrollments through the store, whose triggers keep
//! the counters. Seeded, so every demo country is the same.

use rand::rngs::StdRng;
use rand::{RngExt, SeedableRng};
use time::{Date, Duration, OffsetDateTime, Time};

use crate::audit::AuditEvent;
use crate::campaign::{self, CampaignSpec};
use crate::domain::{
    AssuranceLevel, Citizen, CitizenId, CitizenStatus, NationalId, PersonName, RegionCode,
};
use crate::registry::register::{self, ImportSource};
use crate::registry::registrar::apply_status_change;
use crate::registry::{RegistryKeys, insert_drawing_numbers};
use crate::store::Store;

const GIVEN: [&str; 16] = [
    "Amara", "Kofi", "Lina", "Tomas", "Nadia", "Yusuf", "Elena", "Ravi", "Sofia", "Jonas", "Mei",
    "Omar", "Ines", "Pavel", "Zainab", "Luca",
];
const FAMILY: [&str; 16] = [
    "Okafor",
    "Lindqvist",
    "Haddad",
    "Moreau",
    "Tanaka",
    "Silva",
    "Novak",
    "Mensah",
    "Ibrahim",
    "Costa",
    "Petrov",
    "Nguyen",
    "Kowalski",
    "Abebe",
    "Larsen",
    "Reyes",
];

/// Leaf regions of the sample file, with how briskly each enrolls: some
/// will make the deadline, some will not.
const PACE: [(&str, f64); 11] = [
    ("CAP-C", 1.35),
    ("CAP-H", 1.05),
    ("NTH-HL", 0.45),
    ("NTH-LK", 0.85),
    ("NTH-RV", 0.95),
    ("STH-CS", 1.15),
    ("STH-PL", 0.7),
    ("EST-FR", 1.0),
    ("EST-MN", 0.6),
    ("WST-DS", 1.25),
    ("WST-OA", 0.9),
];

/// Days of history before today.
const HISTORY_DAYS: i64 = 35;
/// Days from today to the national deadline.
const DAYS_TO_DEADLINE: i64 = 21;

/// What the demo loaded.
#[derive(Debug)]
pub struct DemoCountry {
    pub register_rows: u64,
    pub enrolled: usize,
    pub campaigns: usize,
    /// A few activation codes still unused, as `(register_ref, birth date,
    /// code)`, to try enrollment with.
    pub sample_codes: Vec<(String, String, String)>,
}

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(
        "the database already holds citizens or register rows; the demo country loads only \
         into an empty database"
    )]
    NotEmpty,
    #[error("the sample regions are not loaded (start with the default regions file)")]
    NoSampleRegions,
    #[error("register import failed: {0}")]
    Import(String),
    #[error("no free national ID number")]
    NoFreeNumber,
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

/// Loads the demo country with `people` register rows into an empty
/// database, as of `now`.
pub async fn load(
    store: &Store,
    keys: &RegistryKeys,
    code_days: u32,
    now: OffsetDateTime,
    people: u32,
    actor: &str,
) -> Result<DemoCountry, DemoError> {
    if store.count_citizens().await? > 0 || store.count_register_entries().await? > 0 {
        return Err(DemoError::NotEmpty);
    }
    let regions = store.list_regions().await?;
    if !PACE
        .iter()
        .all(|(code, _)| regions.iter().any(|r| r.code.as_str() == *code))
    {
        return Err(DemoError::NoSampleRegions);
    }
    let mut rng = StdRng::seed_from_u64(20_261_128);
    let today = now.date();

    // The register.
    let mut csv = String::from("register_ref,given_name,family_name,birth_date,region,phone\n");
    let mut people_by_region: Vec<Vec<usize>> = vec![Vec::new(); PACE.len()];
    let mut rows = Vec::new();
    for i in 0..people as usize {
        let region = rng.random_range(0..PACE.len());
        let given = GIVEN[rng.random_range(0..GIVEN.len())];
        let family = FAMILY[rng.random_range(0..FAMILY.len())];
        let born = Date::from_calendar_date(1940, time::Month::January, 1)
            .unwrap_or(Date::MIN)
            .checked_add(Duration::days(rng.random_range(0..31_000)))
            .unwrap_or(today);
        let reference = format!("DEMO-{:07}", i + 1);
        csv.push_str(&format!(
            "{reference},{given},{family},{},{},+99555{:06}\n",
            crate::domain::citizen::iso_date::format(born),
            PACE[region].0,
            i
        ));
        people_by_region[region].push(i);
        rows.push((reference, given, family, born, region));
    }
    let mut letters = Vec::new();
    let report = register::import(
        store,
        keys,
        today,
        now.unix_timestamp(),
        ImportSource {
            name: "demo country".into(),
            actor: actor.to_string(),
            code_days,
            letters_to: "the demo loader".to_string(),
        },
        csv.as_bytes(),
        &mut letters,
    )
    .await
    .map_err(|e| DemoError::Import(e.to_string()))?;

    // Two campaigns, created before the history so the counters see it
    // arrive day by day.
    let national = CampaignSpec {
        name: "National enrollment 2026".into(),
        roots: ["CAP", "NTH", "STH", "EST", "WST"]
            .iter()
            .filter_map(|c| RegionCode::parse(c).ok())
            .collect(),
        min_age: None,
        target_number: None,
        starts_on: today - Duration::days(HISTORY_DAYS),
        deadline: today + Duration::days(DAYS_TO_DEADLINE),
    };
    let voters = CampaignSpec {
        name: "Voters' roll: adults of the North and East".into(),
        roots: ["NTH", "EST"]
            .iter()
            .filter_map(|c| RegionCode::parse(c).ok())
            .collect(),
        min_age: Some(18),
        target_number: Some(i64::from(people) * 30 / 100),
        starts_on: today - Duration::days(21),
        deadline: today + Duration::days(42),
    };
    let at = now.unix_timestamp();
    campaign::create(store, &regions, &national, actor, at).await?;
    campaign::create(store, &regions, &voters, actor, at).await?;

    // Enrollments day by day: each region at its pace, slower at weekends,
    // ramping up over the first week; some people enroll on their own
    // (without the register), a few records are later revoked.
    let length = (national.deadline - national.starts_on).whole_days() as f64;
    let sizes: Vec<f64> = people_by_region.iter().map(|p| p.len() as f64).collect();
    let mut revoke = Vec::new();
    let mut enrolled = 0;
    for back in (0..=HISTORY_DAYS).rev() {
        let day = today - Duration::days(back);
        let weekend = matches!(
            day.weekday(),
            time::Weekday::Saturday | time::Weekday::Sunday
        );
        let ramp = ((HISTORY_DAYS - back + 1) as f64 / 7.0).min(1.0);
        let mut batch = Vec::new();
        for (region, (code, pace)) in PACE.iter().enumerate() {
            let waiting = &mut people_by_region[region];
            let mean = sizes[region] / length * pace * ramp * if weekend { 0.5 } else { 1.15 };
            let n = ((mean * rng.random_range(0.8..1.2)).round() as usize).min(waiting.len());
            for _ in 0..n {
                let pick = rng.random_range(0..waiting.len());
                let person = waiting.swap_remove(pick);
                let (reference, given, family, born, _) = &rows[person];
                let self_enrolled = rng.random_range(0..20) == 0;
                let seconds = rng.random_range(7 * 3600..20 * 3600);
                let when = day
                    .with_time(Time::MIDNIGHT)
                    .assume_utc()
                    .saturating_add(Duration::seconds(seconds))
                    .min(now);
                let (Ok(given), Ok(family), Ok(region)) = (
                    PersonName::parse(given),
                    PersonName::parse(family),
                    RegionCode::parse(code),
                ) else {
                    continue;
                };
                let citizen = Citizen {
                    id: CitizenId::new(),
                    national_id: NationalId::generate(),
                    status: CitizenStatus::Active,
                    assurance_level: if self_enrolled {
                        AssuranceLevel::SelfAsserted
                    } else {
                        AssuranceLevel::Verified
                    },
                    given_name: given,
                    family_name: family,
                    birth_date: *born,
                    region,
                    created_at: when,
                    updated_at: when,
                };
                batch.push((citizen, (!self_enrolled).then(|| reference.clone())));
            }
        }
        enrolled += batch.len();
        insert_enrolled(store, &mut batch).await?;
        // About one record in two hundred is revoked a few days later
        // (a duplicate found, say).
        revoke.extend(batch.into_iter().step_by(200).map(|(c, _)| c));
    }
    for citizen in revoke {
        let at = (citizen.created_at + Duration::days(3)).min(now);
        let event = AuditEvent::new(
            actor,
            "citizen.revoke",
            crate::staff::audit_name(&citizen),
            serde_json::json!({ "reason": "demo: duplicate record" }),
            at.unix_timestamp(),
        );
        apply_status_change(
            store,
            citizen.id,
            &[CitizenStatus::Active],
            CitizenStatus::Revoked,
            &event,
        )
        .await?;
    }

    let sample_codes = sample_codes(&letters, &rows, &people_by_region);
    Ok(DemoCountry {
        register_rows: report.imported,
        enrolled,
        campaigns: 2,
        sample_codes,
    })
}

/// Inserts citizens already enrolled, each claiming its register row if it
/// names one, in one transaction.
async fn insert_enrolled(
    store: &Store,
    batch: &mut [(Citizen, Option<String>)],
) -> Result<(), DemoError> {
    let mut tx = store.begin_write().await?;
    for (citizen, register_ref) in batch.iter_mut() {
        if !insert_drawing_numbers(&mut tx, citizen).await? {
            return Err(DemoError::NoFreeNumber);
        }
        if let Some(r) = register_ref {
            tx.claim_register_entry(r, citizen.id, citizen.created_at.unix_timestamp())
                .await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// Three codes from the letters whose rows nobody has enrolled with.
fn sample_codes(
    letters: &[u8],
    rows: &[(String, &str, &str, Date, usize)],
    waiting: &[Vec<usize>],
) -> Vec<(String, String, String)> {
    let unused: std::collections::HashSet<&str> = waiting
        .iter()
        .flatten()
        .map(|&i| rows[i].0.as_str())
        .collect();
    let mut reader = csv::Reader::from_reader(letters);
    reader
        .records()
        .filter_map(Result::ok)
        .filter(|r| unused.contains(&r[0]))
        .take(3)
        .filter_map(|r| {
            let row = rows.iter().find(|x| x.0 == r[0])?;
            Some((
                r[0].to_string(),
                crate::domain::citizen::iso_date::format(row.3),
                r[5].to_string(),
            ))
        })
        .collect()
}
