//! The token endpoint (RFC 6749 §4.1.3, §6; RFC 7636 §4.6): codes and
//! refresh tokens exchanged for tokens.

pub mod rules;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::jwt::{ACCESS_TOKEN_TTL, AccessClaims, ID_TOKEN_TTL, IdClaims, REFRESH_TOKEN_TTL};
use super::signing::Alg;
use super::{OAuthError, Params, Provider};
use crate::domain::client::Client;
use crate::domain::{Citizen, CitizenId, CitizenStatus};
use crate::error::AppError;
use crate::secrets::{hash_secret, new_secret};
use crate::store::GrantRow;
use rules::{Refused, TokenRequest, reused_refresh_token};

impl Provider {
    /// Answers a token request.
    pub async fn token(
        &self,
        authorization: Option<&str>,
        form: &Params,
    ) -> Result<Value, OAuthError> {
        let grant_type = rules::grant_type(form)?;
        let client = self.authenticate_client(authorization, form).await?;
        let request = rules::parse(grant_type, form)?;
        let now = self.clock.unix();
        // The hash of the refresh token this request spends, if any, and the
        // scope the new access token carries.
        let mut spent = None;
        let mut scope = None;
        let with_nonce = matches!(request, TokenRequest::AuthorizationCode { .. });
        let grant = match request {
            TokenRequest::AuthorizationCode {
                code,
                code_verifier,
                redirect_uri,
            } => {
                let row = self
                    .store
                    .use_code(&hash_secret(&code), now)
                    .await?
                    .ok_or_else(|| OAuthError::invalid_grant("The code is unknown."))?;
                let checked = rules::check_code(
                    &row,
                    &client.id,
                    redirect_uri.as_deref(),
                    &code_verifier,
                    now,
                );
                self.refuse_unless(checked, row.grant_id, now).await?;
                self.store
                    .find_grant(row.grant_id)
                    .await?
                    .ok_or_else(|| OAuthError::invalid_grant("The code is unknown."))?
            }
            TokenRequest::RefreshToken {
                refresh_token,
                scope: asked,
            } => {
                let hash = hash_secret(&refresh_token);
                let unknown = || OAuthError::invalid_grant("The refresh token is unknown.");
                let known = self
                    .store
                    .find_refresh_token(&hash)
                    .await?
                    .ok_or_else(unknown)?;
                let grant = self
                    .store
                    .find_grant(known.grant_id)
                    .await?
                    .ok_or_else(unknown)?;
                // The token is spent in the same transaction that stores
                // its successor (see `issue_tokens`); here it is only checked.
                let checked = rules::check_refresh(
                    &known,
                    &grant,
                    &client.id,
                    asked.as_deref(),
                    self.grant_max_age,
                    now,
                );
                scope = Some(self.refuse_unless(checked, known.grant_id, now).await?);
                spent = Some(hash);
                grant
            }
        };
        if grant.revoked_at.is_some() {
            return Err(OAuthError::invalid_grant("This grant was revoked."));
        }
        let citizen = self
            .store
            .find_citizen(CitizenId(grant.citizen_id))
            .await?
            .ok_or_else(|| OAuthError::invalid_grant("The person no longer exists."))?;
        if citizen.status != CitizenStatus::Active {
            return Err(OAuthError::invalid_grant(
                "This identity may not be used at the moment.",
            ));
        }
        let scope = scope.unwrap_or_else(|| grant.scope.clone());
        self.issue_tokens(
            &client,
            &grant,
            &citizen,
            &scope,
            with_nonce,
            spent.as_deref(),
        )
        .await
    }

    /// Passes a check's refusal on, revoking the grant first on a replay.
    async fn refuse_unless<T>(
        &self,
        checked: Result<T, Refused>,
        grant: uuid::Uuid,
        now: i64,
    ) -> Result<T, OAuthError> {
        match checked {
            Ok(value) => Ok(value),
            Err(refused) => {
                if refused.revoke_grant {
                    self.store.revoke_grant(grant, now).await?;
                }
                Err(refused.error)
            }
        }
    }

    /// Access token (for `scope`, the grant's or narrower), ID token and
    /// (with `offline_access` granted) a refresh token that ends with the
    /// grant at the latest. A refresh grant's `spent` token is marked used in
    /// the transaction that stores its successor: one commit, and never a
    /// used token without one.
    async fn issue_tokens(
        &self,
        client: &Client,
        grant: &GrantRow,
        citizen: &Citizen,
        scope: &str,
        with_nonce: bool,
        spent: Option<&str>,
    ) -> Result<Value, OAuthError> {
        let now = self.clock.unix();
        let issuer = self.issuer.as_str().to_string();
        let sub = self.subject(client, citizen);
        let access = AccessClaims {
            iss: issuer.clone(),
            sub: sub.clone(),
            aud: issuer.clone(),
            client_id: client.id.clone(),
            exp: now + ACCESS_TOKEN_TTL,
            iat: now,
            jti: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()),
            scope: scope.to_string(),
            auth_time: grant.auth_time,
            acr: grant.acr.clone(),
            gid: grant.id,
        };
        let alg = Alg::parse(&client.id_token_alg).unwrap_or(Alg::RS256);
        let id = IdClaims {
            iss: issuer,
            sub,
            aud: client.id.clone(),
            azp: client.id.clone(),
            exp: now + ID_TOKEN_TTL,
            iat: now,
            auth_time: grant.auth_time,
            nonce: if with_nonce {
                grant.nonce.clone()
            } else {
                None
            },
            acr: grant.acr.clone(),
            amr: serde_json::from_str(&grant.amr).unwrap_or_default(),
            sid: self.session_id(client, grant.session_id),
            at_hash: None,
        };
        let (access_token, id_token) = self
            .sign_tokens(&access, alg, id)
            .await
            .map_err(|e| OAuthError::from(AppError::internal(e)))?;
        let mut body = json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": ACCESS_TOKEN_TTL,
            "id_token": id_token,
            "scope": scope,
        });
        let offline = grant.scope.split(' ').any(|s| s == "offline_access");
        match (offline, spent) {
            (true, _) => {
                let (refresh, hash) = new_secret();
                let expires = (now + REFRESH_TOKEN_TTL).min(grant.created_at + self.grant_max_age);
                let stored = match spent {
                    // The spent token and its successor in one commit: a
                    // spent token always has a successor.
                    Some(old) => {
                        let mut tx = self.store.begin().await?;
                        let spent_now = tx.spend_refresh_token(old, now).await?;
                        if spent_now {
                            tx.insert_refresh_token(&hash, grant.id, now, expires)
                                .await?;
                            tx.commit().await?;
                        }
                        spent_now
                    }
                    None => {
                        let mut conn = self.store.autocommit().await?;
                        conn.insert_refresh_token(&hash, grant.id, now, expires)
                            .await?;
                        true
                    }
                };
                if !stored {
                    // Spent by a concurrent request meanwhile: a reuse.
                    self.store.revoke_grant(grant.id, now).await?;
                    return Err(reused_refresh_token());
                }
                body["refresh_token"] = json!(refresh);
            }
            (false, Some(old)) => {
                if self
                    .store
                    .use_refresh_token(old, now)
                    .await?
                    .is_some_and(|r| r.used_at.is_some())
                {
                    self.store.revoke_grant(grant.id, now).await?;
                    return Err(reused_refresh_token());
                }
            }
            (false, None) => {}
        }
        Ok(body)
    }
}
