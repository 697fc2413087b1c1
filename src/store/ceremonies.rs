//! WebAuthn ceremonies in flight: stored under a hashed id with an expiry, so
//! any server instance can finish one, and taken (deleted) before
//! verification, so each finishes at most once.

use uuid::Uuid;

use super::{Store, StoreError, on_pool};

/// A ceremony as stored.
#[derive(Debug, sqlx::FromRow)]
pub struct CeremonyRow {
    pub kind: String,
    pub state: String,
    pub payload: String,
    pub citizen_id: Option<Uuid>,
    pub expires_at: i64,
}

/// What `take_ceremony` found.
#[derive(Debug)]
pub enum Taken {
    Found(CeremonyRow),
    /// A ceremony with this id exists but belongs to another flow; it is left
    /// in place.
    OtherKind,
    Missing,
}

impl Store {
    /// Stores a new ceremony (expired ones are swept, see `sweep_expired`).
    pub async fn insert_ceremony(
        &self,
        id_hash: &str,
        row: &CeremonyRow,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO ceremonies (id_hash, kind, state, payload, citizen_id, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(id_hash)
            .bind(&row.kind)
            .bind(&row.state)
            .bind(&row.payload)
            .bind(row.citizen_id)
            .bind(row.expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Removes and returns the ceremony if it is of `kind`.
    pub async fn take_ceremony(&self, id_hash: &str, kind: &str) -> Result<Taken, StoreError> {
        let taken: Option<CeremonyRow> = on_pool!(self, |pool| sqlx::query_as(
            "DELETE FROM ceremonies WHERE id_hash = $1 AND kind = $2 \
             RETURNING kind, state, payload, citizen_id, expires_at"
        )
        .bind(id_hash)
        .bind(kind)
        .fetch_optional(pool)
        .await)?;
        if let Some(row) = taken {
            return Ok(Taken::Found(row));
        }
        let other: Option<i32> = on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT 1 FROM ceremonies WHERE id_hash = $1"
        )
        .bind(id_hash)
        .fetch_optional(pool)
        .await)?;
        Ok(if other.is_some() {
            Taken::OtherKind
        } else {
            Taken::Missing
        })
    }
}
