//! Enrollment campaigns: a target population in some regions, to be
//! enrolled between a start date and a legal deadline, and the dashboard
//! arithmetic that says whether it will be.

pub mod chart;
pub mod progress;
pub mod projection;

use std::collections::{BTreeSet, HashMap};

use time::Date;
use uuid::Uuid;

use crate::audit::AuditEvent;
use crate::domain::citizen::iso_date;
use crate::domain::{Region, RegionCode};
use crate::store::{CampaignRow, ScopeRegion, Store, StoreError};

/// `1234567` as `1,234,567`.
pub fn thousands(n: i64) -> String {
    let digits = n.unsigned_abs().to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    if n < 0 { format!("-{out}") } else { out }
}

/// The oldest cohort age anyone may set.
pub const MAX_MIN_AGE: i32 = 130;

/// The years a campaign's dates may fall in: wide enough for any real one,
/// and narrow enough that its cohort's last birth date is a date an answer
/// can carry (year 1 or later).
pub const CAMPAIGN_YEARS: std::ops::RangeInclusive<i32> = 1900..=2999;

/// A campaign as an administrator writes it (JSON API and form alike).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignInput {
    pub name: String,
    /// Region codes; each brings its sub-regions.
    pub regions: Vec<String>,
    /// Cohort: only people at least this old on the deadline.
    #[serde(default)]
    pub min_age: Option<i32>,
    /// A number, or absent for "the register rows in scope".
    #[serde(default)]
    pub target: Option<i64>,
    /// `YYYY-MM-DD`.
    pub starts_on: String,
    /// `YYYY-MM-DD`, the last day that counts.
    pub deadline: String,
}

/// A checked campaign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignSpec {
    pub name: String,
    pub roots: Vec<RegionCode>,
    pub min_age: Option<i32>,
    pub target_number: Option<i64>,
    pub starts_on: Date,
    pub deadline: Date,
}

/// What is wrong with an input, field by field.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub field: &'static str,
    pub message: String,
}

impl CampaignInput {
    /// Checks every field against the known regions; all problems at once.
    pub fn check(&self, regions: &[Region]) -> Result<CampaignSpec, Vec<FieldError>> {
        let mut errors = Vec::new();
        let mut fail = |field, message: String| errors.push(FieldError { field, message });
        let name = self.name.trim().to_string();
        if name.is_empty() || name.chars().count() > 120 || name.chars().any(char::is_control) {
            fail(
                "name",
                "Give the campaign a name of 1 to 120 characters.".into(),
            );
        }
        let known: BTreeSet<&str> = regions.iter().map(|r| r.code.as_str()).collect();
        let mut roots = Vec::new();
        for code in &self.regions {
            match RegionCode::parse(code) {
                Ok(c) if known.contains(c.as_str()) => {
                    if !roots.contains(&c) {
                        roots.push(c);
                    }
                }
                _ => fail(
                    "regions",
                    format!("{code:?} is not a region code; the regions list names them all."),
                ),
            }
        }
        if self.regions.is_empty() {
            fail("regions", "Choose at least one region.".into());
        }
        if let Some(age) = self.min_age
            && !(0..=MAX_MIN_AGE).contains(&age)
        {
            fail(
                "min_age",
                format!("The cohort age must be between 0 and {MAX_MIN_AGE} years."),
            );
        }
        if let Some(target) = self.target
            && !(1..=10_000_000_000).contains(&target)
        {
            fail(
                "target",
                "A target must be a whole number from 1 to 10,000,000,000; leave it out to \
                 take the register rows in scope."
                    .into(),
            );
        }
        let in_years = |d: &Date| CAMPAIGN_YEARS.contains(&d.year());
        let starts_on = iso_date::parse(&self.starts_on).filter(in_years);
        if starts_on.is_none() {
            fail(
                "starts_on",
                "The start date must be a date as YYYY-MM-DD, in the years 1900 to 2999.".into(),
            );
        }
        let deadline = iso_date::parse(&self.deadline).filter(in_years);
        if deadline.is_none() {
            fail(
                "deadline",
                "The deadline must be a date as YYYY-MM-DD, in the years 1900 to 2999.".into(),
            );
        }
        if let (Some(s), Some(d)) = (starts_on, deadline)
            && d < s
        {
            fail(
                "deadline",
                "The deadline cannot be before the start date.".into(),
            );
        }
        match (starts_on, deadline) {
            (Some(starts_on), Some(deadline)) if errors.is_empty() => Ok(CampaignSpec {
                name,
                roots,
                min_age: self.min_age,
                target_number: self.target,
                starts_on,
                deadline,
            }),
            _ => Err(errors),
        }
    }
}

impl CampaignSpec {
    /// The last birth date in the cohort: `min_age` years before the
    /// deadline (29 February falls back to the 28th).
    pub fn born_by(&self) -> Option<Date> {
        self.min_age.map(|age| years_before(self.deadline, age))
    }

    /// The row to store.
    pub fn row(&self, id: Uuid, actor: &str, now: i64, created_at: i64) -> CampaignRow {
        CampaignRow {
            id,
            name: self.name.clone(),
            min_age: self.min_age,
            born_by: self.born_by(),
            target_number: self.target_number,
            starts_on: self.starts_on,
            deadline: self.deadline,
            created_by: actor.to_string(),
            created_at,
            updated_at: now,
        }
    }

    /// The audit details: everything that defines the campaign.
    fn details(&self, id: Uuid) -> serde_json::Value {
        serde_json::json!({
            "campaign": id,
            "name": self.name,
            "regions": self.roots.iter().map(RegionCode::as_str).collect::<Vec<_>>(),
            "min_age": self.min_age,
            "target": self.target_number,
            "starts_on": iso_date::format(self.starts_on),
            "deadline": iso_date::format(self.deadline),
        })
    }
}

fn years_before(d: Date, years: i32) -> Date {
    let year = d.year() - years;
    Date::from_calendar_date(year, d.month(), d.day())
        .or_else(|_| Date::from_calendar_date(year, d.month(), d.day() - 1))
        .unwrap_or(Date::MIN)
}

/// Every region under `roots` (the roots included), with its path from the
/// top of the region tree.
pub fn scope_regions(regions: &[Region], roots: &[RegionCode]) -> Vec<ScopeRegion> {
    let parent: HashMap<&str, &str> = regions
        .iter()
        .filter_map(|r| r.parent.as_ref().map(|p| (r.code.as_str(), p.as_str())))
        .collect();
    let path = |code: &str| {
        let mut chain = vec![code];
        let mut at = code;
        while let Some(p) = parent.get(at) {
            // Region files are checked for cycles; this only guards the loop.
            if chain.len() > regions.len() {
                break;
            }
            chain.push(p);
            at = p;
        }
        chain.reverse();
        format!("/{}/", chain.join("/"))
    };
    let root_paths: Vec<String> = roots.iter().map(|r| path(r.as_str())).collect();
    regions
        .iter()
        .filter_map(|r| {
            let p = path(r.code.as_str());
            root_paths
                .iter()
                .any(|root| p.starts_with(root))
                .then(|| ScopeRegion {
                    code: r.code.as_str().to_string(),
                    root: roots.contains(&r.code),
                    path: p,
                })
        })
        .collect()
}

/// Records that `actor` read the names of residents not yet enrolled in a
/// campaign (a page, or the export `format`): reads of personal data are
/// audited like changes.
pub async fn record_pending_read(
    store: &Store,
    actor: &str,
    campaign: Uuid,
    region: Option<&str>,
    format: &str,
    now: i64,
) -> Result<(), StoreError> {
    store
        .append_audit(&AuditEvent::new(
            actor,
            "campaign.pending_read",
            format!("campaign:{campaign}"),
            serde_json::json!({ "region": region, "format": format }),
            now,
        ))
        .await?;
    Ok(())
}

/// Creates a campaign over the region tree `regions`; returns its id.
pub async fn create(
    store: &Store,
    regions: &[Region],
    spec: &CampaignSpec,
    actor: &str,
    now: i64,
) -> Result<Uuid, StoreError> {
    let id = Uuid::new_v4();
    let event = AuditEvent::new(
        actor,
        "campaign.create",
        format!("campaign:{id}"),
        spec.details(id),
        now,
    );
    let row = spec.row(id, actor, now, now);
    let mut tx = store.begin_write().await?;
    tx.lock_campaign_scopes().await?;
    tx.insert_campaign(&row).await?;
    tx.build_campaign_scope(id, &scope_regions(regions, &spec.roots), row.born_by)
        .await?;
    tx.append_audit(&event).await?;
    tx.commit().await?;
    Ok(id)
}

/// Changes a campaign. Its counters are rebuilt only when the regions or
/// the cohort change. False when there is no such campaign.
pub async fn update(
    store: &Store,
    regions: &[Region],
    current: &CampaignRow,
    current_roots: &[RegionCode],
    spec: &CampaignSpec,
    actor: &str,
    now: i64,
) -> Result<bool, StoreError> {
    let same_regions =
        spec.roots.iter().collect::<BTreeSet<_>>() == current_roots.iter().collect::<BTreeSet<_>>();
    let rescope = !same_regions || spec.born_by() != current.born_by;
    let scope = rescope.then(|| scope_regions(regions, &spec.roots));
    let event = AuditEvent::new(
        actor,
        "campaign.update",
        format!("campaign:{}", current.id),
        spec.details(current.id),
        now,
    );
    let row = spec.row(current.id, &current.created_by, now, current.created_at);
    let mut tx = store.begin_write().await?;
    if scope.is_some() {
        tx.lock_campaign_scopes().await?;
    }
    if !tx.update_campaign(&row).await? {
        return Ok(false);
    }
    if let Some(scope) = &scope {
        tx.build_campaign_scope(row.id, scope, row.born_by).await?;
    }
    tx.append_audit(&event).await?;
    tx.commit().await?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::region::{SAMPLE_REGIONS_CSV, parse_regions_csv};
    use time::macros::date;

    fn input() -> CampaignInput {
        CampaignInput {
            name: "Adults of the North".into(),
            regions: vec!["nth".into()],
            min_age: Some(18),
            target: None,
            starts_on: "2026-11-01".into(),
            deadline: "2026-12-31".into(),
        }
    }

    #[test]
    fn a_scope_takes_every_sub_region_with_its_path() {
        let regions = parse_regions_csv(SAMPLE_REGIONS_CSV.as_bytes()).unwrap();
        let spec = input().check(&regions).unwrap();
        let scope = scope_regions(&regions, &spec.roots);
        let codes: Vec<_> = scope.iter().map(|s| (s.code.as_str(), s.root)).collect();
        assert_eq!(
            codes,
            [
                ("NTH", true),
                ("NTH-HL", false),
                ("NTH-LK", false),
                ("NTH-RV", false)
            ]
        );
        assert_eq!(scope[1].path, "/NTH/NTH-HL/");
    }

    #[test]
    fn the_cohort_is_born_by_the_deadline_minus_the_age() {
        let regions = parse_regions_csv(SAMPLE_REGIONS_CSV.as_bytes()).unwrap();
        let spec = input().check(&regions).unwrap();
        assert_eq!(spec.born_by(), Some(date!(2008 - 12 - 31)));
        let leap = CampaignSpec {
            deadline: date!(2028 - 02 - 29),
            ..spec
        };
        assert_eq!(leap.born_by(), Some(date!(2010 - 02 - 28)));
    }

    #[test]
    fn every_bad_field_is_named() {
        let regions = parse_regions_csv(SAMPLE_REGIONS_CSV.as_bytes()).unwrap();
        let bad = CampaignInput {
            name: " ".into(),
            regions: vec!["NOWHERE".into()],
            min_age: Some(-1),
            target: Some(0),
            starts_on: "2026-12-31".into(),
            deadline: "2026-11-01".into(),
        };
        let fields: Vec<_> = bad
            .check(&regions)
            .unwrap_err()
            .into_iter()
            .map(|e| e.field)
            .collect();
        assert_eq!(fields, ["name", "regions", "min_age", "target", "deadline"]);
    }
}
