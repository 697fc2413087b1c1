//! Staff roles, invitations, and the regions a registrar covers.

use uuid::Uuid;

use std::sync::LazyLock;

use super::registrar::SCOPE_CTE;
use super::tx::TxInner;
use super::{Store, StoreError, Tx, on_pool};
use crate::domain::CitizenId;

/// A role held by a citizen; `region_code` is empty except for registrars.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct RoleRow {
    pub citizen_id: Uuid,
    pub role: String,
    pub region_code: String,
    pub granted_at: i64,
}

/// A member of staff as listed for administrators.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct StaffRow {
    pub national_id: String,
    pub given_name: String,
    pub family_name: String,
    pub role: String,
    pub region_code: String,
    pub granted_at: i64,
}

/// An invitation to a role, as stored.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct InvitationRow {
    pub token_hash: String,
    pub role: String,
    /// Comma-separated region codes (registrars only).
    pub regions: String,
    pub created_by: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub used_by: Option<Uuid>,
    /// The national ID of the one citizen who may accept it, if named.
    pub for_national_id: Option<String>,
    /// Made while nobody held the admin role.
    pub bootstrap: bool,
}

static COVERS: LazyLock<String> =
    LazyLock::new(|| format!("{SCOPE_CTE} SELECT 1 FROM scope WHERE code = $2"));

impl Tx {
    pub async fn insert_invitation(&mut self, inv: &InvitationRow) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| sqlx::query(
            "INSERT INTO staff_invitations (token_hash, role, regions, created_by, \
             created_at, expires_at, for_national_id, bootstrap) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        )
        .bind(&inv.token_hash)
        .bind(&inv.role)
        .bind(&inv.regions)
        .bind(&inv.created_by)
        .bind(inv.created_at)
        .bind(inv.expires_at)
        .bind(&inv.for_national_id)
        .bind(inv.bootstrap)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Marks an unused, unexpired invitation used by `citizen`; returns its
    /// role and regions, or `None` when it cannot be used.
    pub async fn use_invitation(
        &mut self,
        token_hash: &str,
        citizen: CitizenId,
        now: i64,
    ) -> Result<Option<(String, String)>, StoreError> {
        Ok(on_pool!(tx self, |conn| sqlx::query_as(
            "UPDATE staff_invitations SET used_at = $1, used_by = $2 \
             WHERE token_hash = $3 AND used_at IS NULL AND expires_at > $1 \
             RETURNING role, regions"
        )
        .bind(now)
        .bind(citizen.0)
        .bind(token_hash)
        .fetch_optional(&mut *conn)
        .await)?)
    }

    /// Ends every live bootstrap invitation (a new one replaces them).
    pub async fn expire_bootstrap_invitations(&mut self, now: i64) -> Result<u64, StoreError> {
        Ok(on_pool!(tx self, |conn| sqlx::query(
            "UPDATE staff_invitations SET expires_at = $1 \
             WHERE bootstrap AND used_at IS NULL AND expires_at > $1"
        )
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?)
    }

    /// Takes a role away; returns how many rows went (a registrar may hold
    /// the role for several regions: `region_code` `None` takes all).
    pub async fn revoke_role(
        &mut self,
        citizen: CitizenId,
        role: &str,
        region_code: Option<&str>,
    ) -> Result<u64, StoreError> {
        Ok(on_pool!(tx self, |conn| sqlx::query(
            "DELETE FROM staff_roles WHERE citizen_id = $1 AND role = $2 \
             AND ($3 IS NULL OR region_code = $3)"
        )
        .bind(citizen.0)
        .bind(role)
        .bind(region_code)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?)
    }

    /// The citizens holding `role`, their rows locked until this
    /// transaction ends (PostgreSQL; SQLite's `begin_write` holds the only
    /// write lock), so two changes of one role run one after the other.
    pub async fn lock_role_holders(&mut self, role: &str) -> Result<Vec<CitizenId>, StoreError> {
        let ids: Vec<Uuid> = match &mut self.0 {
            TxInner::Postgres(held) => {
                sqlx::query_scalar(
                    "SELECT citizen_id FROM staff_roles WHERE role = $1 \
                     ORDER BY citizen_id, region_code FOR UPDATE",
                )
                .bind(role)
                .fetch_all(held.conn())
                .await?
            }
            TxInner::Sqlite(held) => {
                sqlx::query_scalar("SELECT citizen_id FROM staff_roles WHERE role = $1")
                    .bind(role)
                    .fetch_all(held.conn())
                    .await?
            }
        };
        let mut out: Vec<CitizenId> = ids.into_iter().map(CitizenId).collect();
        out.dedup();
        Ok(out)
    }

    /// Grants a role (for registrars, one region; otherwise `""`); granting
    /// a role already held changes nothing.
    pub async fn grant_role(
        &mut self,
        citizen: CitizenId,
        role: &str,
        region_code: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| sqlx::query(
            "INSERT INTO staff_roles (citizen_id, role, region_code, granted_at) \
             VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING"
        )
        .bind(citizen.0)
        .bind(role)
        .bind(region_code)
        .bind(now)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }
}

impl Store {
    pub async fn roles_of(&self, citizen: CitizenId) -> Result<Vec<RoleRow>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT citizen_id, role, region_code, granted_at FROM staff_roles \
             WHERE citizen_id = $1 ORDER BY role, region_code"
        )
        .bind(citizen.0)
        .fetch_all(pool)
        .await)?)
    }

    /// Whether anyone holds `role`.
    pub async fn role_held(&self, role: &str) -> Result<bool, StoreError> {
        let found: Option<i32> = on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT 1 FROM staff_roles WHERE role = $1 LIMIT 1"
        )
        .bind(role)
        .fetch_optional(pool)
        .await)?;
        Ok(found.is_some())
    }

    /// Every role held, with the holder's name, for the staff page.
    pub async fn list_staff(&self) -> Result<Vec<StaffRow>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT c.national_id, c.given_name, c.family_name, r.role, r.region_code, \
             r.granted_at FROM staff_roles r JOIN citizens c ON c.id = r.citizen_id \
             ORDER BY c.family_name, c.given_name, r.role, r.region_code"
        )
        .fetch_all(pool)
        .await)?)
    }

    /// True when `region` is one of the citizen's registrar regions or lies
    /// beneath one.
    pub async fn registrar_covers(
        &self,
        registrar: CitizenId,
        region: &str,
    ) -> Result<bool, StoreError> {
        let found: Option<i32> = on_pool!(self, |pool| sqlx::query_scalar(COVERS.as_str())
            .bind(registrar.0)
            .bind(region)
            .fetch_optional(pool)
            .await)?;
        Ok(found.is_some())
    }

    /// When the live bootstrap invitation expires, if there is one.
    pub async fn live_bootstrap_invitation(&self, now: i64) -> Result<Option<i64>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT MAX(expires_at) FROM staff_invitations \
             WHERE bootstrap AND used_at IS NULL AND expires_at > $1"
        )
        .bind(now)
        .fetch_one(pool)
        .await)?)
    }

    pub async fn find_invitation(
        &self,
        token_hash: &str,
    ) -> Result<Option<InvitationRow>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT token_hash, role, regions, created_by, created_at, expires_at, used_at, \
             used_by, for_national_id, bootstrap FROM staff_invitations WHERE token_hash = $1"
        )
        .bind(token_hash)
        .fetch_optional(pool)
        .await)?)
    }
}
