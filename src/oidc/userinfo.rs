//! UserInfo (OIDC Core §5.3): `sub` and the consented claims, for a live
//! access token.

use serde_json::{Value, json};

use super::jwt::AccessClaims;
use super::{OAuthError, Params, Provider};
use crate::domain::client::ScopeSet;
use crate::domain::{Citizen, CitizenId, CitizenStatus};
use crate::store::GrantRow;

/// The access token of a resource request: `Authorization: Bearer`, or the
/// form's `access_token` (RFC 6750 §2.1, §2.2).
pub fn bearer_token(authorization: Option<&str>, form: Option<&Params>) -> Option<String> {
    authorization
        .and_then(|h| h.strip_prefix("Bearer ").map(|t| t.trim().to_string()))
        .or_else(|| form.and_then(|f| f.get("access_token").cloned()))
}

impl Provider {
    /// A live grant of an enabled client and its active citizen behind an
    /// access token.
    pub(super) async fn live_grant(
        &self,
        access: &AccessClaims,
    ) -> Result<Option<(GrantRow, Citizen)>, OAuthError> {
        let Some(grant) = self.store.find_grant(access.gid).await? else {
            return Ok(None);
        };
        if grant.revoked_at.is_some() {
            return Ok(None);
        }
        // A disabled app's tokens stop at once, not when they expire.
        if self
            .store
            .find_client(&grant.client_id)
            .await?
            .is_none_or(|c| c.disabled)
        {
            return Ok(None);
        }
        let Some(citizen) = self.store.find_citizen(CitizenId(grant.citizen_id)).await? else {
            return Ok(None);
        };
        if citizen.status != CitizenStatus::Active {
            return Ok(None);
        }
        Ok(Some((grant, citizen)))
    }

    /// UserInfo: `sub` and the consented claims.
    pub async fn userinfo(&self, token: Option<&str>) -> Result<Value, OAuthError> {
        let token =
            token.ok_or_else(|| OAuthError::invalid_token("A Bearer access token is required."))?;
        let access = self
            .verify_access(token)
            .await
            .ok_or_else(|| OAuthError::invalid_token("The access token is invalid or expired."))?;
        let (grant, citizen) = self
            .live_grant(&access)
            .await?
            .ok_or_else(|| OAuthError::invalid_token("The access token was revoked."))?;
        // The token's scope: the grant's, or narrower after a refresh.
        let scope = ScopeSet::parse(&access.scope).map_err(OAuthError::invalid_token)?;
        let granted = ScopeSet::parse(&grant.scope).map_err(OAuthError::invalid_token)?;
        if !scope.is_subset(&granted) {
            return Err(OAuthError::invalid_token(
                "The access token asks for more than was granted.",
            ));
        }
        let region = self
            .store
            .region_name(&citizen.region)
            .await?
            .unwrap_or_default();
        let mut body = super::claims::user_claims(
            &citizen,
            &region,
            &self.country,
            &scope,
            self.clock.now().date(),
        );
        body.insert("sub".into(), json!(access.sub));
        Ok(Value::Object(body))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_tokens() {
        let form: Params = [("access_token".to_string(), "f".to_string())].into();
        let cases = [
            (Some("Bearer abc"), None, Some("abc")),
            (Some("Bearer  abc "), None, Some("abc")),
            (Some("Bearer abc"), Some(&form), Some("abc")),
            (None, Some(&form), Some("f")),
            (Some("Basic abc"), None, None),
            (Some("bearer abc"), None, None),
            (None, None, None),
        ];
        for (header, form, expected) in cases {
            assert_eq!(
                bearer_token(header, form).as_deref(),
                expected,
                "{header:?} {form:?}"
            );
        }
    }
}
