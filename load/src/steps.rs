//! The requests of a citizen's journey (enrollment, passkey sign-in) and of
//! a relying party (authorization with PKCE, consent, token, userinfo), as a
//! browser and an app send them. The load generator and the integration
//! tests both build their requests here; each sends them and judges the
//! answers its own way (the load generator counts failures, the tests
//! assert).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use reqwest::{Client, IntoUrl, RequestBuilder};
use serde_json::{Value, json};

/// Starts enrolling a new citizen with a new passkey.
pub const ENROLLMENT_START: &str = "/api/v1/enrollment/start";
/// Finishes an enrollment with the authenticator's attestation.
pub const ENROLLMENT_FINISH: &str = "/api/v1/enrollment/finish";
/// Starts a usernameless passkey sign-in.
pub const LOGIN_START: &str = "/api/v1/login/start";
/// Finishes a sign-in with the authenticator's assertion.
pub const LOGIN_FINISH: &str = "/api/v1/login/finish";
/// The session cookie that enrollment and sign-in set (with an http issuer).
pub const SESSION_COOKIE: &str = "civitas_session";
/// The same with an https issuer.
pub const SECURE_SESSION_COOKIE: &str = "__Host-civitas_session";

/// The body that finishes a ceremony: the id the start step gave and the
/// authenticator's answer to its `publicKey` options.
pub fn ceremony_answer(started: &Value, credential: Value) -> Value {
    json!({"ceremony_id": started["ceremony_id"], "credential": credential})
}

/// A PKCE verifier and its S256 challenge.
pub fn pkce() -> (String, String) {
    let verifier = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>());
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    (verifier, URL_SAFE_NO_PAD.encode(digest))
}

/// The query of an authorization-code request with PKCE (S256).
pub fn authorize_params<'a>(
    client_id: &'a str,
    redirect_uri: &'a str,
    scope: &'a str,
    state: &'a str,
    nonce: &'a str,
    code_challenge: &'a str,
) -> Vec<(&'static str, &'a str)> {
    vec![
        ("client_id", client_id),
        ("redirect_uri", redirect_uri),
        ("response_type", "code"),
        ("scope", scope),
        ("state", state),
        ("nonce", nonce),
        ("code_challenge", code_challenge),
        ("code_challenge_method", "S256"),
    ]
}

/// The `request_id` of the consent page's form.
pub fn consent_request_id(page: &str) -> Option<&str> {
    let marker = "name=\"request_id\" value=\"";
    let start = page.find(marker)? + marker.len();
    let end = page[start..].find('"')?;
    Some(&page[start..start + end])
}

/// `POST /authorize/consent`: the citizen's `decision` ("allow", "deny")
/// on the consent request `request_id`.
pub fn consent(
    http: &Client,
    url: impl IntoUrl,
    request_id: &str,
    decision: &str,
) -> RequestBuilder {
    http.post(url)
        .form(&[("request_id", request_id), ("decision", decision)])
}

/// The token request form of an authorization-code grant.
pub fn code_grant<'a>(
    code: &'a str,
    redirect_uri: &'a str,
    code_verifier: &'a str,
) -> [(&'static str, &'a str); 4] {
    [
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", redirect_uri),
        ("code_verifier", code_verifier),
    ]
}

/// The token request form of a refresh-token grant.
pub fn refresh_grant(refresh_token: &str) -> [(&'static str, &str); 2] {
    [
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ]
}

/// `POST /token` with `form`, as a confidential client (client_secret_basic)
/// or, without a secret, as a public client (`client_id` in the form).
pub fn token(
    http: &Client,
    url: impl IntoUrl,
    client_id: &str,
    client_secret: Option<&str>,
    form: &[(&str, &str)],
) -> RequestBuilder {
    let mut fields = form.to_vec();
    let request = match client_secret {
        Some(secret) => http.post(url).basic_auth(client_id, Some(secret)),
        None => {
            fields.push(("client_id", client_id));
            http.post(url)
        }
    };
    request.form(&fields)
}

/// `GET /userinfo` with an access token.
pub fn userinfo(http: &Client, url: impl IntoUrl, access_token: &str) -> RequestBuilder {
    http.get(url).bearer_auth(access_token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pkce_challenge_is_the_verifiers_sha256() {
        let (verifier, challenge) = pkce();
        assert_eq!(verifier.len(), 43);
        let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
        assert_eq!(challenge, URL_SAFE_NO_PAD.encode(digest));
    }

    #[test]
    fn the_consent_request_id_is_read_from_the_form() {
        let page = r#"<form><input type="hidden" name="request_id" value="r-42"></form>"#;
        assert_eq!(consent_request_id(page), Some("r-42"));
        assert_eq!(consent_request_id("<p>no form</p>"), None);
    }
}
