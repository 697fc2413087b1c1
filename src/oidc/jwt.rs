//! ID tokens (OIDC Core §2), JWT access tokens (RFC 9068) and their checks.

use jsonwebtoken::{DecodingKey, Header, Validation, decode, decode_header};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::Provider;
use super::signing::{Alg, half_hash};

/// Access tokens and ID tokens live ten minutes.
pub const ACCESS_TOKEN_TTL: i64 = 600;
pub const ID_TOKEN_TTL: i64 = 600;
/// Refresh tokens (with `offline_access`) live thirty days, rotated on use.
pub const REFRESH_TOKEN_TTL: i64 = 30 * 24 * 3600;

/// Access tokens are signed with ES256: cheap to sign and verify.
pub const ACCESS_TOKEN_ALG: Alg = Alg::ES256;

#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub client_id: String,
    pub exp: i64,
    pub iat: i64,
    pub jti: String,
    pub scope: String,
    pub auth_time: i64,
    pub acr: String,
    /// The grant this token belongs to (revocation, consent withdrawal).
    pub gid: Uuid,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct IdClaims {
    pub iss: String,
    pub sub: String,
    pub aud: String,
    pub azp: String,
    pub exp: i64,
    pub iat: i64,
    pub auth_time: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    pub acr: String,
    pub amr: Vec<String>,
    pub sid: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
}

impl Provider {
    /// Signs one token response: the access token (ES256) and the ID token
    /// (`id_alg`, with the access token's `at_hash`), reading which keys are
    /// active once for both.
    pub async fn sign_tokens(
        &self,
        access: &AccessClaims,
        id_alg: Alg,
        mut id: IdClaims,
    ) -> anyhow::Result<(String, String)> {
        let [access_key, id_key] = self
            .keys
            .signers(
                &self.store,
                &self.master,
                [ACCESS_TOKEN_ALG, id_alg],
                self.clock.unix(),
            )
            .await?;
        let access_token = access_key.sign("at+jwt", access)?;
        id.at_hash = Some(half_hash(id_alg, &access_token));
        let id_token = id_key.sign("JWT", &id)?;
        Ok((access_token, id_token))
    }

    /// Verifies a token we signed: known kid, matching algorithm, our issuer.
    /// `check_exp` is false for `id_token_hint`, which may have expired.
    async fn verify<T: for<'de> Deserialize<'de>>(
        &self,
        token: &str,
        typ: Option<&str>,
        check_exp: bool,
    ) -> Option<T> {
        let header = decode_header(token).ok()?;
        let now = self.clock.unix();
        let kid = header.kid.as_deref()?;
        let key = self
            .keys
            .verifier(&self.store, &self.master, kid, now)
            .await
            .ok()??;
        let expiry = check_exp.then_some(now);
        check(&key, &header, token, self.issuer.as_str(), typ, expiry)
    }

    /// A valid, unexpired access token's claims.
    pub async fn verify_access(&self, token: &str) -> Option<AccessClaims> {
        self.verify(token, Some("at+jwt"), true).await
    }

    /// An ID token we issued (expired or not), for `id_token_hint`.
    pub async fn verify_id_hint(&self, token: &str) -> Option<IdClaims> {
        self.verify(token, Some("jwt"), false).await
    }
}

/// Checks a token against its verification key: the header's `typ` and
/// `alg`, the signature, our issuer and, with `expiry_at`, that it has not
/// expired by then (the application clock, not the system's). Needs no
/// database, so the cost of a verification can be measured alone.
pub fn check<T: for<'de> Deserialize<'de>>(
    key: &(Alg, DecodingKey),
    header: &Header,
    token: &str,
    issuer: &str,
    typ: Option<&str>,
    expiry_at: Option<i64>,
) -> Option<T> {
    if let Some(typ) = typ
        && !header
            .typ
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case(typ))
    {
        return None;
    }
    let (alg, decoding) = key;
    if header.alg != alg.jwt() {
        return None;
    }
    let mut validation = Validation::new(alg.jwt());
    validation.set_issuer(&[issuer]);
    validation.validate_aud = false;
    validation.validate_exp = false;
    validation.required_spec_claims.clear();
    let data = decode::<serde_json::Value>(token, decoding, &validation).ok()?;
    if let Some(now) = expiry_at
        && data
            .claims
            .get("exp")
            .and_then(serde_json::Value::as_i64)
            .is_none_or(|exp| exp <= now)
    {
        return None;
    }
    serde_json::from_value(data.claims).ok()
}
