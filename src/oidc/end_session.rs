//! RP-Initiated Logout 1.0: with a valid `id_token_hint` and a registered
//! `post_logout_redirect_uri`, the session ends and the browser goes back
//! at once; otherwise the citizen is asked.

use super::jwt::IdClaims;
use super::{Params, Provider, param};
use crate::domain::client::Client;
use crate::error::AppError;
use crate::store::SignedIn;

/// A logout request's parameters (§2).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndSessionRequest {
    pub id_token_hint: Option<String>,
    pub post_logout_redirect_uri: Option<String>,
    pub state: Option<String>,
    pub client_id: Option<String>,
}

impl EndSessionRequest {
    pub fn parse(params: &Params) -> Self {
        let text = |name: &str| param(params, name).map(str::to_string);
        Self {
            id_token_hint: text("id_token_hint"),
            post_logout_redirect_uri: text("post_logout_redirect_uri"),
            state: text("state"),
            client_id: text("client_id"),
        }
    }
}

/// Where to send the browser at once, if the request allows it: the hint
/// must name this browser's session (`session_sid`: the `sid` the hint's
/// client knows it by; none when there is no session to end), a `client_id`
/// must be the hint's audience, and the target must be one of the client's
/// registered post-logout URIs.
pub fn return_url(
    request: &EndSessionRequest,
    hint: Option<&IdClaims>,
    client: Option<&Client>,
    session_sid: Option<&str>,
) -> Option<String> {
    let client = client?;
    let target = request.post_logout_redirect_uri.as_deref()?;
    let same_session = match (session_sid, hint) {
        (Some(sid), Some(claims)) => claims.sid == sid,
        (None, _) => true,
        (Some(_), None) => false,
    };
    let client_matches = request
        .client_id
        .as_deref()
        .is_none_or(|c| hint.is_some_and(|h| h.aud == c));
    if !(client.post_logout_redirect_uris.iter().any(|u| u == target)
        && same_session
        && client_matches)
    {
        return None;
    }
    let mut url = url::Url::parse(target).ok()?;
    if let Some(s) = &request.state {
        url.query_pairs_mut().append_pair("state", s);
    }
    Some(url.to_string())
}

/// What the logout endpoint does.
#[derive(Debug, PartialEq, Eq)]
pub enum EndSession {
    /// The session (if any) has ended: back to the app.
    Return(String),
    /// Ask the citizen, naming the app.
    Ask { client_name: String },
}

impl Provider {
    /// Ends `who`'s session and returns to the app when the request allows
    /// it (see [`return_url`]).
    pub async fn end_session(
        &self,
        request: &EndSessionRequest,
        who: Option<&SignedIn>,
    ) -> Result<EndSession, AppError> {
        let hint = match &request.id_token_hint {
            Some(h) => self.verify_id_hint(h).await,
            None => None,
        };
        let client = match &hint {
            Some(claims) => self.store.find_client(&claims.aud).await?,
            None => None,
        };
        let session_sid = match (who, &client) {
            (Some(w), Some(c)) => Some(self.session_id(c, w.session.id)),
            // A session, but no client to know it by: never the hint's.
            (Some(_), None) => Some(String::new()),
            (None, _) => None,
        };
        match return_url(
            request,
            hint.as_ref(),
            client.as_ref(),
            session_sid.as_deref(),
        ) {
            Some(url) => {
                if let Some(w) = who {
                    self.store.delete_session(w.session.id).await?;
                }
                Ok(EndSession::Return(url))
            }
            None => Ok(EndSession::Ask {
                client_name: client.map_or_else(|| "An app".to_string(), |c| c.name),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::SubjectType;

    fn client() -> Client {
        Client {
            id: "app".into(),
            name: "App".into(),
            secret_hash: None,
            redirect_uris: vec!["https://app.example/cb".into()],
            post_logout_redirect_uris: vec!["https://app.example/bye".into()],
            subject_type: SubjectType::Pairwise,
            extra_scopes: vec![],
            id_token_alg: "RS256".into(),
            disabled: false,
            created_at: 0,
        }
    }

    fn hint(sid: &str) -> IdClaims {
        IdClaims {
            iss: "https://id.example".into(),
            sub: "s".into(),
            aud: "app".into(),
            azp: "app".into(),
            exp: 0,
            iat: 0,
            auth_time: 0,
            nonce: None,
            acr: String::new(),
            amr: vec![],
            sid: sid.to_string(),
            at_hash: None,
        }
    }

    fn request(target: &str, client_id: &str, state: &str) -> EndSessionRequest {
        let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
        EndSessionRequest {
            id_token_hint: Some("hint".into()),
            post_logout_redirect_uri: some(target),
            state: some(state),
            client_id: some(client_id),
        }
    }

    #[test]
    fn when_the_browser_goes_straight_back() {
        let mine = "sid-of-this-session";
        let other = "sid-of-another-session";
        let bye = "https://app.example/bye";
        let back = Some(bye.to_string());
        let cases = [
            (
                "hint for this session",
                request(bye, "", ""),
                Some(hint(mine)),
                Some(client()),
                Some(mine),
                back.clone(),
            ),
            (
                "no session to end",
                request(bye, "", ""),
                Some(hint(other)),
                Some(client()),
                None,
                back.clone(),
            ),
            (
                "hint for another session",
                request(bye, "", ""),
                Some(hint(other)),
                Some(client()),
                Some(mine),
                None,
            ),
            (
                "a session but no hint",
                request(bye, "", ""),
                None,
                Some(client()),
                Some(mine),
                None,
            ),
            (
                "no client",
                request(bye, "", ""),
                Some(hint(mine)),
                None,
                Some(mine),
                None,
            ),
            (
                "no target",
                request("", "", ""),
                Some(hint(mine)),
                Some(client()),
                Some(mine),
                None,
            ),
            (
                "unregistered target",
                request("https://evil.example/", "", ""),
                Some(hint(mine)),
                Some(client()),
                Some(mine),
                None,
            ),
            (
                "client_id of the hint",
                request(bye, "app", ""),
                Some(hint(mine)),
                Some(client()),
                Some(mine),
                back.clone(),
            ),
            (
                "client_id of another app",
                request(bye, "other", ""),
                Some(hint(mine)),
                Some(client()),
                Some(mine),
                None,
            ),
            (
                "state goes back",
                request(bye, "", "xyz"),
                Some(hint(mine)),
                Some(client()),
                Some(mine),
                Some(format!("{bye}?state=xyz")),
            ),
        ];
        for (case, request, hint, client, session, expected) in cases {
            assert_eq!(
                return_url(&request, hint.as_ref(), client.as_ref(), session),
                expected,
                "case {case}"
            );
        }
    }

    #[test]
    fn empty_parameters_are_absent() {
        let params: Params = [
            ("id_token_hint".to_string(), String::new()),
            ("state".to_string(), "s".to_string()),
        ]
        .into();
        let r = EndSessionRequest::parse(&params);
        assert_eq!(r.id_token_hint, None);
        assert_eq!(r.state.as_deref(), Some("s"));
    }
}
