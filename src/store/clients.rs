//! Relying-party clients.

use super::{Store, StoreError, on_pool};
use crate::domain::client::{Client, SubjectType};

#[derive(sqlx::FromRow)]
struct ClientRow {
    id: String,
    name: String,
    secret_hash: Option<String>,
    redirect_uris: String,
    post_logout_redirect_uris: String,
    subject_type: String,
    extra_scopes: String,
    id_token_alg: String,
    disabled: bool,
    created_at: i64,
}

fn list(text: &str) -> Result<Vec<String>, StoreError> {
    serde_json::from_str(text).map_err(|e| StoreError::Corrupt(format!("client list: {e}")))
}

fn list_text(items: &[String]) -> String {
    serde_json::Value::from(items.to_vec()).to_string()
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;
    fn try_from(r: ClientRow) -> Result<Self, StoreError> {
        Ok(Client {
            subject_type: SubjectType::parse(&r.subject_type)
                .ok_or_else(|| StoreError::Corrupt(format!("client {}: subject type", r.id)))?,
            redirect_uris: list(&r.redirect_uris)?,
            post_logout_redirect_uris: list(&r.post_logout_redirect_uris)?,
            extra_scopes: list(&r.extra_scopes)?,
            id: r.id,
            name: r.name,
            secret_hash: r.secret_hash,
            id_token_alg: r.id_token_alg,
            disabled: r.disabled,
            created_at: r.created_at,
        })
    }
}

impl Store {
    pub async fn insert_client(&self, c: &Client) -> Result<(), StoreError> {
        on_pool!(self, |pool| sqlx::query(
            "INSERT INTO clients (id, name, secret_hash, redirect_uris, post_logout_redirect_uris, \
             subject_type, extra_scopes, id_token_alg, disabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
        )
        .bind(&c.id)
        .bind(&c.name)
        .bind(&c.secret_hash)
        .bind(list_text(&c.redirect_uris))
        .bind(list_text(&c.post_logout_redirect_uris))
        .bind(c.subject_type.as_str())
        .bind(list_text(&c.extra_scopes))
        .bind(&c.id_token_alg)
        .bind(c.disabled)
        .bind(c.created_at)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(())
    }

    pub async fn find_client(&self, id: &str) -> Result<Option<Client>, StoreError> {
        // No client id holds a NUL, and PostgreSQL cannot even compare one.
        if id.contains('\0') {
            return Ok(None);
        }
        const SQL: &str = "SELECT id, name, secret_hash, redirect_uris, post_logout_redirect_uris, \
             subject_type, extra_scopes, id_token_alg, disabled, created_at FROM clients WHERE id = $1";
        let row: Option<ClientRow> = on_pool!(self, |pool| sqlx::query_as(SQL)
            .bind(id)
            .fetch_optional(pool)
            .await)?;
        row.map(Client::try_from).transpose()
    }

    pub async fn list_clients(&self) -> Result<Vec<Client>, StoreError> {
        const SQL: &str = "SELECT id, name, secret_hash, redirect_uris, post_logout_redirect_uris, \
             subject_type, extra_scopes, id_token_alg, disabled, created_at FROM clients \
             ORDER BY created_at, id";
        let rows: Vec<ClientRow> =
            on_pool!(self, |pool| sqlx::query_as(SQL).fetch_all(pool).await)?;
        rows.into_iter().map(Client::try_from).collect()
    }

    pub async fn set_client_disabled(&self, id: &str, disabled: bool) -> Result<bool, StoreError> {
        let n = on_pool!(self, |pool| sqlx::query(
            "UPDATE clients SET disabled = $1 WHERE id = $2"
        )
        .bind(disabled)
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    pub async fn set_client_secret_hash(&self, id: &str, hash: &str) -> Result<bool, StoreError> {
        let n = on_pool!(self, |pool| sqlx::query(
            "UPDATE clients SET secret_hash = $1 WHERE id = $2 AND secret_hash IS NOT NULL"
        )
        .bind(hash)
        .bind(id)
        .execute(pool)
        .await
        .map(|r| r.rows_affected()))?;
        Ok(n == 1)
    }

    /// The clients whose tokens `resource_server` may introspect.
    pub async fn introspection_targets(
        &self,
        resource_server: &str,
    ) -> Result<Vec<String>, StoreError> {
        Ok(on_pool!(self, |pool| sqlx::query_scalar(
            "SELECT client_id FROM client_introspectors WHERE resource_server_id = $1 \
             ORDER BY client_id"
        )
        .bind(resource_server)
        .fetch_all(pool)
        .await)?)
    }

    /// Whether `resource_server` may introspect the tokens of `client`.
    pub async fn may_introspect(
        &self,
        resource_server: &str,
        client: &str,
    ) -> Result<bool, StoreError> {
        let found: Option<i32> = on_pool!(self, |pool| {
            sqlx::query_scalar(
            "SELECT 1 FROM client_introspectors WHERE resource_server_id = $1 AND client_id = $2"
        )
        .bind(resource_server)
        .bind(client)
        .fetch_optional(pool)
        .await
        })?;
        Ok(found.is_some())
    }

    /// Replaces the clients whose tokens `resource_server` may introspect.
    pub async fn set_introspection_targets(
        &self,
        resource_server: &str,
        clients: &[String],
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        on_pool!(tx tx, |conn| sqlx::query(
            "DELETE FROM client_introspectors WHERE resource_server_id = $1"
        )
        .bind(resource_server)
        .execute(&mut *conn)
        .await
        .map(|r| r.rows_affected()))?;
        for client in clients {
            on_pool!(tx tx, |conn| sqlx::query(
                "INSERT INTO client_introspectors (client_id, resource_server_id) \
                 VALUES ($1, $2) ON CONFLICT DO NOTHING"
            )
            .bind(client)
            .bind(resource_server)
            .execute(&mut *conn)
            .await
            .map(|r| r.rows_affected()))?;
        }
        tx.commit().await
    }
}
