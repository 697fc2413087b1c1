//! The authorization endpoint's decisions (OIDC Core §3.1.2, RFC 7636,
//! RFC 9207): validate the request, sign the citizen in, ask consent, issue
//! a code. HTTP handlers turn the `Outcome` into a response.

use std::collections::HashMap;

use url::Url;

use super::claims::describe;
use super::{ACR_LEVEL_1, ACR_LEVEL_2};
use crate::domain::AssuranceLevel;
use crate::domain::client::{Client, ScopeSet};
use crate::error::AppError;
use crate::secrets::{hash_secret, new_secret};
use crate::startup::AppState;
use crate::store::{AuthRequestRow, CodeRow, GrantRow, SignedIn};

/// Codes live sixty seconds; a pending consent ten minutes.
pub const CODE_TTL: i64 = 60;
pub const CONSENT_TTL: i64 = 600;
/// Our own parameter on the sign-in round trip: the time the request sent
/// the citizen to sign in, so a fresh sign-in satisfies `prompt=login` and
/// `max_age` instead of looping back to the sign-in page.
pub const SIGNED_IN_AFTER: &str = "civitas_signed_in_after";

/// The order in which the consent page lists what an app asks for.
const CONSENT_ORDER: [&str; 6] = [
    "openid",
    "profile",
    "age",
    "address",
    "national_id",
    "offline_access",
];

/// What the endpoint answers.
#[derive(Debug)]
pub enum Outcome {
    /// Unknown client or redirect URI: never redirect, show a page.
    ErrorPage(AppError),
    /// Back to the client, with a code or an error.
    Redirect(String),
    /// To our sign-in page, which returns to the request.
    SignIn(String),
    /// Ask the citizen.
    Consent(ConsentView),
}

/// The consent page's content.
#[derive(Debug)]
pub struct ConsentView {
    pub request_id: String,
    pub client_name: String,
    pub items: Vec<&'static str>,
}

/// A validated request.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
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

fn param<'a>(p: &'a HashMap<String, String>, name: &str) -> Option<&'a str> {
    p.get(name).map(String::as_str).filter(|v| !v.is_empty())
}

/// The redirect back to the client with `pairs`, `state` and `iss`.
pub fn client_redirect(
    state: &AppState,
    redirect_uri: &str,
    client_state: Option<&str>,
    pairs: &[(&str, &str)],
) -> String {
    let Ok(mut url) = Url::parse(redirect_uri) else {
        return redirect_uri.to_string();
    };
    {
        let mut q = url.query_pairs_mut();
        for (k, v) in pairs {
            q.append_pair(k, v);
        }
        if let Some(s) = client_state {
            q.append_pair("state", s);
        }
        q.append_pair("iss", state.settings.issuer.as_str());
    }
    url.to_string()
}

fn error_redirect(
    state: &AppState,
    redirect_uri: &str,
    client_state: Option<&str>,
    error: &str,
    description: &str,
) -> Outcome {
    Outcome::Redirect(client_redirect(
        state,
        redirect_uri,
        client_state,
        &[("error", error), ("error_description", description)],
    ))
}

/// The `acr` a citizen's assurance level earns.
pub fn acr_of(level: AssuranceLevel) -> &'static str {
    match level {
        AssuranceLevel::SelfAsserted => ACR_LEVEL_1,
        AssuranceLevel::Verified => ACR_LEVEL_2,
    }
}

/// Handles an authorization request (GET query or POST form).
pub async fn authorize(
    state: &AppState,
    params: &HashMap<String, String>,
    who: Option<SignedIn>,
) -> Result<Outcome, AppError> {
    // 1. Client and redirect URI: errors here are shown, never redirected.
    let Some(client_id) = param(params, "client_id") else {
        return Ok(Outcome::ErrorPage(AppError::bad_request(
            "invalid_request",
            "The app did not say who it is (client_id is missing).",
        )));
    };
    let client = match state.store.find_client(client_id).await? {
        Some(c) if !c.disabled => c,
        _ => {
            return Ok(Outcome::ErrorPage(AppError::bad_request(
                "invalid_client",
                "This app is not registered with Civitas, or has been disabled.",
            )));
        }
    };
    let Some(redirect_uri) =
        param(params, "redirect_uri").filter(|r| client.redirect_uris.iter().any(|u| u == r))
    else {
        return Ok(Outcome::ErrorPage(AppError::bad_request(
            "invalid_redirect_uri",
            "The app asked to send you back to an address it has not registered, so Civitas stopped here.",
        )));
    };
    let client_state = param(params, "state");
    let fail = |error: &str, description: &str| {
        Ok(error_redirect(
            state,
            redirect_uri,
            client_state,
            error,
            description,
        ))
    };

    // 2. The request itself.
    if param(params, "request").is_some() {
        return fail(
            "request_not_supported",
            "Request objects are not supported.",
        );
    }
    if param(params, "request_uri").is_some() {
        return fail("request_uri_not_supported", "request_uri is not supported.");
    }
    match param(params, "response_type") {
        Some("code") => {}
        None => return fail("invalid_request", "response_type is missing."),
        Some(_) => {
            return fail(
                "unsupported_response_type",
                "Only the authorization code flow (response_type=code) is supported.",
            );
        }
    }
    if let Some(mode) = param(params, "response_mode")
        && mode != "query"
    {
        return fail("invalid_request", "Only response_mode=query is supported.");
    }
    let scope = match ScopeSet::parse(param(params, "scope").unwrap_or_default()) {
        Ok(s) => s,
        Err(e) => return fail("invalid_scope", &e),
    };
    if !scope.contains("openid") {
        return fail("invalid_scope", "The scope must include openid.");
    }
    if let Some(bad) = scope.iter().find(|s| !client.may_request(s)) {
        return fail(
            "invalid_scope",
            &format!("This app may not ask for the scope {bad}."),
        );
    }
    let Some(code_challenge) = param(params, "code_challenge") else {
        return fail(
            "invalid_request",
            "PKCE is required: send code_challenge with code_challenge_method=S256.",
        );
    };
    if param(params, "code_challenge_method") != Some("S256") {
        return fail(
            "invalid_request",
            "Only code_challenge_method=S256 is accepted.",
        );
    }
    if code_challenge.len() != 43
        || !code_challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return fail(
            "invalid_request",
            "code_challenge must be the base64url SHA-256 of the verifier (43 characters).",
        );
    }
    let prompt: Vec<String> = param(params, "prompt")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    if let Some(bad) = prompt
        .iter()
        .find(|p| !matches!(p.as_str(), "none" | "login" | "consent" | "select_account"))
    {
        return fail("invalid_request", &format!("Unknown prompt value {bad}."));
    }
    if prompt.iter().any(|p| p == "none") && prompt.len() > 1 {
        return fail(
            "invalid_request",
            "prompt=none cannot be combined with other values.",
        );
    }
    let max_age = match param(params, "max_age").map(str::parse::<i64>) {
        None => None,
        Some(Ok(n)) if n >= 0 => Some(n),
        Some(_) => {
            return fail(
                "invalid_request",
                "max_age must be a whole number of seconds.",
            );
        }
    };
    let acr_values: Vec<String> = param(params, "acr_values")
        .unwrap_or_default()
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect();
    let request = Request {
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_string(),
        scope: scope.to_string(),
        state: client_state.map(str::to_string),
        nonce: param(params, "nonce").map(str::to_string),
        code_challenge: code_challenge.to_string(),
        prompt,
        max_age,
        acr_values,
    };
    let prompt_none = request.prompt.iter().any(|p| p == "none");

    // 3. An id_token_hint must be one of ours.
    let mut hinted_sub = None;
    if let Some(hint) = param(params, "id_token_hint") {
        match state.provider.verify_id_hint(state, hint).await {
            Some(claims) if claims.aud == client.id => hinted_sub = Some(claims.sub),
            _ => {
                return fail(
                    "invalid_request",
                    "id_token_hint is not an ID token Civitas issued to this app.",
                );
            }
        }
    }

    // 4. Sign-in: none yet, forced by prompt=login, or older than max_age.
    let now = state.clock.unix();
    let signed_in_after = param(params, SIGNED_IN_AFTER).and_then(|v| v.parse::<i64>().ok());
    let fresh = |who: &SignedIn| signed_in_after.is_some_and(|t| who.session.auth_time >= t);
    let mut who = who;
    if let (Some(w), Some(sub)) = (&who, &hinted_sub)
        && &super::claims::subject(&state.provider.pairwise_secret, &client, &w.citizen) != sub
    {
        // Signed in as someone else than the app expects.
        if prompt_none {
            return fail("login_required", "A different person is signed in.");
        }
        who = None;
    }
    let needs_sign_in = match &who {
        None => true,
        Some(w) if fresh(w) => false,
        Some(w) => {
            request.prompt.iter().any(|p| p == "login")
                || max_age.is_some_and(|m| now - w.session.auth_time > m)
        }
    };
    if needs_sign_in {
        if prompt_none {
            return fail("login_required", "The person is not signed in to Civitas.");
        }
        let mut back: Vec<(String, String)> = params
            .iter()
            .filter(|(k, _)| k.as_str() != SIGNED_IN_AFTER)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        back.sort();
        back.push((SIGNED_IN_AFTER.to_string(), now.to_string()));
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(back)
            .finish();
        let return_to = format!("/authorize?{query}");
        let login: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", &return_to)
            .finish();
        return Ok(Outcome::SignIn(format!("/login?{login}")));
    }
    let Some(who) = who else {
        return fail("login_required", "The person is not signed in to Civitas.");
    };

    // 5. Assurance level.
    let acr = acr_of(who.citizen.assurance_level);
    if !request.acr_values.is_empty() && !request.acr_values.iter().any(|v| satisfies(acr, v)) {
        return fail(
            "unmet_authentication_requirements",
            "The person's identity has not been verified to the level the app asks for.",
        );
    }

    // 6. Consent, remembered per citizen, client and scope set.
    let consented = state
        .store
        .has_consent(who.citizen.id.0, &client.id, &request.scope)
        .await?;
    if consented && !request.prompt.iter().any(|p| p == "consent") {
        return issue_code(state, &client, &request, &who)
            .await
            .map(Outcome::Redirect);
    }
    if prompt_none {
        return fail(
            "consent_required",
            "The person has not yet agreed to share this data with the app.",
        );
    }
    let (request_id, id_hash) = new_secret();
    let row = AuthRequestRow {
        client_id: client.id.clone(),
        citizen_id: who.citizen.id.0,
        params: serde_json::to_string(&request).map_err(AppError::internal)?,
        expires_at: now + CONSENT_TTL,
    };
    state.store.insert_auth_request(&id_hash, &row).await?;
    Ok(Outcome::Consent(ConsentView {
        request_id,
        client_name: client.name.clone(),
        items: CONSENT_ORDER
            .iter()
            .filter(|s| scope.contains(s))
            .filter_map(|s| describe(s))
            .collect(),
    }))
}

/// True when a citizen with `acr` meets the requested `wanted` level.
fn satisfies(acr: &str, wanted: &str) -> bool {
    match wanted {
        ACR_LEVEL_1 => true,
        ACR_LEVEL_2 => acr == ACR_LEVEL_2,
        _ => false,
    }
}

/// The citizen's answer on the consent page.
pub async fn decide(
    state: &AppState,
    request_id: &str,
    allow: bool,
    who: Option<SignedIn>,
) -> Result<Outcome, AppError> {
    let expired = || {
        AppError::bad_request(
            "request_expired",
            "This request has expired or was already answered. Go back to the app and start again.",
        )
    };
    let row = state
        .store
        .take_auth_request(&hash_secret(request_id))
        .await?
        .ok_or_else(expired)?;
    if row.expires_at <= state.clock.unix() {
        return Err(expired());
    }
    let request: Request = serde_json::from_str(&row.params).map_err(AppError::internal)?;
    let Some(who) = who.filter(|w| w.citizen.id.0 == row.citizen_id) else {
        return Err(AppError::forbidden(
            "not_signed_in",
            "Sign in again and go back to the app to continue.",
        ));
    };
    if !allow {
        return Ok(error_redirect(
            state,
            &request.redirect_uri,
            request.state.as_deref(),
            "access_denied",
            "The person declined to share their data.",
        ));
    }
    let client = state
        .store
        .find_client(&request.client_id)
        .await?
        .filter(|c| !c.disabled)
        .ok_or_else(|| {
            AppError::bad_request("invalid_client", "This app is no longer registered.")
        })?;
    state
        .store
        .insert_consent(
            who.citizen.id.0,
            &client.id,
            &request.scope,
            state.clock.unix(),
        )
        .await?;
    issue_code(state, &client, &request, &who)
        .await
        .map(Outcome::Redirect)
}

/// Creates the grant and its single-use code; returns the redirect.
async fn issue_code(
    state: &AppState,
    client: &Client,
    request: &Request,
    who: &SignedIn,
) -> Result<String, AppError> {
    let now = state.clock.unix();
    let synced = state
        .store
        .passkey_backup_eligible(who.session.passkey_id)
        .await?
        .unwrap_or(true);
    let mut amr = vec!["user"];
    if who.session.user_verified {
        amr.push("mfa");
    }
    amr.push(if synced { "swk" } else { "hwk" });
    let grant = GrantRow {
        id: uuid::Uuid::new_v4(),
        citizen_id: who.citizen.id.0,
        client_id: client.id.clone(),
        scope: request.scope.clone(),
        session_id: who.session.id,
        auth_time: who.session.auth_time,
        acr: acr_of(who.citizen.assurance_level).to_string(),
        amr: serde_json::to_string(&amr).map_err(AppError::internal)?,
        nonce: request.nonce.clone(),
        created_at: now,
        revoked_at: None,
    };
    let (code, code_hash) = new_secret();
    let code_row = CodeRow {
        grant_id: grant.id,
        client_id: client.id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        expires_at: now + CODE_TTL,
        used_at: None,
    };
    let released: Vec<&str> = request.scope.split(' ').collect();
    let claims = serde_json::to_string(&released).map_err(AppError::internal)?;
    // The grant, its code and the access-history entry in one transaction.
    let mut tx = state.store.begin().await?;
    tx.insert_grant(&grant).await?;
    tx.insert_code(&code_hash, &code_row).await?;
    tx.insert_sign_in(
        grant.citizen_id,
        &grant.client_id,
        grant.created_at,
        &claims,
    )
    .await?;
    tx.commit().await?;
    Ok(client_redirect(
        state,
        &request.redirect_uri,
        request.state.as_deref(),
        &[("code", &code)],
    ))
}
