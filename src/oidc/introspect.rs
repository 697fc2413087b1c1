//! Token introspection (RFC 7662): whether a token is active, and what it
//! carries, told only to the token's client or to a resource server
//! registered for that client (`civitas client update --introspection-of`).

use serde_json::{Value, json};

use super::revoke::TokenParam;
use super::{OAuthError, Provider};
use crate::domain::client::Client;
use crate::domain::{CitizenId, CitizenStatus};
use crate::secrets::hash_secret;

/// Only confidential clients may introspect.
pub fn may_introspect(client: &Client) -> Result<(), OAuthError> {
    if client.is_public() {
        return Err(OAuthError::invalid_client(
            "Introspection needs a confidential client.",
        ));
    }
    Ok(())
}

impl Provider {
    /// Introspection of a refresh token or access token.
    pub async fn introspect(
        &self,
        client: &Client,
        request: &TokenParam,
    ) -> Result<Value, OAuthError> {
        let now = self.clock.unix();
        let token = request.token.as_str();
        let inactive = json!({"active": false});
        if let Some(row) = self.store.find_refresh_token(&hash_secret(token)).await? {
            let Some(grant) = self.store.find_grant(row.grant_id).await? else {
                return Ok(inactive);
            };
            let citizen = self.store.find_citizen(CitizenId(grant.citizen_id)).await?;
            let active = row.used_at.is_none()
                && row.expires_at > now
                && grant.revoked_at.is_none()
                && grant.client_id == client.id
                && citizen.is_some_and(|c| c.status == CitizenStatus::Active);
            if !active {
                return Ok(inactive);
            }
            return Ok(json!({
                "active": true,
                "token_type": "refresh_token",
                "client_id": grant.client_id,
                "scope": grant.scope,
                "exp": row.expires_at,
                "iss": self.issuer.as_str(),
            }));
        }
        let Some(access) = self.verify_access(token).await else {
            return Ok(inactive);
        };
        // Only the token's own client, or a resource server registered to
        // introspect that client's tokens, learns what a token carries.
        if access.client_id != client.id
            && !self
                .store
                .may_introspect(&client.id, &access.client_id)
                .await?
        {
            return Ok(inactive);
        }
        if self.live_grant(&access).await?.is_none() {
            return Ok(inactive);
        }
        Ok(json!({
            "active": true,
            "token_type": "Bearer",
            "client_id": access.client_id,
            "scope": access.scope,
            "sub": access.sub,
            "exp": access.exp,
            "iat": access.iat,
            "iss": access.iss,
            "aud": access.aud,
            "jti": access.jti,
            "auth_time": access.auth_time,
            "acr": access.acr,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::SubjectType;
    use crate::oidc::ErrorCode;

    #[test]
    fn only_confidential_clients_introspect() {
        let client = |secret_hash: Option<&str>| Client {
            id: "app".into(),
            name: "App".into(),
            secret_hash: secret_hash.map(str::to_string),
            redirect_uris: vec![],
            post_logout_redirect_uris: vec![],
            subject_type: SubjectType::Pairwise,
            extra_scopes: vec![],
            id_token_alg: "RS256".into(),
            disabled: false,
            created_at: 0,
        };
        assert!(may_introspect(&client(Some("hash"))).is_ok());
        assert_eq!(
            may_introspect(&client(None)).map_err(|e| e.code),
            Err(ErrorCode::InvalidClient)
        );
    }
}
