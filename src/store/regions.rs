//! Regions.

use super::{Store, StoreError, Tx, on_pool};
use crate::domain::{Region, RegionCode};

#[derive(sqlx::FromRow)]
struct RegionRow {
    code: String,
    name: String,
    parent_code: Option<String>,
}

impl TryFrom<RegionRow> for Region {
    type Error = StoreError;
    fn try_from(row: RegionRow) -> Result<Self, StoreError> {
        let code = RegionCode::parse(&row.code).map_err(StoreError::Corrupt)?;
        let parent = row
            .parent_code
            .map(|p| RegionCode::parse(&p))
            .transpose()
            .map_err(StoreError::Corrupt)?;
        Ok(Region {
            code,
            name: row.name,
            parent,
        })
    }
}

impl Tx {
    /// Inserts a region, or renames and re-parents it.
    pub async fn upsert_region(&mut self, r: &Region) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| sqlx::query(
            "INSERT INTO regions (code, name, parent_code) VALUES ($1, $2, $3) \
             ON CONFLICT (code) DO UPDATE SET name = excluded.name, \
             parent_code = excluded.parent_code"
        )
        .bind(r.code.as_str())
        .bind(&r.name)
        .bind(r.parent.as_ref().map(RegionCode::as_str))
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}

impl Store {
    /// Inserts or renames regions; `regions` lists parents before children.
    pub async fn upsert_regions(&self, regions: &[Region]) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        for r in regions {
            tx.upsert_region(r).await?;
        }
        tx.commit().await
    }

    pub async fn count_regions(&self) -> Result<i64, StoreError> {
        let n: i64 = on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT COUNT(*) FROM regions"
        )
        .fetch_one(pool)
        .await)?;
        Ok(n)
    }

    pub async fn list_regions(&self) -> Result<Vec<Region>, StoreError> {
        let rows: Vec<RegionRow> = on_pool!(self, |pool| sqlx::query_as(
            "SELECT code, name, parent_code FROM regions ORDER BY code"
        )
        .fetch_all(pool)
        .await)?;
        rows.into_iter().map(Region::try_from).collect()
    }

    /// The name of one region.
    pub async fn region_name(&self, code: &RegionCode) -> Result<Option<String>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT name FROM regions WHERE code = $1"
        )
        .bind(code.as_str())
        .fetch_optional(pool)
        .await)?)
    }

    pub async fn region_exists(&self, code: &RegionCode) -> Result<bool, StoreError> {
        let found: Option<i32> = on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT 1 FROM regions WHERE code = $1"
        )
        .bind(code.as_str())
        .fetch_optional(pool)
        .await)?;
        Ok(found.is_some())
    }
}
