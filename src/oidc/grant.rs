//! The token endpoint (RFC 6749 §4.1.3, §6; RFC 7636 §4.6), UserInfo,
//! revocation (RFC 7009) and introspection (RFC 7662).

use std::collections::HashMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use uuid::Uuid;

use super::clients::secret_matches;
use super::jwt::{ACCESS_TOKEN_TTL, AccessClaims, ID_TOKEN_TTL, IdClaims, REFRESH_TOKEN_TTL};
use super::signing::Alg;
use super::{OAuthError, claims};
use crate::domain::client::{Client, ScopeSet};
use crate::domain::{CitizenId, CitizenStatus};
use crate::secrets::{hash_secret, new_secret};
use crate::startup::AppState;
use crate::store::GrantRow;

fn param<'a>(p: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    p.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

/// Authenticates the client: `client_secret_basic`, `client_secret_post`,
/// or `none` for public clients.
pub async fn authenticate_client(
    state: &AppState,
    authorization: Option<&str>,
    form: &HashMap<String, String>,
) -> Result<Client, OAuthError> {
    let basic = authorization
        .and_then(|h| h.strip_prefix("Basic "))
        .map(|b64| {
            let decoded = STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok());
            decoded.and_then(|text| {
                let (id, secret) = text.split_once(':')?;
                let dec = |s: &str| {
                    url::form_urlencoded::parse(format!("x={s}").as_bytes())
                        .next()
                        .map(|(_, v)| v.into_owned())
                };
                Some((dec(id)?, dec(secret)?))
            })
        });
    let (client_id, secret) = match (basic, param(form, "client_secret")) {
        (Some(Some(_)), Some(_)) => {
            return Err(OAuthError::invalid_request(
                "Use one client authentication method, not two.",
            ));
        }
        (Some(None), _) => {
            return Err(OAuthError::invalid_client(
                "The Authorization header is not valid Basic credentials.",
            ));
        }
        (Some(Some((id, secret))), None) => (id, Some(secret)),
        (None, secret) => {
            let id = param(form, "client_id")
                .ok_or_else(|| OAuthError::invalid_client("Client authentication is required."))?;
            (id.to_string(), secret.map(str::to_string))
        }
    };
    if let Some(form_id) = param(form, "client_id")
        && form_id != client_id
    {
        return Err(OAuthError::invalid_request(
            "client_id does not match the authenticated client.",
        ));
    }
    let client = state
        .store
        .find_client(&client_id)
        .await?
        .filter(|c| !c.disabled)
        .ok_or_else(|| OAuthError::invalid_client("Unknown or disabled client."))?;
    match (client.is_public(), secret) {
        (true, None) => Ok(client),
        (true, Some(_)) => Err(OAuthError::invalid_client(
            "This public client has no secret.",
        )),
        (false, Some(s)) if secret_matches(&client, &s) => Ok(client),
        (false, _) => Err(OAuthError::invalid_client("Client authentication failed.")),
    }
}

/// `base64url(SHA-256(verifier)) == challenge`, with the verifier's form checked.
fn pkce_ok(verifier: &str, challenge: &str) -> bool {
    let well_formed = (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    well_formed
        && bool::from(subtle::ConstantTimeEq::ct_eq(
            URL_SAFE_NO_PAD.encode(digest).as_bytes(),
            challenge.as_bytes(),
        ))
}

/// The token endpoint.
pub async fn token(
    state: &AppState,
    authorization: Option<&str>,
    form: &HashMap<String, String>,
) -> Result<Value, OAuthError> {
    let grant_type = param(form, "grant_type")
        .ok_or_else(|| OAuthError::invalid_request("grant_type is missing."))?;
    if !matches!(grant_type, "authorization_code" | "refresh_token") {
        return Err(OAuthError::new(
            "unsupported_grant_type",
            "Only authorization_code and refresh_token grants are supported.",
        ));
    }
    let client = authenticate_client(state, authorization, form).await?;
    let now = state.clock.unix();
    // The hash of the refresh token this request spends, if any.
    let mut spent = None;
    let grant = match grant_type {
        "authorization_code" => {
            let code = param(form, "code")
                .ok_or_else(|| OAuthError::invalid_request("code is missing."))?;
            let verifier = param(form, "code_verifier").ok_or_else(|| {
                OAuthError::invalid_request("code_verifier is missing (PKCE is required).")
            })?;
            let row = state
                .store
                .use_code(&hash_secret(code), now)
                .await?
                .ok_or_else(|| OAuthError::invalid_grant("The code is unknown."))?;
            if row.used_at.is_some() {
                // A replayed code: revoke everything issued from it.
                state.store.revoke_grant(row.grant_id, now).await?;
                return Err(OAuthError::invalid_grant(
                    "The code was already used; the tokens issued from it are revoked.",
                ));
            }
            if row.expires_at <= now {
                return Err(OAuthError::invalid_grant("The code has expired."));
            }
            if row.client_id != client.id {
                return Err(OAuthError::invalid_grant(
                    "The code was issued to another client.",
                ));
            }
            if param(form, "redirect_uri") != Some(row.redirect_uri.as_str()) {
                return Err(OAuthError::invalid_grant(
                    "redirect_uri does not match the authorization request.",
                ));
            }
            if !pkce_ok(verifier, &row.code_challenge) {
                return Err(OAuthError::invalid_grant(
                    "The PKCE code_verifier does not match the code_challenge.",
                ));
            }
            state
                .store
                .find_grant(row.grant_id)
                .await?
                .ok_or_else(|| OAuthError::invalid_grant("The code is unknown."))?
        }
        _ => {
            let token = param(form, "refresh_token")
                .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing."))?;
            let hash = hash_secret(token);
            // Check ownership before using the token, so another client
            // presenting it cannot burn the rightful client's token.
            let known = state
                .store
                .find_refresh_token(&hash)
                .await?
                .ok_or_else(|| OAuthError::invalid_grant("The refresh token is unknown."))?;
            let grant = state
                .store
                .find_grant(known.grant_id)
                .await?
                .ok_or_else(|| OAuthError::invalid_grant("The refresh token is unknown."))?;
            if grant.client_id != client.id {
                return Err(OAuthError::invalid_grant(
                    "The refresh token was issued to another client.",
                ));
            }
            // The token is spent in the same transaction that stores its
            // successor (see `issue_tokens`); here it is only checked.
            if known.used_at.is_some() {
                // Reuse of a rotated token: the family is compromised.
                state.store.revoke_grant(known.grant_id, now).await?;
                return Err(reused_refresh_token());
            }
            if known.expires_at <= now {
                return Err(OAuthError::invalid_grant("The refresh token has expired."));
            }
            if let Some(asked) = param(form, "scope") {
                let asked =
                    ScopeSet::parse(asked).map_err(|e| OAuthError::new("invalid_scope", e))?;
                let granted = ScopeSet::parse(&grant.scope)
                    .map_err(|e| OAuthError::new("invalid_scope", e))?;
                if !asked.is_subset(&granted) {
                    return Err(OAuthError::new(
                        "invalid_scope",
                        "A refresh cannot widen the granted scope.",
                    ));
                }
            }
            spent = Some(hash);
            grant
        }
    };
    if grant.revoked_at.is_some() {
        return Err(OAuthError::invalid_grant("This grant was revoked."));
    }
    let citizen = state
        .store
        .find_citizen(CitizenId(grant.citizen_id))
        .await?
        .ok_or_else(|| OAuthError::invalid_grant("The person no longer exists."))?;
    if citizen.status != CitizenStatus::Active {
        return Err(OAuthError::invalid_grant(
            "This identity may not be used at the moment.",
        ));
    }
    issue_tokens(
        state,
        &client,
        &grant,
        &citizen,
        grant_type == "authorization_code",
        spent.as_deref(),
    )
    .await
}

fn reused_refresh_token() -> OAuthError {
    OAuthError::invalid_grant(
        "The refresh token was already used; the session with this app is revoked.",
    )
}

/// Access token, ID token and (with `offline_access`) a refresh token. A
/// refresh grant's `spent` token is marked used in the transaction that
/// stores its successor: one commit, and never a used token without one.
async fn issue_tokens(
    state: &AppState,
    client: &Client,
    grant: &GrantRow,
    citizen: &crate::domain::Citizen,
    with_nonce: bool,
    spent: Option<&str>,
) -> Result<Value, OAuthError> {
    let provider = &state.provider;
    let now = state.clock.unix();
    let issuer = state.settings.issuer.as_str().to_string();
    let sub = claims::subject(&provider.pairwise_secret, client, citizen);
    let internal = |e: anyhow::Error| OAuthError::from(crate::error::AppError::internal(e));
    let access = AccessClaims {
        iss: issuer.clone(),
        sub: sub.clone(),
        aud: issuer.clone(),
        client_id: client.id.clone(),
        exp: now + ACCESS_TOKEN_TTL,
        iat: now,
        jti: URL_SAFE_NO_PAD.encode(rand::random::<[u8; 16]>()),
        scope: grant.scope.clone(),
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
        sid: grant.session_id.to_string(),
        at_hash: None,
    };
    let (access_token, id_token) = provider
        .sign_tokens(state, &access, alg, id)
        .await
        .map_err(internal)?;
    let mut body = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ACCESS_TOKEN_TTL,
        "id_token": id_token,
        "scope": grant.scope,
    });
    let offline = grant.scope.split(' ').any(|s| s == "offline_access");
    match (offline, spent) {
        (true, _) => {
            let (refresh, hash) = new_secret();
            let expires = now + REFRESH_TOKEN_TTL;
            let stored = match spent {
                // The spent token and its successor in one commit: a spent
                // token always has a successor.
                Some(old) => {
                    let mut tx = state.store.begin().await?;
                    let spent_now = tx.spend_refresh_token(old, now).await?;
                    if spent_now {
                        tx.insert_refresh_token(&hash, grant.id, now, expires)
                            .await?;
                        tx.commit().await?;
                    }
                    spent_now
                }
                None => {
                    let mut conn = state.store.autocommit().await?;
                    conn.insert_refresh_token(&hash, grant.id, now, expires)
                        .await?;
                    true
                }
            };
            if !stored {
                // Spent by a concurrent request meanwhile: a reuse.
                state.store.revoke_grant(grant.id, now).await?;
                return Err(reused_refresh_token());
            }
            body["refresh_token"] = json!(refresh);
        }
        (false, Some(old)) => {
            if state
                .store
                .use_refresh_token(old, now)
                .await?
                .is_some_and(|r| r.used_at.is_some())
            {
                state.store.revoke_grant(grant.id, now).await?;
                return Err(reused_refresh_token());
            }
        }
        (false, None) => {}
    }
    Ok(body)
}

/// A live grant and its active citizen behind an access token.
async fn live_grant(
    state: &AppState,
    access: &AccessClaims,
) -> Result<Option<(GrantRow, crate::domain::Citizen)>, OAuthError> {
    let Some(grant) = state.store.find_grant(access.gid).await? else {
        return Ok(None);
    };
    if grant.revoked_at.is_some() {
        return Ok(None);
    }
    let Some(citizen) = state
        .store
        .find_citizen(CitizenId(grant.citizen_id))
        .await?
    else {
        return Ok(None);
    };
    if citizen.status != CitizenStatus::Active {
        return Ok(None);
    }
    Ok(Some((grant, citizen)))
}

/// UserInfo: `sub` and the consented claims.
pub async fn userinfo(state: &AppState, token: Option<&str>) -> Result<Value, OAuthError> {
    let provider = &state.provider;
    let token =
        token.ok_or_else(|| OAuthError::invalid_token("A Bearer access token is required."))?;
    let access = provider
        .verify_access(state, token)
        .await
        .ok_or_else(|| OAuthError::invalid_token("The access token is invalid or expired."))?;
    let (grant, citizen) = live_grant(state, &access)
        .await?
        .ok_or_else(|| OAuthError::invalid_token("The access token was revoked."))?;
    let scope = ScopeSet::parse(&grant.scope).map_err(OAuthError::invalid_token)?;
    let region = state
        .store
        .region_name(&citizen.region)
        .await?
        .unwrap_or_default();
    let mut body = claims::user_claims(
        &citizen,
        &region,
        &provider.country,
        &scope,
        state.clock.now().date(),
    );
    body.insert("sub".into(), json!(access.sub));
    Ok(Value::Object(body))
}

/// Revocation: a refresh token or access token ends its grant. Unknown
/// tokens are not an error (RFC 7009 §2.2).
pub async fn revoke(state: &AppState, client: &Client, token: &str) -> Result<(), OAuthError> {
    let now = state.clock.unix();
    let grant_id: Option<Uuid> =
        if let Some(row) = state.store.find_refresh_token(&hash_secret(token)).await? {
            Some(row.grant_id)
        } else {
            state
                .provider
                .verify_access(state, token)
                .await
                .map(|a| a.gid)
        };
    if let Some(id) = grant_id
        && let Some(grant) = state.store.find_grant(id).await?
    {
        // RFC 7009 §2.1: a client may revoke only its own tokens.
        if grant.client_id != client.id {
            return Err(OAuthError::invalid_request(
                "This token was issued to another client.",
            ));
        }
        state.store.revoke_grant(id, now).await?;
    }
    Ok(())
}

/// Introspection: whether a token is active, and what it carries.
pub async fn introspect(
    state: &AppState,
    client: &Client,
    token: &str,
) -> Result<Value, OAuthError> {
    let now = state.clock.unix();
    let inactive = json!({"active": false});
    if let Some(row) = state.store.find_refresh_token(&hash_secret(token)).await? {
        let Some(grant) = state.store.find_grant(row.grant_id).await? else {
            return Ok(inactive);
        };
        let citizen = state
            .store
            .find_citizen(CitizenId(grant.citizen_id))
            .await?;
        let active = row.used_at.is_none()
            && row.expires_at > now
            && grant.revoked_at.is_none()
            && grant.client_id == client.id
            && citizen.is_some_and(|c| c.status == CitizenStatus::Active);
        if !active {
            return Ok(inactive);
        }
        return Ok(
            json!({"active": true, "token_type": "refresh_token", "client_id": grant.client_id, "scope": grant.scope, "exp": row.expires_at, "iss": state.settings.issuer.as_str()}),
        );
    }
    let Some(access) = state.provider.verify_access(state, token).await else {
        return Ok(inactive);
    };
    if live_grant(state, &access).await?.is_none() {
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
