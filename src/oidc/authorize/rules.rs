//! The authorization request as a typed value, and the rules the endpoint
//! applies to it (OIDC Core §3.1.2; RFC 7636; RFC 9207), free of storage
//! and HTTP so they can be tested as tables.

use crate::domain::AssuranceLevel;
use crate::domain::client::{Client, ScopeSet};
use crate::error::AppError;
use crate::oidc::{ACR_LEVEL_1, ACR_LEVEL_2, ErrorCode, Params, acr_of, param};

/// Our own parameter on the sign-in round trip: when the request sent the
/// citizen to sign in, sealed by the provider (see `Provider::round_trip`),
/// so a sign-in after that time satisfies `prompt=login` and `max_age`
/// instead of looping back to the sign-in page. Unsealed or stale, it
/// counts for nothing: freshness is the session's own sign-in time.
pub const SIGNED_IN_AFTER: &str = "civitas_signed_in_after";

/// The `prompt` values Civitas knows.
const PROMPTS: [&str; 4] = ["none", "login", "consent", "select_account"];

/// A validated request. Kept with a pending consent as JSON, so its fields
/// are the stored form.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Request {
    pub client_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: String,
    pub prompt: Vec<String>,
    pub max_age: Option<i64>,
    pub acr_values: Vec<String>,
}

impl Request {
    /// Whether `prompt` includes `value`.
    pub fn prompts(&self, value: &str) -> bool {
        self.prompt.iter().any(|p| p == value)
    }
}

/// A request and what comes with it besides the stored form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Parsed {
    pub request: Request,
    pub scope: ScopeSet,
    pub id_token_hint: Option<String>,
    /// See [`SIGNED_IN_AFTER`]: as sent, not yet checked.
    pub round_trip: Option<String>,
}

/// A refusal sent back to the client's redirect URI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub code: ErrorCode,
    pub description: String,
}

impl Refusal {
    pub fn new(code: ErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
        }
    }
}

fn invalid_request(description: impl Into<String>) -> Refusal {
    Refusal::new(ErrorCode::InvalidRequest, description)
}

/// The client the request names. Errors here are shown, never redirected.
pub fn client_id(params: &Params) -> Result<&str, AppError> {
    param(params, "client_id").ok_or_else(|| {
        AppError::bad_request(
            "invalid_request",
            "The app did not say who it is (client_id is missing).",
        )
    })
}

/// The 400 page for a client that cannot be used.
pub fn unknown_client() -> AppError {
    AppError::bad_request(
        "invalid_client",
        "This app is not registered with Civitas, or has been disabled.",
    )
}

/// The redirect URI, exactly as the client registered it. Errors here are
/// shown, never redirected.
pub fn redirect_uri<'a>(params: &'a Params, client: &Client) -> Result<&'a str, AppError> {
    param(params, "redirect_uri")
        .filter(|r| client.redirect_uris.iter().any(|u| u == r))
        .ok_or_else(|| {
            AppError::bad_request(
                "invalid_redirect_uri",
                "The app asked to send you back to an address it has not registered, so \
                 Civitas stopped here.",
            )
        })
}

/// Space-separated values of `name`.
fn list(params: &Params, name: &str) -> Vec<String> {
    param(params, name)
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

/// Checks everything but the client and redirect URI; a failure goes back
/// to the client.
pub fn parse(params: &Params, client: &Client, redirect_uri: &str) -> Result<Parsed, Refusal> {
    if param(params, "request").is_some() {
        return Err(Refusal::new(
            ErrorCode::RequestNotSupported,
            "Request objects are not supported.",
        ));
    }
    if param(params, "request_uri").is_some() {
        return Err(Refusal::new(
            ErrorCode::RequestUriNotSupported,
            "request_uri is not supported.",
        ));
    }
    match param(params, "response_type") {
        Some("code") => {}
        None => return Err(invalid_request("response_type is missing.")),
        Some(_) => {
            return Err(Refusal::new(
                ErrorCode::UnsupportedResponseType,
                "Only the authorization code flow (response_type=code) is supported.",
            ));
        }
    }
    if let Some(mode) = param(params, "response_mode")
        && mode != "query"
    {
        return Err(invalid_request("Only response_mode=query is supported."));
    }
    let scope = ScopeSet::parse(param(params, "scope").unwrap_or_default())
        .map_err(|e| Refusal::new(ErrorCode::InvalidScope, e))?;
    if !scope.contains("openid") {
        return Err(Refusal::new(
            ErrorCode::InvalidScope,
            "The scope must include openid.",
        ));
    }
    if let Some(bad) = scope.iter().find(|s| !client.may_request(s)) {
        return Err(Refusal::new(
            ErrorCode::InvalidScope,
            format!("This app may not ask for the scope {bad}."),
        ));
    }
    let Some(code_challenge) = param(params, "code_challenge") else {
        return Err(invalid_request(
            "PKCE is required: send code_challenge with code_challenge_method=S256.",
        ));
    };
    if param(params, "code_challenge_method") != Some("S256") {
        return Err(invalid_request(
            "Only code_challenge_method=S256 is accepted.",
        ));
    }
    if code_challenge.len() != 43
        || !code_challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(invalid_request(
            "code_challenge must be the base64url SHA-256 of the verifier (43 characters).",
        ));
    }
    let prompt = list(params, "prompt");
    if let Some(bad) = prompt.iter().find(|p| !PROMPTS.contains(&p.as_str())) {
        return Err(invalid_request(format!("Unknown prompt value {bad}.")));
    }
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return Err(invalid_request(
            "prompt=none cannot be combined with other values.",
        ));
    }
    let max_age = match param(params, "max_age").map(str::parse::<i64>) {
        None => None,
        Some(Ok(n)) if n >= 0 => Some(n),
        Some(_) => {
            return Err(invalid_request(
                "max_age must be a whole number of seconds.",
            ));
        }
    };
    let request = Request {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_string(),
        scope: scope.to_string(),
        state: param(params, "state").map(str::to_string),
        nonce: param(params, "nonce").map(str::to_string),
        code_challenge: code_challenge.to_string(),
        prompt,
        max_age,
        acr_values: list(params, "acr_values"),
    };
    Ok(Parsed {
        request,
        scope,
        id_token_hint: param(params, "id_token_hint").map(str::to_string),
        round_trip: param(params, SIGNED_IN_AFTER).map(str::to_string),
    })
}

/// What the endpoint knows of whoever is signed in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Session {
    /// When the session's passkey sign-in happened.
    pub auth_time: i64,
    /// With an `id_token_hint`: whether this is the person it names.
    pub matches_hint: bool,
}

/// What to do about signing in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SignIn {
    /// The session may be used.
    Proceed,
    /// Send the citizen to sign in, and back.
    Needed,
    Refuse(Refusal),
}

/// Whether the session (if any) satisfies the request: none yet, someone
/// other than the hint names, forced by `prompt=login`, or older than
/// `max_age`, unless the session signed in after `signed_in_after` (the
/// checked time this request sent the citizen to sign in).
pub fn sign_in(
    parsed: &Parsed,
    session: Option<Session>,
    signed_in_after: Option<i64>,
    now: i64,
) -> SignIn {
    let request = &parsed.request;
    let prompt_none = request.prompts("none");
    let session = match session {
        Some(s) if !s.matches_hint => {
            if prompt_none {
                return SignIn::Refuse(Refusal::new(
                    ErrorCode::LoginRequired,
                    "A different person is signed in.",
                ));
            }
            None
        }
        other => other,
    };
    let fresh = |s: &Session| signed_in_after.is_some_and(|t| s.auth_time >= t);
    let needed = match &session {
        None => true,
        Some(s) if fresh(s) => false,
        Some(s) => {
            request.prompts("login") || request.max_age.is_some_and(|m| now - s.auth_time > m)
        }
    };
    match (needed, prompt_none) {
        (false, _) => SignIn::Proceed,
        (true, true) => SignIn::Refuse(Refusal::new(
            ErrorCode::LoginRequired,
            "The person is not signed in to Civitas.",
        )),
        (true, false) => SignIn::Needed,
    }
}

/// Where to sign in: `/login`, returning to this request with its
/// parameters (sorted) and `stamp`, the sealed time it sent the citizen.
pub fn sign_in_location(params: &Params, stamp: &str) -> String {
    let mut back: Vec<(String, String)> = params
        .iter()
        .filter(|(k, _)| k.as_str() != SIGNED_IN_AFTER)
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    back.sort();
    back.push((SIGNED_IN_AFTER.to_string(), stamp.to_string()));
    let query: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(back)
        .finish();
    let return_to = format!("/authorize?{query}");
    let login: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("return_to", &return_to)
        .finish();
    format!("/login?{login}")
}

/// Whether a citizen of `level` meets the requested `acr_values` (any one of
/// them; none requested is always met).
pub fn meets_acr(acr_values: &[String], level: AssuranceLevel) -> bool {
    let acr = acr_of(level);
    acr_values.is_empty()
        || acr_values.iter().any(|wanted| match wanted.as_str() {
            ACR_LEVEL_1 => true,
            ACR_LEVEL_2 => acr == ACR_LEVEL_2,
            _ => false,
        })
}

/// The refusal when the level is not met.
pub fn unmet_acr() -> Refusal {
    Refusal::new(
        ErrorCode::UnmetAuthenticationRequirements,
        "The person's identity has not been verified to the level the app asks for.",
    )
}

/// What to do about consent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Consent {
    IssueCode,
    Ask,
    Refuse(Refusal),
}

/// Consent is remembered per citizen, client and scope set; `prompt=consent`
/// asks again, and `prompt=none` cannot ask.
pub fn consent(request: &Request, consented: bool) -> Consent {
    if consented && !request.prompts("consent") {
        return Consent::IssueCode;
    }
    if request.prompts("none") {
        return Consent::Refuse(Refusal::new(
            ErrorCode::ConsentRequired,
            "The person has not yet agreed to share this data with the app.",
        ));
    }
    Consent::Ask
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::client::SubjectType;

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    fn client() -> Client {
        Client {
            id: "app".into(),
            name: "App".into(),
            secret_hash: None,
            redirect_uris: vec!["https://app.example/cb".into()],
            post_logout_redirect_uris: vec![],
            subject_type: SubjectType::Pairwise,
            extra_scopes: vec![],
            id_token_alg: "RS256".into(),
            disabled: false,
            created_at: 0,
        }
    }

    /// A valid request, changed by `set` (an empty value removes a key).
    fn params(set: &[(&str, &str)]) -> Params {
        let mut p: Params = [
            ("client_id", "app"),
            ("redirect_uri", "https://app.example/cb"),
            ("response_type", "code"),
            ("scope", "openid profile"),
            ("state", "s"),
            ("nonce", "n"),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        for (k, v) in set {
            if v.is_empty() {
                p.remove(*k);
            } else {
                p.insert(k.to_string(), v.to_string());
            }
        }
        p
    }

    fn parsed(set: &[(&str, &str)]) -> Parsed {
        let p = params(set);
        parse(&p, &client(), "https://app.example/cb").expect("a valid request")
    }

    #[test]
    fn a_valid_request_parses() {
        let p = parsed(&[("prompt", "login consent"), ("max_age", "60")]);
        assert_eq!(p.request.scope, "openid profile");
        assert_eq!(p.request.state.as_deref(), Some("s"));
        assert_eq!(p.request.nonce.as_deref(), Some("n"));
        assert_eq!(p.request.prompt, vec!["login", "consent"]);
        assert_eq!(p.request.max_age, Some(60));
        assert_eq!(p.id_token_hint, None);
        assert_eq!(p.round_trip, None);
    }

    #[test]
    fn client_and_redirect_uri_are_shown_not_redirected() {
        assert_eq!(
            client_id(&params(&[("client_id", "")])).unwrap_err().code,
            "invalid_request"
        );
        assert_eq!(client_id(&params(&[])).unwrap(), "app");
        for (case, uri) in [
            ("missing", ""),
            ("unregistered", "https://evil.example/cb"),
            ("prefix of a registered one", "https://app.example/c"),
            ("registered plus a query", "https://app.example/cb?x=1"),
        ] {
            let p = params(&[("redirect_uri", uri)]);
            let err = redirect_uri(&p, &client()).unwrap_err();
            assert_eq!(err.code, "invalid_redirect_uri", "case {case}");
        }
        let p = params(&[]);
        assert_eq!(
            redirect_uri(&p, &client()).unwrap(),
            "https://app.example/cb"
        );
    }

    #[test]
    fn bad_requests_are_refused_with_their_code() {
        use ErrorCode::*;
        let long_verifier_challenge = "a".repeat(44);
        let cases = [
            (
                "request object",
                vec![("request", "eyJ")],
                RequestNotSupported,
            ),
            (
                "request_uri",
                vec![("request_uri", "urn:x")],
                RequestUriNotSupported,
            ),
            (
                "no response_type",
                vec![("response_type", "")],
                InvalidRequest,
            ),
            (
                "implicit flow",
                vec![("response_type", "token")],
                UnsupportedResponseType,
            ),
            (
                "hybrid flow",
                vec![("response_type", "code id_token")],
                UnsupportedResponseType,
            ),
            (
                "fragment mode",
                vec![("response_mode", "fragment")],
                InvalidRequest,
            ),
            (
                "form_post mode",
                vec![("response_mode", "form_post")],
                InvalidRequest,
            ),
            ("no openid", vec![("scope", "profile")], InvalidScope),
            ("no scope", vec![("scope", "")], InvalidScope),
            (
                "bad scope characters",
                vec![("scope", "openid \"x\"")],
                InvalidScope,
            ),
            (
                "unknown scope",
                vec![("scope", "openid payroll")],
                InvalidScope,
            ),
            (
                "restricted scope",
                vec![("scope", "openid national_id")],
                InvalidScope,
            ),
            ("no PKCE", vec![("code_challenge", "")], InvalidRequest),
            (
                "plain PKCE",
                vec![("code_challenge_method", "plain")],
                InvalidRequest,
            ),
            (
                "no PKCE method",
                vec![("code_challenge_method", "")],
                InvalidRequest,
            ),
            (
                "short challenge",
                vec![("code_challenge", "abc")],
                InvalidRequest,
            ),
            (
                "long challenge",
                vec![("code_challenge", long_verifier_challenge.as_str())],
                InvalidRequest,
            ),
            (
                "challenge not base64url",
                vec![(
                    "code_challenge",
                    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw+cM",
                )],
                InvalidRequest,
            ),
            ("unknown prompt", vec![("prompt", "maybe")], InvalidRequest),
            (
                "none with login",
                vec![("prompt", "none login")],
                InvalidRequest,
            ),
            ("negative max_age", vec![("max_age", "-1")], InvalidRequest),
            (
                "max_age not a number",
                vec![("max_age", "soon")],
                InvalidRequest,
            ),
        ];
        for (case, set, code) in cases {
            let p = params(&set);
            let got = parse(&p, &client(), "https://app.example/cb");
            assert_eq!(got.map_err(|r| r.code).err(), Some(code), "case {case}");
        }
    }

    #[test]
    fn scopes_against_what_the_client_may_ask() {
        let mut allowed = client();
        allowed.extra_scopes = vec!["national_id".into()];
        for (scope, plain, with_national_id) in [
            ("openid", true, true),
            ("openid profile age address offline_access", true, true),
            ("openid national_id", false, true),
            ("openid national_id payroll", false, false),
        ] {
            let p = params(&[("scope", scope)]);
            let got = |c: &Client| parse(&p, c, "https://app.example/cb").is_ok();
            assert_eq!(got(&client()), plain, "{scope} for a plain client");
            assert_eq!(got(&allowed), with_national_id, "{scope} with national_id");
        }
    }

    #[test]
    fn sign_in_by_prompt_max_age_and_session_age() {
        let now = 10_000;
        let session = |age: i64| {
            Some(Session {
                auth_time: now - age,
                matches_hint: true,
            })
        };
        let login_required = || {
            SignIn::Refuse(Refusal::new(
                ErrorCode::LoginRequired,
                "The person is not signed in to Civitas.",
            ))
        };
        // (case, prompt, max_age, session age, signed in after the request sent them?)
        let cases = [
            ("no session", "", "", None, false, SignIn::Needed),
            (
                "no session, prompt=none",
                "none",
                "",
                None,
                false,
                login_required(),
            ),
            ("a session", "", "", Some(3600), false, SignIn::Proceed),
            ("prompt=login", "login", "", Some(5), false, SignIn::Needed),
            (
                "prompt=login, fresh",
                "login",
                "",
                Some(5),
                true,
                SignIn::Proceed,
            ),
            (
                "prompt=consent",
                "consent",
                "",
                Some(3600),
                false,
                SignIn::Proceed,
            ),
            (
                "prompt=select_account",
                "select_account",
                "",
                Some(3600),
                false,
                SignIn::Proceed,
            ),
            (
                "within max_age",
                "",
                "600",
                Some(600),
                false,
                SignIn::Proceed,
            ),
            ("past max_age", "", "600", Some(601), false, SignIn::Needed),
            (
                "past max_age, fresh",
                "",
                "600",
                Some(601),
                true,
                SignIn::Proceed,
            ),
            ("max_age=0", "", "0", Some(1), false, SignIn::Needed),
            (
                "max_age=0, same second",
                "",
                "0",
                Some(0),
                false,
                SignIn::Proceed,
            ),
            (
                "past max_age, prompt=none",
                "none",
                "60",
                Some(61),
                false,
                login_required(),
            ),
            (
                "within max_age, prompt=none",
                "none",
                "60",
                Some(60),
                false,
                SignIn::Proceed,
            ),
        ];
        for (case, prompt, max_age, age, fresh, expected) in cases {
            let p = parsed(&[("prompt", prompt), ("max_age", max_age)]);
            // Fresh: the request sent the citizen to sign in just as they did.
            let after = if fresh { age.map(|a| now - a) } else { None };
            let got = sign_in(&p, age.and_then(session), after, now);
            assert_eq!(got, expected, "case {case}");
        }
    }

    #[test]
    fn a_sign_in_before_the_request_sent_the_citizen_is_not_fresh() {
        let p = parsed(&[("prompt", "login")]);
        let session = |auth_time| {
            Some(Session {
                auth_time,
                matches_hint: true,
            })
        };
        assert_eq!(sign_in(&p, session(99), Some(100), 200), SignIn::Needed);
        assert_eq!(sign_in(&p, session(100), Some(100), 200), SignIn::Proceed);
        assert_eq!(sign_in(&p, session(100), None, 200), SignIn::Needed);
    }

    #[test]
    fn a_session_of_someone_else_than_the_hint() {
        let other = Some(Session {
            auth_time: 0,
            matches_hint: false,
        });
        assert_eq!(sign_in(&parsed(&[]), other, None, 10), SignIn::Needed);
        assert_eq!(
            sign_in(&parsed(&[("prompt", "none")]), other, None, 10),
            SignIn::Refuse(Refusal::new(
                ErrorCode::LoginRequired,
                "A different person is signed in."
            ))
        );
    }

    #[test]
    fn signed_in_after_comes_back_once() {
        let p = params(&[(SIGNED_IN_AFTER, "5"), ("prompt", "login")]);
        let location = sign_in_location(&p, "99.sealed");
        let query = location.strip_prefix("/login?").unwrap();
        let return_to = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == "return_to")
            .map(|(_, v)| v.into_owned())
            .unwrap();
        let back: Vec<(String, String)> =
            url::form_urlencoded::parse(return_to.strip_prefix("/authorize?").unwrap().as_bytes())
                .into_owned()
                .collect();
        let stamps: Vec<_> = back.iter().filter(|(k, _)| k == SIGNED_IN_AFTER).collect();
        assert_eq!(stamps.len(), 1);
        assert_eq!(stamps[0].1, "99.sealed");
        assert!(back.iter().any(|(k, v)| k == "prompt" && v == "login"));
    }

    #[test]
    fn acr_values_by_level() {
        use AssuranceLevel::*;
        let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        let cases = [
            (v(&[]), SelfAsserted, true),
            (v(&[]), Verified, true),
            (v(&[ACR_LEVEL_1]), SelfAsserted, true),
            (v(&[ACR_LEVEL_1]), Verified, true),
            (v(&[ACR_LEVEL_2]), SelfAsserted, false),
            (v(&[ACR_LEVEL_2]), Verified, true),
            (v(&[ACR_LEVEL_2, ACR_LEVEL_1]), SelfAsserted, true),
            (v(&["urn:other:loa:3"]), Verified, false),
            (v(&["urn:other:loa:3", ACR_LEVEL_2]), Verified, true),
        ];
        for (wanted, level, met) in cases {
            assert_eq!(meets_acr(&wanted, level), met, "{wanted:?} at {level:?}");
        }
    }

    #[test]
    fn consent_by_prompt_and_memory() {
        let ask = Consent::Ask;
        let refuse = Consent::Refuse(Refusal::new(
            ErrorCode::ConsentRequired,
            "The person has not yet agreed to share this data with the app.",
        ));
        let cases = [
            ("", true, Consent::IssueCode),
            ("", false, ask.clone()),
            ("consent", true, ask.clone()),
            ("consent", false, ask.clone()),
            ("none", true, Consent::IssueCode),
            ("none", false, refuse),
            ("login", true, Consent::IssueCode),
        ];
        for (prompt, consented, expected) in cases {
            let p = parsed(&[("prompt", prompt)]);
            assert_eq!(
                consent(&p.request, consented),
                expected,
                "prompt {prompt:?}, consented {consented}"
            );
        }
    }
}
