//! The token request as a typed value (RFC 6749 §4.1.3, §6), and the rules
//! a stored code or refresh token must meet (RFC 7636 §4.6), free of
//! storage and HTTP so they can be tested as tables.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::domain::client::ScopeSet;
use crate::oidc::{ErrorCode, OAuthError, Params, param};
use crate::store::{CodeRow, GrantRow, RefreshRow};

/// The grant types the token endpoint serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantType {
    AuthorizationCode,
    RefreshToken,
}

/// The grant type of a token request. Checked before the client is
/// authenticated; the grant's own parameters after.
pub fn grant_type(form: &Params) -> Result<GrantType, OAuthError> {
    match param(form, "grant_type") {
        None => Err(OAuthError::invalid_request("grant_type is missing.")),
        Some("authorization_code") => Ok(GrantType::AuthorizationCode),
        Some("refresh_token") => Ok(GrantType::RefreshToken),
        Some(_) => Err(OAuthError::new(
            ErrorCode::UnsupportedGrantType,
            "Only authorization_code and refresh_token grants are supported.",
        )),
    }
}

/// A token request, one variant per grant type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenRequest {
    AuthorizationCode {
        code: String,
        code_verifier: String,
        redirect_uri: Option<String>,
    },
    RefreshToken {
        refresh_token: String,
        /// As sent; checked against the grant (`check_refresh`).
        scope: Option<String>,
    },
}

/// The parameters of a `grant` request.
pub fn parse(grant: GrantType, form: &Params) -> Result<TokenRequest, OAuthError> {
    let text = |name: &str| param(form, name).map(str::to_string);
    match grant {
        GrantType::AuthorizationCode => {
            let code =
                text("code").ok_or_else(|| OAuthError::invalid_request("code is missing."))?;
            let code_verifier = text("code_verifier").ok_or_else(|| {
                OAuthError::invalid_request("code_verifier is missing (PKCE is required).")
            })?;
            Ok(TokenRequest::AuthorizationCode {
                code,
                code_verifier,
                redirect_uri: text("redirect_uri"),
            })
        }
        GrantType::RefreshToken => Ok(TokenRequest::RefreshToken {
            refresh_token: text("refresh_token")
                .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing."))?,
            scope: text("scope"),
        }),
    }
}

/// Why a stored code or refresh token may not be used.
#[derive(Debug)]
pub struct Refused {
    pub error: OAuthError,
    /// A replay: everything issued from the grant must be revoked.
    pub revoke_grant: bool,
}

impl From<OAuthError> for Refused {
    fn from(error: OAuthError) -> Self {
        Self {
            error,
            revoke_grant: false,
        }
    }
}

/// `base64url(SHA-256(verifier)) == challenge`, with the verifier's form
/// checked (43 to 128 unreserved characters).
pub fn pkce_ok(verifier: &str, challenge: &str) -> bool {
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

/// Whether the code (as just marked used) may be exchanged by `client_id`.
pub fn check_code(
    row: &CodeRow,
    client_id: &str,
    redirect_uri: Option<&str>,
    verifier: &str,
    now: i64,
) -> Result<(), Refused> {
    if row.used_at.is_some() {
        return Err(Refused {
            error: OAuthError::invalid_grant(
                "The code was already used; the tokens issued from it are revoked.",
            ),
            revoke_grant: true,
        });
    }
    if row.expires_at <= now {
        return Err(OAuthError::invalid_grant("The code has expired.").into());
    }
    if row.client_id != client_id {
        return Err(OAuthError::invalid_grant("The code was issued to another client.").into());
    }
    if redirect_uri != Some(row.redirect_uri.as_str()) {
        return Err(OAuthError::invalid_grant(
            "redirect_uri does not match the authorization request.",
        )
        .into());
    }
    if !pkce_ok(verifier, &row.code_challenge) {
        return Err(OAuthError::invalid_grant(
            "The PKCE code_verifier does not match the code_challenge.",
        )
        .into());
    }
    Ok(())
}

/// The error for a refresh token used twice.
pub fn reused_refresh_token() -> OAuthError {
    OAuthError::invalid_grant(
        "The refresh token was already used; the session with this app is revoked.",
    )
}

/// Whether the refresh token may be used by `client_id`, asking for
/// `scope` (at most the granted scope), while the grant is younger than
/// `grant_max_age` seconds. Ownership comes first, so another client
/// presenting the token cannot burn the rightful client's token. Returns
/// the scope the new access token carries: the one asked for, or the grant's.
pub fn check_refresh(
    row: &RefreshRow,
    grant: &GrantRow,
    client_id: &str,
    scope: Option<&str>,
    grant_max_age: i64,
    now: i64,
) -> Result<String, Refused> {
    if grant.client_id != client_id {
        return Err(
            OAuthError::invalid_grant("The refresh token was issued to another client.").into(),
        );
    }
    if row.used_at.is_some() {
        // Reuse of a rotated token: the family is compromised.
        return Err(Refused {
            error: reused_refresh_token(),
            revoke_grant: true,
        });
    }
    if row.expires_at <= now {
        return Err(OAuthError::invalid_grant("The refresh token has expired.").into());
    }
    if now >= grant.created_at + grant_max_age {
        return Err(OAuthError::invalid_grant(
            "The sign-in to this app has reached its maximum age; the person must sign in again.",
        )
        .into());
    }
    let Some(asked) = scope else {
        return Ok(grant.scope.clone());
    };
    let asked = ScopeSet::parse(asked).map_err(OAuthError::invalid_scope)?;
    let granted = ScopeSet::parse(&grant.scope).map_err(OAuthError::invalid_scope)?;
    if !asked.is_subset(&granted) {
        return Err(OAuthError::invalid_scope("A refresh cannot widen the granted scope.").into());
    }
    if asked.is_empty() {
        return Ok(grant.scope.clone());
    }
    Ok(asked.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::Uuid;

    const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn form(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn grant_types() {
        let cases = [
            ("", Err(ErrorCode::InvalidRequest)),
            ("authorization_code", Ok(GrantType::AuthorizationCode)),
            ("refresh_token", Ok(GrantType::RefreshToken)),
            ("client_credentials", Err(ErrorCode::UnsupportedGrantType)),
            ("password", Err(ErrorCode::UnsupportedGrantType)),
            ("Authorization_Code", Err(ErrorCode::UnsupportedGrantType)),
        ];
        for (value, expected) in cases {
            let got = grant_type(&form(&[("grant_type", value)])).map_err(|e| e.code);
            assert_eq!(got, expected, "grant_type {value:?}");
        }
    }

    #[test]
    fn grant_parameters() {
        use GrantType::*;
        let code = |redirect: Option<&str>| {
            Ok(TokenRequest::AuthorizationCode {
                code: "c".into(),
                code_verifier: VERIFIER.into(),
                redirect_uri: redirect.map(str::to_string),
            })
        };
        let cases = [
            (
                "code grant",
                AuthorizationCode,
                form(&[
                    ("code", "c"),
                    ("code_verifier", VERIFIER),
                    ("redirect_uri", "https://a/cb"),
                ]),
                code(Some("https://a/cb")),
            ),
            (
                "code grant without redirect_uri",
                AuthorizationCode,
                form(&[("code", "c"), ("code_verifier", VERIFIER)]),
                code(None),
            ),
            (
                "no code",
                AuthorizationCode,
                form(&[("code_verifier", VERIFIER)]),
                Err(ErrorCode::InvalidRequest),
            ),
            (
                "empty code",
                AuthorizationCode,
                form(&[("code", ""), ("code_verifier", VERIFIER)]),
                Err(ErrorCode::InvalidRequest),
            ),
            (
                "no verifier",
                AuthorizationCode,
                form(&[("code", "c")]),
                Err(ErrorCode::InvalidRequest),
            ),
            (
                "refresh",
                RefreshToken,
                form(&[("refresh_token", "r"), ("scope", "openid")]),
                Ok(TokenRequest::RefreshToken {
                    refresh_token: "r".into(),
                    scope: Some("openid".into()),
                }),
            ),
            (
                "no refresh token",
                RefreshToken,
                form(&[]),
                Err(ErrorCode::InvalidRequest),
            ),
        ];
        for (case, grant, form, expected) in cases {
            assert_eq!(
                parse(grant, &form).map_err(|e| e.code),
                expected,
                "case {case}"
            );
        }
    }

    #[test]
    fn pkce_verifiers() {
        assert!(pkce_ok(VERIFIER, CHALLENGE), "RFC 7636 appendix B");
        assert!(!pkce_ok(&VERIFIER.replace('d', "e"), CHALLENGE));
        assert!(!pkce_ok("short", CHALLENGE));
        assert!(!pkce_ok(&"a".repeat(129), CHALLENGE));
        assert!(!pkce_ok(&format!("{VERIFIER}!"), CHALLENGE));
        assert!(!pkce_ok(VERIFIER, ""));
    }

    fn code_row() -> CodeRow {
        CodeRow {
            grant_id: Uuid::nil(),
            client_id: "app".into(),
            redirect_uri: "https://app.example/cb".into(),
            code_challenge: CHALLENGE.into(),
            expires_at: 100,
            used_at: None,
        }
    }

    #[test]
    fn codes() {
        let ok_uri = Some("https://app.example/cb");
        let used = CodeRow {
            used_at: Some(50),
            ..code_row()
        };
        let cases = [
            ("valid", code_row(), "app", ok_uri, VERIFIER, 99, None),
            ("replayed", used, "app", ok_uri, VERIFIER, 99, Some(true)),
            (
                "expired",
                code_row(),
                "app",
                ok_uri,
                VERIFIER,
                100,
                Some(false),
            ),
            (
                "another client",
                code_row(),
                "other",
                ok_uri,
                VERIFIER,
                99,
                Some(false),
            ),
            (
                "no redirect_uri",
                code_row(),
                "app",
                None,
                VERIFIER,
                99,
                Some(false),
            ),
            (
                "another redirect_uri",
                code_row(),
                "app",
                Some("https://app.example/other"),
                VERIFIER,
                99,
                Some(false),
            ),
            (
                "wrong verifier",
                code_row(),
                "app",
                ok_uri,
                &CHALLENGE[..43],
                99,
                Some(false),
            ),
        ];
        for (case, row, client, uri, verifier, now, refused) in cases {
            let got = check_code(&row, client, uri, verifier, now);
            assert_eq!(
                got.as_ref().err().map(|r| r.revoke_grant),
                refused,
                "case {case}"
            );
            if let Err(r) = got {
                assert_eq!(r.error.code, ErrorCode::InvalidGrant, "case {case}");
            }
        }
    }

    fn grant(scope: &str) -> GrantRow {
        GrantRow {
            id: Uuid::nil(),
            citizen_id: Uuid::nil(),
            client_id: "app".into(),
            scope: scope.into(),
            session_id: Uuid::nil(),
            auth_time: 0,
            acr: String::new(),
            amr: "[]".into(),
            nonce: None,
            created_at: 0,
            revoked_at: None,
        }
    }

    #[test]
    fn a_narrower_scope_is_what_the_new_token_carries() {
        let fresh = RefreshRow {
            grant_id: Uuid::nil(),
            expires_at: 100,
            used_at: None,
        };
        let g = grant("offline_access openid profile");
        let scope = |asked| check_refresh(&fresh, &g, "app", asked, 1000, 99).unwrap();
        assert_eq!(scope(None), "offline_access openid profile");
        assert_eq!(scope(Some("openid")), "openid");
        assert_eq!(scope(Some("profile openid")), "openid profile");
        assert_eq!(scope(Some(" ")), "offline_access openid profile");
    }

    #[test]
    fn refresh_tokens_and_scope() {
        use ErrorCode::*;
        let fresh = RefreshRow {
            grant_id: Uuid::nil(),
            expires_at: 100,
            used_at: None,
        };
        let used = RefreshRow {
            used_at: Some(1),
            ..fresh.clone()
        };
        let granted = "offline_access openid profile";
        const DAY: i64 = 86_400;
        let cases = [
            ("valid", &fresh, "app", None, 99, None),
            ("same scope", &fresh, "app", Some(granted), 99, None),
            ("narrower scope", &fresh, "app", Some("openid"), 99, None),
            (
                "wider scope",
                &fresh,
                "app",
                Some("openid address"),
                99,
                Some((InvalidScope, false)),
            ),
            (
                "malformed scope",
                &fresh,
                "app",
                Some("openid \"x\""),
                99,
                Some((InvalidScope, false)),
            ),
            (
                "another client",
                &fresh,
                "other",
                None,
                99,
                Some((InvalidGrant, false)),
            ),
            (
                "another client, used",
                &used,
                "other",
                None,
                99,
                Some((InvalidGrant, false)),
            ),
            ("reused", &used, "app", None, 99, Some((InvalidGrant, true))),
            (
                "expired",
                &fresh,
                "app",
                None,
                100,
                Some((InvalidGrant, false)),
            ),
        ];
        for (case, row, client, scope, now, expected) in cases {
            let got = check_refresh(row, &grant(granted), client, scope, 90 * DAY, now)
                .err()
                .map(|r| (r.error.code, r.revoke_grant));
            assert_eq!(got, expected, "case {case}");
        }
        let old = RefreshRow {
            expires_at: 200 * DAY,
            ..fresh.clone()
        };
        let past_max_age = check_refresh(&old, &grant(granted), "app", None, 90 * DAY, 90 * DAY);
        assert_eq!(
            past_max_age.err().map(|r| (r.error.code, r.revoke_grant)),
            Some((InvalidGrant, false)),
            "a grant past its maximum age"
        );
    }
}
