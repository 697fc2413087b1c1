//! Client authentication at the token, revocation and introspection
//! endpoints (RFC 6749 §2.3): `client_secret_basic`, `client_secret_post`,
//! or `none` for public clients.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::clients::secret_matches;
use super::{OAuthError, Params, Provider, param};
use crate::domain::client::Client;

/// Who a request says it comes from, and the secret it shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub client_id: String,
    pub secret: Option<String>,
}

/// The credentials of a request: from the `Authorization: Basic` header or
/// from the form, never both.
pub fn parse_credentials(
    authorization: Option<&str>,
    form: &Params,
) -> Result<ClientCredentials, OAuthError> {
    let basic = authorization
        .and_then(|h| h.strip_prefix("Basic "))
        .map(decode_basic);
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
    Ok(ClientCredentials { client_id, secret })
}

/// `id:secret` from a Basic header value, each part form-urlencoded
/// (RFC 6749 §2.3.1).
fn decode_basic(b64: &str) -> Option<(String, String)> {
    let text = STANDARD
        .decode(b64.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok())?;
    let (id, secret) = text.split_once(':')?;
    let decode = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
    };
    Some((decode(id)?, decode(secret)?))
}

/// The client, if `credentials` authenticate it: an enabled client, with
/// its secret when confidential and without one when public.
pub fn check_credentials(
    client: Option<Client>,
    credentials: ClientCredentials,
) -> Result<Client, OAuthError> {
    let client = client
        .filter(|c| !c.disabled)
        .ok_or_else(|| OAuthError::invalid_client("Unknown or disabled client."))?;
    match (client.is_public(), credentials.secret) {
        (true, None) => Ok(client),
        (true, Some(_)) => Err(OAuthError::invalid_client(
            "This public client has no secret.",
        )),
        (false, Some(s)) if secret_matches(&client, &s) => Ok(client),
        (false, _) => Err(OAuthError::invalid_client("Client authentication failed.")),
    }
}

impl Provider {
    /// The client a protocol request authenticates as.
    pub async fn authenticate_client(
        &self,
        authorization: Option<&str>,
        form: &Params,
    ) -> Result<Client, OAuthError> {
        let credentials = parse_credentials(authorization, form)?;
        let client = self.store.find_client(&credentials.client_id).await?;
        check_credentials(client, credentials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::SubjectType;
    use crate::oidc::ErrorCode;
    use crate::secrets::hash_secret;

    fn form(pairs: &[(&str, &str)]) -> Params {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn basic(id: &str, secret: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
    }

    fn client(secret: Option<&str>, disabled: bool) -> Client {
        Client {
            id: "app".into(),
            name: "App".into(),
            secret_hash: secret.map(hash_secret),
            redirect_uris: vec!["https://app.example/cb".into()],
            post_logout_redirect_uris: vec![],
            subject_type: SubjectType::Pairwise,
            extra_scopes: vec![],
            id_token_alg: "RS256".into(),
            disabled,
            created_at: 0,
        }
    }

    #[test]
    fn credentials_come_from_one_place() {
        let header = basic("app", "s3cret");
        let ok = |id: &str, secret: Option<&str>| {
            Ok(ClientCredentials {
                client_id: id.into(),
                secret: secret.map(str::to_string),
            })
        };
        let cases = [
            (
                "basic",
                Some(header.as_str()),
                form(&[]),
                ok("app", Some("s3cret")),
            ),
            (
                "basic with the same client_id in the form",
                Some(header.as_str()),
                form(&[("client_id", "app")]),
                ok("app", Some("s3cret")),
            ),
            (
                "post",
                None,
                form(&[("client_id", "app"), ("client_secret", "s3cret")]),
                ok("app", Some("s3cret")),
            ),
            (
                "public",
                None,
                form(&[("client_id", "app")]),
                ok("app", None),
            ),
            (
                "both methods",
                Some(header.as_str()),
                form(&[("client_secret", "s3cret")]),
                Err(ErrorCode::InvalidRequest),
            ),
            (
                "not base64",
                Some("Basic !!!"),
                form(&[]),
                Err(ErrorCode::InvalidClient),
            ),
            (
                "no colon",
                Some("Basic YXBw"),
                form(&[]),
                Err(ErrorCode::InvalidClient),
            ),
            ("nothing", None, form(&[]), Err(ErrorCode::InvalidClient)),
            (
                "empty client_id",
                None,
                form(&[("client_id", "")]),
                Err(ErrorCode::InvalidClient),
            ),
            (
                "form names another client",
                Some(header.as_str()),
                form(&[("client_id", "other")]),
                Err(ErrorCode::InvalidRequest),
            ),
        ];
        for (case, header, form, expected) in cases {
            let got = parse_credentials(header, &form).map_err(|e| e.code);
            assert_eq!(got, expected, "case {case}");
        }
    }

    #[test]
    fn basic_parts_are_form_decoded() {
        let header = format!("Basic {}", STANDARD.encode("my%20app:a%2Bb"));
        let got = parse_credentials(Some(&header), &form(&[])).unwrap();
        assert_eq!(got.client_id, "my app");
        assert_eq!(got.secret.as_deref(), Some("a+b"));
    }

    #[test]
    fn secrets_are_checked_by_client_type() {
        let with = |secret: Option<&str>| ClientCredentials {
            client_id: "app".into(),
            secret: secret.map(str::to_string),
        };
        let cases = [
            (
                "confidential, right secret",
                client(Some("s"), false),
                with(Some("s")),
                None,
            ),
            (
                "confidential, wrong secret",
                client(Some("s"), false),
                with(Some("t")),
                Some(ErrorCode::InvalidClient),
            ),
            (
                "confidential, no secret",
                client(Some("s"), false),
                with(None),
                Some(ErrorCode::InvalidClient),
            ),
            ("public, no secret", client(None, false), with(None), None),
            (
                "public, a secret",
                client(None, false),
                with(Some("s")),
                Some(ErrorCode::InvalidClient),
            ),
            (
                "disabled",
                client(Some("s"), true),
                with(Some("s")),
                Some(ErrorCode::InvalidClient),
            ),
        ];
        for (case, client, credentials, expected) in cases {
            let got = check_credentials(Some(client), credentials)
                .err()
                .map(|e| e.code);
            assert_eq!(got, expected, "case {case}");
        }
        let unknown = check_credentials(None, with(Some("s")))
            .err()
            .map(|e| e.code);
        assert_eq!(unknown, Some(ErrorCode::InvalidClient));
    }
}
