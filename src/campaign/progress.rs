//! A campaign's progress, read from its counters: the totals, one row per
//! region at the level asked for (with drill-down into sub-regions), and the
//! cumulative count per day for the burn-up chart. The dashboard, the
//! campaign page, the CSV export and the progress API all print this.

use std::collections::HashMap;

use serde::Serialize;
use time::Date;
use uuid::Uuid;

use super::projection::{Counts, Projection, Status, behind_key, project, rate_window};
use crate::domain::citizen::iso_date;
use crate::store::{
    CampaignRegionRow, CampaignRow, RegionCount, Store, StoreError, day_date, day_number,
};

/// The campaign itself, as shown and as edited.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignView {
    pub id: Uuid,
    pub name: String,
    /// The regions chosen (each with its sub-regions).
    pub regions: Vec<String>,
    pub min_age: Option<i32>,
    /// The last birth date in the cohort.
    #[serde(with = "iso_date::option")]
    pub born_by: Option<Date>,
    /// The number entered, or none when the target is the register rows.
    pub target_number: Option<i64>,
    #[serde(with = "iso_date")]
    pub starts_on: Date,
    #[serde(with = "iso_date")]
    pub deadline: Date,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

impl CampaignView {
    pub fn new(row: &CampaignRow, regions: &[CampaignRegionRow]) -> Self {
        Self {
            id: row.id,
            name: row.name.clone(),
            regions: regions
                .iter()
                .filter(|r| r.root)
                .map(|r| r.region_code.clone())
                .collect(),
            min_age: row.min_age,
            born_by: row.born_by,
            target_number: row.target_number,
            starts_on: row.starts_on,
            deadline: row.deadline,
            created_by: row.created_by.clone(),
            created_at: row.created_at,
            updated_at: row.updated_at,
        }
    }

    /// "Everyone" or "18 and over on the deadline".
    pub fn cohort(&self) -> String {
        match self.min_age {
            Some(age) => format!("aged {age} or over on the deadline"),
            None => "everyone".into(),
        }
    }
}

/// Enrolled against target, and what follows from it.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub enrolled: i64,
    pub target: i64,
    pub in_window: i64,
    #[serde(flatten)]
    pub projection: Projection,
}

impl Figures {
    fn new(campaign: &CampaignRow, today: Date, target: i64, count: RegionCount) -> Self {
        let projection = project(&Counts {
            today,
            starts_on: campaign.starts_on,
            deadline: campaign.deadline,
            target,
            enrolled: count.enrolled,
            in_window: count.in_window,
        });
        Self {
            enrolled: count.enrolled,
            target,
            in_window: count.in_window,
            projection,
        }
    }

    pub fn status(&self) -> Status {
        self.projection.status
    }
}

/// One row of the region table.
#[derive(Debug, Clone, Serialize)]
pub struct RegionProgress {
    pub code: String,
    pub name: String,
    /// Whether it has sub-regions in scope to drill into.
    pub has_subregions: bool,
    #[serde(flatten)]
    pub figures: Figures,
}

/// One day of the burn-up: the count at the end of that day.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct DayPoint {
    #[serde(with = "iso_date")]
    pub date: Date,
    pub enrolled: i64,
}

/// A level of the region tree: the whole scope, or one region's subtree.
#[derive(Debug, Clone, Serialize)]
pub struct Level {
    pub code: String,
    pub name: String,
    pub parent: Option<String>,
}

/// Everything the campaign page shows.
#[derive(Debug, Clone, Serialize)]
pub struct Progress {
    pub campaign: CampaignView,
    #[serde(with = "iso_date")]
    pub as_of: Date,
    /// The region drilled into; none for the whole campaign.
    pub level: Option<Level>,
    pub totals: Figures,
    pub regions: Vec<RegionProgress>,
    pub daily: Vec<DayPoint>,
}

/// How the region table is sorted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SortKey {
    /// Furthest behind first: the share of its target a region reaches by
    /// the deadline at its own rate.
    #[default]
    Behind,
    Name,
    Enrolled,
    Target,
    Percent,
    Rate,
    Needed,
}

impl SortKey {
    pub const ALL: [SortKey; 7] = [
        Self::Behind,
        Self::Name,
        Self::Enrolled,
        Self::Target,
        Self::Percent,
        Self::Rate,
        Self::Needed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Behind => "behind",
            Self::Name => "name",
            Self::Enrolled => "enrolled",
            Self::Target => "target",
            Self::Percent => "percent",
            Self::Rate => "rate",
            Self::Needed => "needed",
        }
    }
}

/// Which way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Deserialize, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    #[default]
    Asc,
    Desc,
}

/// Sorts region rows; ties and missing values (no target) go last, then by
/// name, so the order is stable.
pub fn sort_regions(rows: &mut [RegionProgress], key: SortKey, dir: Direction) {
    let value = |r: &RegionProgress| -> Option<f64> {
        let f = &r.figures;
        match key {
            SortKey::Behind => Some(behind_key(f.target, &f.projection)).filter(|v| v.is_finite()),
            SortKey::Name => None,
            SortKey::Enrolled => Some(f.enrolled as f64),
            SortKey::Target => Some(f.target as f64),
            SortKey::Percent => f.projection.percent,
            SortKey::Rate => Some(f.projection.daily_rate),
            SortKey::Needed => f.projection.needed_rate,
        }
    };
    rows.sort_by(|a, b| {
        let order = match (value(a), value(b)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => std::cmp::Ordering::Equal,
        };
        let order = if dir == Direction::Desc && key != SortKey::Name {
            match (value(a), value(b)) {
                (Some(_), Some(_)) => order.reverse(),
                _ => order,
            }
        } else {
            order
        };
        let by_name = a.name.cmp(&b.name).then_with(|| a.code.cmp(&b.code));
        let by_name = if key == SortKey::Name && dir == Direction::Desc {
            by_name.reverse()
        } else {
            by_name
        };
        order.then(by_name)
    });
}

/// Why a progress report cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    #[error("no such campaign")]
    NoCampaign,
    #[error("region {0} is not in this campaign's scope")]
    NotInScope(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Per-region totals over a subtree.
struct Tree<'a> {
    regions: &'a [CampaignRegionRow],
    children: HashMap<&'a str, Vec<&'a CampaignRegionRow>>,
    own: HashMap<String, RegionCount>,
}

impl<'a> Tree<'a> {
    fn new(regions: &'a [CampaignRegionRow], own: HashMap<String, RegionCount>) -> Self {
        let mut children: HashMap<&str, Vec<&CampaignRegionRow>> = HashMap::new();
        for r in regions {
            if let Some(p) = r.parent_code.as_deref()
                && regions.iter().any(|x| x.region_code == p)
            {
                children.entry(p).or_default().push(r);
            }
        }
        Self {
            regions,
            children,
            own,
        }
    }

    fn tops(&self) -> Vec<&'a CampaignRegionRow> {
        self.regions
            .iter()
            .filter(|r| {
                r.parent_code
                    .as_deref()
                    .is_none_or(|p| !self.regions.iter().any(|x| x.region_code == p))
            })
            .collect()
    }

    /// Counts and register rows of `r` and everything under it.
    fn total(&self, r: &CampaignRegionRow) -> (RegionCount, i64) {
        let own = self.own.get(&r.region_code).copied().unwrap_or_default();
        let mut count = own;
        let mut rows = r.register_rows;
        for child in self
            .children
            .get(r.region_code.as_str())
            .into_iter()
            .flatten()
        {
            let (c, n) = self.total(child);
            count.enrolled += c.enrolled;
            count.in_window += c.in_window;
            rows += n;
        }
        (count, rows)
    }
}

/// The target of a part of the scope holding `rows` of the `all_rows`
/// register rows: the rows themselves, or the entered number shared out in
/// proportion to them.
fn share_of_target(campaign: &CampaignRow, rows: i64, all_rows: i64) -> i64 {
    match campaign.target_number {
        None => rows,
        Some(_) if all_rows == 0 => 0,
        Some(n) => {
            ((i128::from(n) * i128::from(rows) + i128::from(all_rows) / 2) / i128::from(all_rows))
                as i64
        }
    }
}

/// The progress of campaign `id` as of `today`, at the level of `region`
/// (none for the whole scope).
pub async fn load(
    store: &Store,
    id: Uuid,
    today: Date,
    region: Option<&str>,
    sort: (SortKey, Direction),
) -> Result<Progress, ProgressError> {
    let campaign = store
        .find_campaign(id)
        .await?
        .ok_or(ProgressError::NoCampaign)?;
    let regions = store.campaign_regions(id).await?;
    let window = rate_window(today, campaign.starts_on);
    let own: HashMap<String, RegionCount> = store
        .campaign_region_counts(id, today, window)
        .await?
        .into_iter()
        .collect();
    let tree = Tree::new(&regions, own);
    let tops = tree.tops();
    let mut scope_count = RegionCount::default();
    let mut all_rows = 0;
    for top in &tops {
        let (c, n) = tree.total(top);
        scope_count.enrolled += c.enrolled;
        scope_count.in_window += c.in_window;
        all_rows += n;
    }
    let figures = |count: RegionCount, rows: i64| {
        Figures::new(
            &campaign,
            today,
            share_of_target(&campaign, rows, all_rows),
            count,
        )
    };
    let row = |r: &CampaignRegionRow| {
        let (count, rows) = tree.total(r);
        RegionProgress {
            code: r.region_code.clone(),
            name: r.name.clone(),
            has_subregions: tree.children.contains_key(r.region_code.as_str()),
            figures: figures(count, rows),
        }
    };
    // A campaign of one region opens on its sub-regions.
    let single = match tops.as_slice() {
        [top] if region.is_none() && tree.children.contains_key(top.region_code.as_str()) => {
            Some(top.region_code.as_str())
        }
        _ => None,
    };
    let (level, totals, mut rows, path) = match region.or(single) {
        None => {
            let totals = Figures::new(
                &campaign,
                today,
                campaign.target_number.unwrap_or(all_rows),
                scope_count,
            );
            let rows: Vec<_> = tops.iter().map(|r| row(r)).collect();
            (None, totals, rows, "/".to_string())
        }
        Some(code) => {
            let at = regions
                .iter()
                .find(|r| r.region_code == code)
                .ok_or_else(|| ProgressError::NotInScope(code.to_string()))?;
            let (count, n) = tree.total(at);
            let mut rows: Vec<_> = tree
                .children
                .get(at.region_code.as_str())
                .into_iter()
                .flatten()
                .map(|r| row(r))
                .collect();
            // People registered in the region itself, not in a sub-region.
            let own = tree.own.get(&at.region_code).copied().unwrap_or_default();
            if !rows.is_empty() && (own != RegionCount::default() || at.register_rows > 0) {
                rows.push(RegionProgress {
                    code: at.region_code.clone(),
                    name: format!("{} (not in a sub-region)", at.name),
                    has_subregions: false,
                    figures: figures(own, at.register_rows),
                });
            }
            let level = Level {
                code: at.region_code.clone(),
                name: at.name.clone(),
                parent: at
                    .parent_code
                    .clone()
                    .filter(|p| regions.iter().any(|x| &x.region_code == p)),
            };
            let totals = if single.is_some() {
                Figures::new(
                    &campaign,
                    today,
                    campaign.target_number.unwrap_or(all_rows),
                    count,
                )
            } else {
                figures(count, n)
            };
            (
                single.is_none().then_some(level),
                totals,
                rows,
                at.path.clone(),
            )
        }
    };
    sort_regions(&mut rows, sort.0, sort.1);
    let daily = cumulative(
        &store.campaign_daily(id, &path, today).await?,
        campaign.starts_on,
        today,
    );
    Ok(Progress {
        campaign: CampaignView::new(&campaign, &regions),
        as_of: today,
        level,
        totals,
        regions: rows,
        daily,
    })
}

/// The count at the end of each day from the start to today, from net
/// changes per day number (none after today). Before the start there is
/// one point: the count the campaign will start from.
pub fn cumulative(changes: &[(i64, i64)], starts_on: Date, today: Date) -> Vec<DayPoint> {
    let first = day_number(starts_on);
    if today < starts_on {
        let enrolled = changes.iter().map(|(_, n)| n).sum();
        return vec![DayPoint {
            date: starts_on,
            enrolled,
        }];
    }
    let by_day: HashMap<i64, i64> = changes.iter().copied().collect();
    let mut total: i64 = changes
        .iter()
        .filter(|(d, _)| *d < first)
        .map(|(_, n)| n)
        .sum();
    (first..=day_number(today))
        .filter_map(|day| {
            total += by_day.get(&day).copied().unwrap_or(0);
            day_date(day).map(|date| DayPoint {
                date,
                enrolled: total,
            })
        })
        .collect()
}

/// The summary line of each campaign for the dashboard.
pub async fn summaries(
    store: &Store,
    today: Date,
) -> Result<Vec<(CampaignView, Figures)>, ProgressError> {
    let mut out = Vec::new();
    for campaign in store.list_campaigns().await? {
        let p = load(
            store,
            campaign.id,
            today,
            None,
            (SortKey::Behind, Direction::Asc),
        )
        .await?;
        out.push((p.campaign, p.totals));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::campaign::projection::{Counts, project};
    use time::macros::date;

    fn region(code: &str, target: i64, enrolled: i64, in_window: i64) -> RegionProgress {
        let counts = Counts {
            today: date!(2026 - 11 - 28),
            starts_on: date!(2026 - 11 - 01),
            deadline: date!(2026 - 12 - 31),
            target,
            enrolled,
            in_window,
        };
        RegionProgress {
            code: code.into(),
            name: format!("Region {code}"),
            has_subregions: false,
            figures: Figures {
                enrolled,
                target,
                in_window,
                projection: project(&counts),
            },
        }
    }

    fn codes(rows: &[RegionProgress]) -> Vec<&str> {
        rows.iter().map(|r| r.code.as_str()).collect()
    }

    #[test]
    fn regions_sort_furthest_behind_first_and_without_a_target_last() {
        let mut rows = vec![
            region("A", 100, 90, 7),  // 90 + 34 days × 1 = 124%
            region("B", 0, 5, 7),     // no target
            region("C", 100, 10, 0),  // 10%
            region("D", 100, 50, 14), // 50 + 68 = 118%
        ];
        sort_regions(&mut rows, SortKey::Behind, Direction::Asc);
        assert_eq!(codes(&rows), ["C", "D", "A", "B"]);
        sort_regions(&mut rows, SortKey::Behind, Direction::Desc);
        assert_eq!(
            codes(&rows),
            ["A", "D", "C", "B"],
            "missing values stay last"
        );
        sort_regions(&mut rows, SortKey::Name, Direction::Desc);
        assert_eq!(codes(&rows), ["D", "C", "B", "A"]);
        sort_regions(&mut rows, SortKey::Enrolled, Direction::Asc);
        assert_eq!(codes(&rows), ["B", "C", "D", "A"]);
    }

    #[test]
    fn an_entered_target_is_shared_by_register_rows() {
        let mut campaign = CampaignRow {
            id: Uuid::nil(),
            name: "x".into(),
            min_age: None,
            born_by: None,
            target_number: Some(1000),
            starts_on: date!(2026 - 11 - 01),
            deadline: date!(2026 - 12 - 31),
            created_by: "test".into(),
            created_at: 0,
            updated_at: 0,
        };
        assert_eq!(share_of_target(&campaign, 1, 3), 333);
        assert_eq!(share_of_target(&campaign, 2, 3), 667);
        assert_eq!(share_of_target(&campaign, 5, 0), 0);
        campaign.target_number = None;
        assert_eq!(share_of_target(&campaign, 2, 3), 2);
    }

    #[test]
    fn cumulative_counts_start_from_the_enrollments_before_the_start() {
        let start = date!(2026 - 11 - 01);
        let d = day_number(start);
        let points = cumulative(
            &[(d - 3, 5), (d, 2), (d + 2, -1)],
            start,
            date!(2026 - 11 - 03),
        );
        let values: Vec<_> = points.iter().map(|p| p.enrolled).collect();
        assert_eq!(values, [7, 7, 6]);
        assert_eq!(points[2].date, date!(2026 - 11 - 03));
    }

    #[test]
    fn before_the_start_there_is_only_the_baseline() {
        let start = date!(2026 - 11 - 01);
        let d = day_number(start);
        let points = cumulative(&[(d - 3, 5)], start, date!(2026 - 10 - 20));
        assert_eq!(points.len(), 1);
        assert_eq!(points[0].enrolled, 5);
    }
}
