//! Token revocation (RFC 7009): a refresh token or access token ends its
//! grant.

use super::{OAuthError, Params, Provider, param};
use crate::domain::CitizenId;
use crate::domain::client::Client;
use crate::secrets::hash_secret;
use crate::store::StoreError;

/// What a revocation or introspection request names (RFC 7009 §2.1,
/// RFC 7662 §2.1; `token_type_hint` is optional and not needed: Civitas
/// tells its tokens apart).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenParam {
    pub token: String,
}

impl TokenParam {
    pub fn parse(form: &Params) -> Result<Self, OAuthError> {
        param(form, "token")
            .map(|t| Self {
                token: t.to_string(),
            })
            .ok_or_else(|| OAuthError::invalid_request("token is missing."))
    }
}

impl Provider {
    /// Revokes the grant behind `token`. Unknown tokens are not an error
    /// (RFC 7009 §2.2); another client's are (§2.1).
    pub async fn revoke(&self, client: &Client, request: &TokenParam) -> Result<(), OAuthError> {
        let now = self.clock.unix();
        let token = request.token.as_str();
        let grant_id = match self.store.find_refresh_token(&hash_secret(token)).await? {
            Some(row) => Some(row.grant_id),
            None => self.verify_access(token).await.map(|a| a.gid),
        };
        if let Some(id) = grant_id
            && let Some(grant) = self.store.find_grant(id).await?
        {
            if grant.client_id != client.id {
                return Err(OAuthError::invalid_request(
                    "This token was issued to another client.",
                ));
            }
            self.store.revoke_grant(id, now).await?;
        }
        Ok(())
    }

    /// A citizen withdraws an app: its consents go and its grants are
    /// revoked at once, together.
    pub async fn withdraw_consent(
        &self,
        citizen: CitizenId,
        client_id: &str,
    ) -> Result<(), StoreError> {
        let mut tx = self.store.begin().await?;
        tx.revoke_grants_at(citizen.0, client_id, self.clock.unix())
            .await?;
        tx.delete_consents(citizen.0, client_id).await?;
        tx.commit().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oidc::ErrorCode;

    #[test]
    fn the_token_parameter() {
        let form = |pairs: &[(&str, &str)]| -> Params {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(
            TokenParam::parse(&form(&[
                ("token", "t"),
                ("token_type_hint", "refresh_token")
            ]))
            .unwrap()
            .token,
            "t"
        );
        for (case, f) in [
            ("missing", form(&[])),
            ("empty", form(&[("token", "")])),
            ("hint only", form(&[("token_type_hint", "access_token")])),
        ] {
            let got = TokenParam::parse(&f).map_err(|e| e.code);
            assert_eq!(got, Err(ErrorCode::InvalidRequest), "case {case}");
        }
    }
}
