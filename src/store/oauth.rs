//! Authorization requests, grants, codes, refresh tokens, consents and the
//! access history.

use uuid::Uuid;

use super::{Store, StoreError, Tx, on_pool};

/// A pending authorization request waiting for the citizen's consent.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AuthRequestRow {
    pub client_id: String,
    pub citizen_id: Uuid,
    pub params: String,
    pub expires_at: i64,
}

/// What a citizen allowed one client, for one sign-in.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct GrantRow {
    pub id: Uuid,
    pub citizen_id: Uuid,
    pub client_id: String,
    pub scope: String,
    pub session_id: Uuid,
    pub auth_time: i64,
    pub acr: String,
    pub amr: String,
    pub nonce: Option<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
}

/// An authorization code with its grant.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CodeRow {
    pub grant_id: Uuid,
    pub client_id: String,
    pub redirect_uri: String,
    pub code_challenge: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// A refresh token row.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RefreshRow {
    pub grant_id: Uuid,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// One entry of the access history.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SignInRow {
    pub client_id: String,
    pub client_name: String,
    pub at: i64,
    pub claims: String,
}

/// A client the citizen has consented to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ConnectedApp {
    pub client_id: String,
    pub client_name: String,
    pub scope: String,
    pub granted_at: i64,
}

impl Tx {
    pub async fn insert_grant(&mut self, g: &GrantRow) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| sqlx::query(
            "INSERT INTO grants (id, citizen_id, client_id, scope, session_id, auth_time, acr, \
             amr, nonce, created_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)"
        )
        .bind(g.id)
        .bind(g.citizen_id)
        .bind(&g.client_id)
        .bind(&g.scope)
        .bind(g.session_id)
        .bind(g.auth_time)
        .bind(&g.acr)
        .bind(&g.amr)
        .bind(&g.nonce)
        .bind(g.created_at)
        .bind(g.revoked_at)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn insert_code(&mut self, code_hash: &str, code: &CodeRow) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| sqlx::query(
            "INSERT INTO authorization_codes (code_hash, grant_id, client_id, redirect_uri, \
             code_challenge, expires_at, used_at) VALUES ($1, $2, $3, $4, $5, $6, NULL)"
        )
        .bind(code_hash)
        .bind(code.grant_id)
        .bind(&code.client_id)
        .bind(&code.redirect_uri)
        .bind(&code.code_challenge)
        .bind(code.expires_at)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Adds a sign-in to an app to the citizen's access history, with the
    /// claims released (a JSON array of scopes).
    pub async fn insert_sign_in(
        &mut self,
        citizen: Uuid,
        client_id: &str,
        at: i64,
        claims: &str,
    ) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| sqlx::query(
            "INSERT INTO sign_ins (id, citizen_id, client_id, at, claims) \
             VALUES ($1, $2, $3, $4, $5)"
        )
        .bind(Uuid::new_v4())
        .bind(citizen)
        .bind(client_id)
        .bind(at)
        .bind(claims)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Revokes every grant of a citizen at a client.
    pub async fn revoke_grants_at(
        &mut self,
        citizen: Uuid,
        client_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| sqlx::query(
            "UPDATE grants SET revoked_at = $1 WHERE citizen_id = $2 AND client_id = $3 \
             AND revoked_at IS NULL"
        )
        .bind(now)
        .bind(citizen)
        .bind(client_id)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn delete_consents(
        &mut self,
        citizen: Uuid,
        client_id: &str,
    ) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| sqlx::query(
            "DELETE FROM consents WHERE citizen_id = $1 AND client_id = $2"
        )
        .bind(citizen)
        .bind(client_id)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn insert_refresh_token(
        &mut self,
        token_hash: &str,
        grant_id: Uuid,
        now: i64,
        expires_at: i64,
    ) -> Result<(), StoreError> {
        on_pool!(tx self, |conn| sqlx::query(
            "INSERT INTO refresh_tokens (token_hash, grant_id, created_at, expires_at, used_at) \
             VALUES ($1, $2, $3, $4, NULL)"
        )
        .bind(token_hash)
        .bind(grant_id)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Marks an unused refresh token used; false when it was used already.
    pub async fn spend_refresh_token(
        &mut self,
        token_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        let n = on_pool!(tx self, |conn| sqlx::query(
            "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL"
        )
        .bind(now)
        .bind(token_hash)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }
}

impl Store {
    pub async fn insert_auth_request(
        &self,
        id_hash: &str,
        r: &AuthRequestRow,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
            "INSERT INTO authorization_requests (id_hash, client_id, citizen_id, params, expires_at) \
             VALUES ($1, $2, $3, $4, $5)"
        )
        .bind(id_hash)
        .bind(&r.client_id)
        .bind(r.citizen_id)
        .bind(&r.params)
        .bind(r.expires_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    /// Removes and returns a pending authorization request.
    pub async fn take_auth_request(
        &self,
        id_hash: &str,
    ) -> Result<Option<AuthRequestRow>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "DELETE FROM authorization_requests WHERE id_hash = $1 \
             RETURNING client_id, citizen_id, params, expires_at"
        )
        .bind(id_hash)
        .fetch_optional(pool)
        .await)?)
    }

    /// Marks a code used and returns it; `None` when unknown. A code that
    /// was already used comes back with `used_at` set and stays used.
    pub async fn use_code(&self, code_hash: &str, now: i64) -> Result<Option<CodeRow>, StoreError> {
        let fresh: Option<CodeRow> = on_pool!(self, |pool| {
            sqlx::query_as(
            "UPDATE authorization_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL \
             RETURNING grant_id, client_id, redirect_uri, code_challenge, expires_at, CAST(NULL AS BIGINT) AS used_at"
        )
        .bind(now)
        .bind(code_hash)
        .fetch_optional(pool)
        .await
        })?;
        if fresh.is_some() {
            return Ok(fresh);
        }
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT grant_id, client_id, redirect_uri, code_challenge, expires_at, used_at \
             FROM authorization_codes WHERE code_hash = $1"
        )
        .bind(code_hash)
        .fetch_optional(pool)
        .await)?)
    }

    pub async fn find_grant(&self, id: Uuid) -> Result<Option<GrantRow>, StoreError> {
        const SQL: &str = "SELECT id, citizen_id, client_id, scope, session_id, auth_time, acr, amr, \
             nonce, created_at, revoked_at FROM grants WHERE id = $1";
        Ok(on_pool!(self, |pool| sqlx::query_as(SQL)
            .bind(id)
            .fetch_optional(pool)
            .await)?)
    }

    /// Revokes a grant: its refresh tokens stop working and its access tokens
    /// are reported inactive.
    pub async fn revoke_grant(&self, id: Uuid, now: i64) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "UPDATE grants SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL"
        )
        .bind(now)
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    /// Marks a refresh token used; like `use_code`, an already-used token
    /// comes back with `used_at` set.
    pub async fn use_refresh_token(
        &self,
        token_hash: &str,
        now: i64,
    ) -> Result<Option<RefreshRow>, StoreError> {
        let fresh: Option<RefreshRow> = on_pool!(self, |pool| sqlx::query_as(
            "UPDATE refresh_tokens SET used_at = $1 WHERE token_hash = $2 AND used_at IS NULL \
             RETURNING grant_id, expires_at, CAST(NULL AS BIGINT) AS used_at"
        )
        .bind(now)
        .bind(token_hash)
        .fetch_optional(pool)
        .await)?;
        if fresh.is_some() {
            return Ok(fresh);
        }
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT grant_id, expires_at, used_at FROM refresh_tokens WHERE token_hash = $1"
        )
        .bind(token_hash)
        .fetch_optional(pool)
        .await)?)
    }

    /// The refresh token's grant without using it (revocation, introspection).
    pub async fn find_refresh_token(
        &self,
        token_hash: &str,
    ) -> Result<Option<RefreshRow>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT grant_id, expires_at, used_at FROM refresh_tokens WHERE token_hash = $1"
        )
        .bind(token_hash)
        .fetch_optional(pool)
        .await)?)
    }

    pub async fn has_consent(
        &self,
        citizen: Uuid,
        client_id: &str,
        scope: &str,
    ) -> Result<bool, StoreError> {
        let found: Option<i32> = on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT 1 FROM consents WHERE citizen_id = $1 AND client_id = $2 AND scope = $3"
        )
        .bind(citizen)
        .bind(client_id)
        .bind(scope)
        .fetch_optional(pool)
        .await)?;
        Ok(found.is_some())
    }

    pub async fn insert_consent(
        &self,
        citizen: Uuid,
        client_id: &str,
        scope: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
            "INSERT INTO consents (citizen_id, client_id, scope, granted_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (citizen_id, client_id, scope) DO UPDATE SET granted_at = excluded.granted_at"
        )
        .bind(citizen)
        .bind(client_id)
        .bind(scope)
        .bind(now)
        .execute(pool)
        .await
        .map(|r| r.rows_affected())
        })?;
        Ok(())
    }

    pub async fn connected_apps(&self, citizen: Uuid) -> Result<Vec<ConnectedApp>, StoreError> {
        Ok(on_pool!(self, |pool| {
            sqlx::query_as(
            "SELECT c.client_id, k.name AS client_name, c.scope, c.granted_at FROM consents c \
             JOIN clients k ON k.id = c.client_id WHERE c.citizen_id = $1 ORDER BY c.granted_at DESC"
        )
        .bind(citizen)
        .fetch_all(pool)
        .await
        })?)
    }

    pub async fn recent_sign_ins(
        &self,
        citizen: Uuid,
        limit: i64,
    ) -> Result<Vec<SignInRow>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_as(
            "SELECT s.client_id, k.name AS client_name, s.at, s.claims FROM sign_ins s \
             JOIN clients k ON k.id = s.client_id WHERE s.citizen_id = $1 \
             ORDER BY s.at DESC LIMIT $2"
        )
        .bind(citizen)
        .bind(limit)
        .fetch_all(pool)
        .await)?)
    }
}
