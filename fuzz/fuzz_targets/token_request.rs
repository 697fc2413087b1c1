//! The `/token` request: its `Authorization` header (the input's first
//! line) and its form body (the rest), parsed into the typed request and
//! checked against a stored code and refresh token as the endpoint does.
//! The revocation, introspection and UserInfo forms are read the same way.
#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use civitas::oidc::client_auth::parse_credentials;
use civitas::oidc::revoke::TokenParam;
use civitas::oidc::token::rules::{self, TokenRequest};
use civitas::oidc::userinfo::bearer_token;
use civitas::oidc::{OAuthError, Params};
use civitas::store::{CodeRow, GrantRow, RefreshRow};
use libfuzzer_sys::fuzz_target;
use uuid::Uuid;

const CLIENT: &str = "tax-office";
const REDIRECT_URI: &str = "https://tax.example.gov/callback";
/// The seeds' verifier, 43 characters.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const NOW: i64 = 1_780_000_000;

fn is_client_error(e: &OAuthError) -> bool {
    e.code.status().is_client_error()
}

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (&[][..], data),
    };
    let authorization = std::str::from_utf8(header).ok().filter(|h| !h.is_empty());
    // What `web::Form<Params>` does with the body.
    let Ok(form) = serde_urlencoded::from_bytes::<Params>(body) else {
        return;
    };
    if let Err(e) = parse_credentials(authorization, &form) {
        assert!(is_client_error(&e));
    }
    let _ = TokenParam::parse(&form);
    let _ = bearer_token(authorization, Some(&form));
    let grant = match rules::grant_type(&form) {
        Ok(grant) => grant,
        Err(e) => return assert!(is_client_error(&e)),
    };
    let request = match rules::parse(grant, &form) {
        Ok(request) => request,
        Err(e) => return assert!(is_client_error(&e)),
    };
    let challenge = URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        VERIFIER.as_bytes(),
    ));
    match request {
        TokenRequest::AuthorizationCode {
            code_verifier,
            redirect_uri,
            ..
        } => {
            let row = CodeRow {
                grant_id: Uuid::nil(),
                client_id: CLIENT.into(),
                redirect_uri: REDIRECT_URI.into(),
                code_challenge: challenge,
                expires_at: NOW + 60,
                used_at: None,
            };
            let checked =
                rules::check_code(&row, CLIENT, redirect_uri.as_deref(), &code_verifier, NOW);
            if let Err(refused) = checked {
                assert!(is_client_error(&refused.error));
            }
        }
        TokenRequest::RefreshToken { scope, .. } => {
            let row = RefreshRow {
                grant_id: Uuid::nil(),
                expires_at: NOW + 60,
                used_at: None,
            };
            let grant = GrantRow {
                id: Uuid::nil(),
                citizen_id: Uuid::nil(),
                client_id: CLIENT.into(),
                scope: "openid profile offline_access".into(),
                session_id: Uuid::nil(),
                auth_time: NOW - 60,
                acr: "urn:civitas:loa:1".into(),
                amr: "[\"user\"]".into(),
                nonce: None,
                created_at: NOW - 60,
                revoked_at: None,
            };
            match rules::check_refresh(&row, &grant, CLIENT, scope.as_deref(), 86_400, NOW) {
                // Never wider than the grant.
                Ok(granted) => assert!(
                    granted
                        .split(' ')
                        .all(|s| grant.scope.split(' ').any(|g| g == s))
                ),
                Err(refused) => assert!(is_client_error(&refused.error)),
            }
        }
    }
});
