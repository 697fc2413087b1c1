//! The provider metadata (OpenID Connect Discovery 1.0): a function of the
//! issuer alone, so it is built once at start-up.

use serde_json::{Value, json};

use super::{ACR_LEVEL_1, ACR_LEVEL_2};
use crate::domain::client::{RESTRICTED_SCOPES, STANDARD_SCOPES};

/// Every endpoint and capability Civitas supports, for `issuer`.
pub fn document(issuer: &str) -> Value {
    let mut scopes: Vec<&str> = STANDARD_SCOPES.to_vec();
    scopes.extend(RESTRICTED_SCOPES);
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/authorize"),
        "token_endpoint": format!("{issuer}/token"),
        "userinfo_endpoint": format!("{issuer}/userinfo"),
        "jwks_uri": format!("{issuer}/jwks.json"),
        "end_session_endpoint": format!("{issuer}/end_session"),
        "revocation_endpoint": format!("{issuer}/revoke"),
        "introspection_endpoint": format!("{issuer}/introspect"),
        "scopes_supported": scopes,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code", "refresh_token"],
        "subject_types_supported": ["pairwise", "public"],
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "revocation_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": ["sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid", "at_hash", "name", "given_name", "family_name", "birthdate", "address", "age_over_18", "age_over_21", "national_id"],
        "acr_values_supported": [ACR_LEVEL_1, ACR_LEVEL_2],
        "prompt_values_supported": ["none", "login", "consent", "select_account"],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "require_request_uri_registration": false,
        "authorization_response_iss_parameter_supported": true,
        "ui_locales_supported": ["en"],
    })
}
