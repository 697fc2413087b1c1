//! Enrollment campaigns and their counters. The counters themselves are
//! kept by database triggers on `citizens` (migration 0006), inside the
//! transaction of every enrollment and lifecycle change; this module sets a
//! campaign's scope, builds its counters once when the scope is set, and
//! reads them back.

use std::sync::LazyLock;

use time::Date;
use uuid::Uuid;

use super::tx::TxInner;
use super::{Store, StoreError, Tx, on_pool};

/// A campaign as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CampaignRow {
    pub id: Uuid,
    pub name: String,
    pub min_age: Option<i32>,
    pub born_by: Option<Date>,
    pub target_number: Option<i64>,
    pub starts_on: Date,
    pub deadline: Date,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One region of a campaign's scope, as written.
#[derive(Debug, Clone)]
pub struct ScopeRegion {
    pub code: String,
    /// Chosen by the administrator (not only a sub-region of one).
    pub root: bool,
    /// `/TOP/…/CODE/`.
    pub path: String,
}

/// One region of a campaign's scope, with its name and parent.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CampaignRegionRow {
    pub region_code: String,
    pub name: String,
    pub parent_code: Option<String>,
    pub root: bool,
    pub path: String,
    pub register_rows: i64,
}

/// A region's counters: enrolled now and in the rate window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RegionCount {
    pub enrolled: i64,
    pub in_window: i64,
}

/// A register row in scope that no citizen has claimed yet.
#[derive(Debug, Clone, sqlx::FromRow, serde::Serialize)]
pub struct PendingRow {
    pub register_ref: String,
    pub given_name: String,
    pub family_name: String,
    #[serde(with = "crate::domain::citizen::iso_date")]
    pub birth_date: Date,
    pub region_code: String,
    pub phone: Option<String>,
}

const CAMPAIGN_COLUMNS: &str = "SELECT id, name, min_age, born_by, target_number, starts_on, \
     deadline, created_by, created_at, updated_at FROM campaigns";

static ALL_CAMPAIGNS: LazyLock<String> =
    LazyLock::new(|| format!("{CAMPAIGN_COLUMNS} ORDER BY deadline, name"));
static CAMPAIGN_BY_ID: LazyLock<String> =
    LazyLock::new(|| format!("{CAMPAIGN_COLUMNS} WHERE id = $1"));

const UNIX_EPOCH_JULIAN_DAY: i64 = 2_440_588;

/// The UTC day number the counters use.
pub fn day_number(d: Date) -> i64 {
    i64::from(d.to_julian_day()) - UNIX_EPOCH_JULIAN_DAY
}

/// The date of a counter's day number.
pub fn day_date(day: i64) -> Option<Date> {
    i32::try_from(day + UNIX_EPOCH_JULIAN_DAY)
        .ok()
        .and_then(|j| Date::from_julian_day(j).ok())
}

/// PostgreSQL: a scope being built must see every enrollment exactly once.
/// Holding these locks, in-flight enrollments that already counted
/// themselves commit before the build reads, and later ones wait and then
/// count themselves into the new scope. Register imports take the first one
/// too. (SQLite has a single writer: `begin_write` is enough.)
const SCOPE_LOCK_PG: &str =
    "LOCK TABLE campaign_regions, campaign_counts IN SHARE ROW EXCLUSIVE MODE";

impl Tx {
    /// Holds campaign scopes still until this transaction ends (see
    /// `SCOPE_LOCK_PG`); begun with `begin_write`, which is the whole lock
    /// on SQLite.
    pub async fn lock_campaign_scopes(&mut self) -> Result<(), StoreError> {
        if let TxInner::Postgres(held) = &mut self.0 {
            sqlx::query(SCOPE_LOCK_PG).execute(held.conn()).await?;
        }
        Ok(())
    }

    pub async fn insert_campaign(&mut self, c: &CampaignRow) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| sqlx::query(
            "INSERT INTO campaigns (id, name, min_age, born_by, target_number, starts_on, \
             deadline, created_by, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        )
        .bind(c.id)
        .bind(&c.name)
        .bind(c.min_age)
        .bind(c.born_by)
        .bind(c.target_number)
        .bind(c.starts_on)
        .bind(c.deadline)
        .bind(&c.created_by)
        .bind(c.created_at)
        .bind(c.updated_at)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Changes a campaign's fields; false if it is gone.
    pub async fn update_campaign(&mut self, c: &CampaignRow) -> Result<bool, StoreError> {
        let n = on_pool!(tx self, |conn| sqlx::query(
            "UPDATE campaigns SET name = $1, min_age = $2, born_by = $3, target_number = $4, \
             starts_on = $5, deadline = $6, updated_at = $7 WHERE id = $8"
        )
        .bind(&c.name)
        .bind(c.min_age)
        .bind(c.born_by)
        .bind(c.target_number)
        .bind(c.starts_on)
        .bind(c.deadline)
        .bind(c.updated_at)
        .bind(c.id)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// Writes the scope of campaign `id` and builds its counters: the
    /// register rows in each region and the citizens enrolled so far. Call
    /// it holding `lock_campaign_scopes`.
    pub async fn build_campaign_scope(
        &mut self,
        id: Uuid,
        regions: &[ScopeRegion],
        born_by: Option<Date>,
    ) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| {
            sqlx::query("DELETE FROM campaign_counts WHERE campaign_id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
            sqlx::query("DELETE FROM campaign_regions WHERE campaign_id = $1")
                .bind(id)
                .execute(&mut *conn)
                .await?;
            // Each region's register rows: one range of the region index
            // per region (a single correlated UPDATE made PostgreSQL scan
            // the whole register once per region).
            for r in regions {
                let rows: i64 = match born_by {
                    None => {
                        sqlx::query_scalar(
                            "SELECT COUNT(*) FROM register_entries WHERE region_code = $1",
                        )
                        .bind(&r.code)
                        .fetch_one(&mut *conn)
                        .await?
                    }
                    Some(born_by) => {
                        sqlx::query_scalar(
                            "SELECT COUNT(*) FROM register_entries \
                             WHERE region_code = $1 AND birth_date <= $2",
                        )
                        .bind(&r.code)
                        .bind(born_by)
                        .fetch_one(&mut *conn)
                        .await?
                    }
                };
                sqlx::query(
                    "INSERT INTO campaign_regions (campaign_id, region_code, root, path, \
                     register_rows) VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(id)
                .bind(&r.code)
                .bind(r.root)
                .bind(&r.path)
                .bind(rows)
                .execute(&mut *conn)
                .await?;
            }
            // Without a cohort the region counters hold the whole history;
            // a cohort needs the birth dates, read once here. Pages and the
            // progress API only ever read the counters built now.
            let counts = if born_by.is_some() {
                "INSERT INTO campaign_counts (campaign_id, region_code, day, enrolled) \
                 SELECT cr.campaign_id, ci.region_code, ci.created_at / 86400, COUNT(*) \
                 FROM citizens ci JOIN campaign_regions cr ON cr.region_code = ci.region_code \
                 JOIN campaigns c ON c.id = cr.campaign_id \
                 WHERE cr.campaign_id = $1 AND ci.status IN ('active', 'suspended') \
                 AND ci.birth_date <= c.born_by \
                 GROUP BY cr.campaign_id, ci.region_code, ci.created_at / 86400"
            } else {
                "INSERT INTO campaign_counts (campaign_id, region_code, day, enrolled) \
                 SELECT cr.campaign_id, ec.region_code, ec.day, ec.enrolled \
                 FROM enrollment_counts ec JOIN campaign_regions cr \
                 ON cr.region_code = ec.region_code WHERE cr.campaign_id = $1"
            };
            sqlx::query(counts)
                .bind(id)
                .execute(&mut *conn)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(())
    }
}

impl Store {
    pub async fn list_campaigns(&self) -> Result<Vec<CampaignRow>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            ALL_CAMPAIGNS.as_str()
        )
        .fetch_all(pool)
        .await)?)
    }

    pub async fn find_campaign(&self, id: Uuid) -> Result<Option<CampaignRow>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            CAMPAIGN_BY_ID.as_str()
        )
        .bind(id)
        .fetch_optional(pool)
        .await)?)
    }

    /// Every region in a campaign's scope, parents before children.
    pub async fn campaign_regions(&self, id: Uuid) -> Result<Vec<CampaignRegionRow>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT cr.region_code, r.name, r.parent_code, cr.root, cr.path, cr.register_rows \
             FROM campaign_regions cr JOIN regions r ON r.code = cr.region_code \
             WHERE cr.campaign_id = $1 ORDER BY cr.path"
        )
        .bind(id)
        .fetch_all(pool)
        .await)?)
    }

    /// Each region's enrolled count up to and including `today`, and its net
    /// enrollments on the days `[from, until)`.
    pub async fn campaign_region_counts(
        &self,
        id: Uuid,
        today: Date,
        window: (Date, Date),
    ) -> Result<Vec<(String, RegionCount)>, StoreError> {
        let rows: Vec<(String, i64, i64)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT region_code, CAST(SUM(enrolled) AS BIGINT), \
             CAST(SUM(CASE WHEN day >= $2 AND day < $3 THEN enrolled ELSE 0 END) AS BIGINT) \
             FROM campaign_counts WHERE campaign_id = $1 AND day <= $4 GROUP BY region_code"
        )
        .bind(id)
        .bind(day_number(window.0))
        .bind(day_number(window.1))
        .bind(day_number(today))
        .fetch_all(pool)
        .await)?;
        Ok(rows
            .into_iter()
            .map(|(code, enrolled, in_window)| {
                (
                    code,
                    RegionCount {
                        enrolled,
                        in_window,
                    },
                )
            })
            .collect())
    }

    /// Net enrollments per day, up to and including `today`, in the regions
    /// whose path starts with `path` (`/` for the whole scope). Paths are
    /// region codes, which hold no LIKE wildcards.
    pub async fn campaign_daily(
        &self,
        id: Uuid,
        path: &str,
        today: Date,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT cc.day, CAST(SUM(cc.enrolled) AS BIGINT) FROM campaign_counts cc \
             JOIN campaign_regions cr ON cr.campaign_id = cc.campaign_id \
             AND cr.region_code = cc.region_code \
             WHERE cc.campaign_id = $1 AND cr.path LIKE $2 AND cc.day <= $3 \
             GROUP BY cc.day ORDER BY cc.day"
        )
        .bind(id)
        .bind(format!("{path}%"))
        .bind(day_number(today))
        .fetch_all(pool)
        .await)?)
    }

    /// Register rows in scope, in the cohort and not yet claimed by a
    /// citizen, under `path`, after `(region, register_ref)`, in that order.
    /// Read region by region, each a range of the unclaimed-rows index, so a
    /// page of a small region does not wade through the others.
    pub async fn pending_register_rows(
        &self,
        id: Uuid,
        path: &str,
        after: Option<(&str, &str)>,
        limit: i64,
    ) -> Result<Vec<PendingRow>, StoreError> {
        let mut regions: Vec<(String, Option<Date>)> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT cr.region_code, c.born_by FROM campaign_regions cr \
             JOIN campaigns c ON c.id = cr.campaign_id \
             WHERE cr.campaign_id = $1 AND cr.path LIKE $2 AND cr.register_rows > 0"
        )
        .bind(id)
        .bind(format!("{path}%"))
        .fetch_all(pool)
        .await)?;
        // Byte order, the same on both backends whatever their collation.
        regions.sort();
        let mut out: Vec<PendingRow> = Vec::new();
        for (region, born_by) in regions {
            let from = match after {
                Some((r, _)) if region.as_str() < r => continue,
                Some((r, reference)) if region.as_str() == r => reference,
                _ => "",
            };
            let wanted = limit - out.len() as i64;
            if wanted <= 0 {
                break;
            }
            let rows: Vec<PendingRow> = match born_by {
                None => on_pool!(self, |pool| sqlx::query_as(
                    "SELECT register_ref, given_name, family_name, birth_date, region_code, \
                     phone FROM register_entries WHERE region_code = $1 \
                     AND citizen_id IS NULL AND register_ref > $2 \
                     ORDER BY register_ref LIMIT $3"
                )
                .bind(&region)
                .bind(from)
                .bind(wanted)
                .fetch_all(pool)
                .await)?,
                Some(born_by) => on_pool!(self, |pool| sqlx::query_as(
                    "SELECT register_ref, given_name, family_name, birth_date, region_code, \
                     phone FROM register_entries WHERE region_code = $1 \
                     AND citizen_id IS NULL AND register_ref > $2 AND birth_date <= $3 \
                     ORDER BY register_ref LIMIT $4"
                )
                .bind(&region)
                .bind(from)
                .bind(born_by)
                .bind(wanted)
                .fetch_all(pool)
                .await)?,
            };
            out.extend(rows);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn day_numbers_are_utc_days_since_the_epoch() {
        assert_eq!(day_number(date!(1970 - 01 - 01)), 0);
        // 2026-11-28T00:00:00Z is 1,795,824,000 seconds after the epoch.
        assert_eq!(day_number(date!(2026 - 11 - 28)), 1_795_824_000 / 86_400);
        assert_eq!(day_date(20_785), Some(date!(2026 - 11 - 28)));
    }
}
