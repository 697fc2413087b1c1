//! The authorization endpoint (OIDC Core §3.1.2, RFC 7636, RFC 9207):
//! validate the request (`rules`), sign the citizen in, ask consent, issue a
//! code. HTTP handlers turn the `Outcome` into a response.

pub mod rules;

use url::Url;

use super::claims::describe;
use super::{ErrorCode, Params, Provider, acr_of};
use crate::domain::client::Client;
use crate::error::AppError;
use crate::secrets::{hash_secret, new_secret};
use crate::store::{AuthRequestRow, CodeRow, GrantRow, SignedIn};
use rules::{Consent, Refusal, Request, Session, SignIn};

pub use rules::SIGNED_IN_AFTER;

/// Codes live sixty seconds; a pending consent ten minutes.
pub const CODE_TTL: i64 = 60;
pub const CONSENT_TTL: i64 = 600;

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
    /// Where the answer is redirected.
    pub redirect_uri: String,
    pub client_name: String,
    pub items: Vec<&'static str>,
}

/// How long a sealed sign-in round trip stays good.
const ROUND_TRIP_TTL: i64 = CONSENT_TTL;

impl Provider {
    /// `NOW.MAC`: the time this request sent the citizen to sign in, under
    /// a MAC bound to the request's client and PKCE challenge, so neither a
    /// client nor a browser can claim a sign-in is fresher than it is, nor
    /// carry the stamp to another request.
    fn seal_round_trip(&self, request: &Request, now: i64) -> String {
        let mac = self.round_trip_mac(request, now);
        format!("{now}.{mac}")
    }

    /// The time a sealed round trip names, if the seal holds and is recent.
    fn open_round_trip(&self, stamp: &str, request: &Request, now: i64) -> Option<i64> {
        let (time, mac) = stamp.split_once('.')?;
        let time: i64 = time.parse().ok()?;
        let expected = self.round_trip_mac(request, time);
        let genuine: bool =
            subtle::ConstantTimeEq::ct_eq(expected.as_bytes(), mac.as_bytes()).into();
        (genuine && time <= now && now - time <= ROUND_TRIP_TTL).then_some(time)
    }

    fn round_trip_mac(&self, request: &Request, time: i64) -> String {
        let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &self.round_trip_secret);
        let input = format!("{}\n{}\n{time}", request.client_id, request.code_challenge);
        crate::encoding::hex(ring::hmac::sign(&key, input.as_bytes()).as_ref())
    }

    /// The redirect back to the client with `pairs`, `state` and `iss`.
    pub fn client_redirect(
        &self,
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
            q.append_pair("iss", self.issuer.as_str());
        }
        url.to_string()
    }

    fn refuse(&self, redirect_uri: &str, client_state: Option<&str>, r: &Refusal) -> Outcome {
        Outcome::Redirect(self.client_redirect(
            redirect_uri,
            client_state,
            &[
                ("error", r.code.as_str()),
                ("error_description", &r.description),
            ],
        ))
    }

    /// Handles an authorization request (GET query or POST form).
    pub async fn authorize(
        &self,
        params: &Params,
        who: Option<SignedIn>,
    ) -> Result<Outcome, AppError> {
        // 1. Client and redirect URI: errors here are shown, never redirected.
        let client_id = match rules::client_id(params) {
            Ok(id) => id,
            Err(e) => return Ok(Outcome::ErrorPage(e)),
        };
        let client = match self.store.find_client(client_id).await? {
            Some(c) if !c.disabled => c,
            _ => return Ok(Outcome::ErrorPage(rules::unknown_client())),
        };
        let redirect_uri = match rules::redirect_uri(params, &client) {
            Ok(uri) => uri,
            Err(e) => return Ok(Outcome::ErrorPage(e)),
        };
        let client_state = params
            .get("state")
            .map(String::as_str)
            .filter(|s| !s.is_empty());

        // 2. The request itself.
        let parsed = match rules::parse(params, &client, redirect_uri) {
            Ok(p) => p,
            Err(r) => return Ok(self.refuse(redirect_uri, client_state, &r)),
        };
        let request = &parsed.request;

        // 3. An id_token_hint must be one of ours, issued to this app.
        let mut hinted_sub = None;
        if let Some(hint) = &parsed.id_token_hint {
            match self.verify_id_hint(hint).await {
                Some(claims) if claims.aud == client.id => hinted_sub = Some(claims.sub),
                _ => {
                    let r = Refusal::new(
                        ErrorCode::InvalidRequest,
                        "id_token_hint is not an ID token Civitas issued to this app.",
                    );
                    return Ok(self.refuse(redirect_uri, client_state, &r));
                }
            }
        }

        // 4. Sign-in.
        let now = self.clock.unix();
        let signed_in_after = parsed
            .round_trip
            .as_deref()
            .and_then(|stamp| self.open_round_trip(stamp, request, now));
        let session = who.as_ref().map(|w| Session {
            auth_time: w.session.auth_time,
            matches_hint: hinted_sub
                .as_ref()
                .is_none_or(|sub| &self.subject(&client, &w.citizen) == sub),
        });
        match rules::sign_in(&parsed, session, signed_in_after, now) {
            SignIn::Proceed => {}
            SignIn::Needed => {
                let stamp = self.seal_round_trip(request, now);
                return Ok(Outcome::SignIn(rules::sign_in_location(params, &stamp)));
            }
            SignIn::Refuse(r) => return Ok(self.refuse(redirect_uri, client_state, &r)),
        }
        let Some(who) = who else {
            let r = Refusal::new(
                ErrorCode::LoginRequired,
                "The person is not signed in to Civitas.",
            );
            return Ok(self.refuse(redirect_uri, client_state, &r));
        };

        // 5. Assurance level.
        if !rules::meets_acr(&request.acr_values, who.citizen.assurance_level) {
            return Ok(self.refuse(redirect_uri, client_state, &rules::unmet_acr()));
        }

        // 6. Consent, remembered per citizen, client and scope set.
        let consented = self
            .store
            .has_consent(who.citizen.id.0, &client.id, &request.scope)
            .await?;
        match rules::consent(request, consented) {
            Consent::IssueCode => {
                return self
                    .issue_code(&client, request, &who)
                    .await
                    .map(Outcome::Redirect);
            }
            Consent::Refuse(r) => return Ok(self.refuse(redirect_uri, client_state, &r)),
            Consent::Ask => {}
        }
        let (request_id, id_hash) = new_secret();
        let row = AuthRequestRow {
            client_id: client.id.clone(),
            citizen_id: who.citizen.id.0,
            params: serde_json::to_string(request).map_err(AppError::internal)?,
            expires_at: now + CONSENT_TTL,
        };
        self.store.insert_auth_request(&id_hash, &row).await?;
        Ok(Outcome::Consent(ConsentView {
            request_id,
            redirect_uri: redirect_uri.to_string(),
            client_name: client.name.clone(),
            items: CONSENT_ORDER
                .iter()
                .filter(|s| parsed.scope.contains(s))
                .filter_map(|s| describe(s, client.subject_type))
                .collect(),
        }))
    }

    /// The citizen's answer on the consent page.
    pub async fn decide(
        &self,
        request_id: &str,
        allow: bool,
        who: Option<SignedIn>,
    ) -> Result<Outcome, AppError> {
        let expired = || {
            AppError::bad_request(
                "request_expired",
                "This request has expired or was already answered. Go back to the app and \
                 start again.",
            )
        };
        let row = self
            .store
            .take_auth_request(&hash_secret(request_id))
            .await?
            .ok_or_else(expired)?;
        if row.expires_at <= self.clock.unix() {
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
            let r = Refusal::new(
                ErrorCode::AccessDenied,
                "The person declined to share their data.",
            );
            return Ok(self.refuse(&request.redirect_uri, request.state.as_deref(), &r));
        }
        let client = self
            .store
            .find_client(&request.client_id)
            .await?
            .filter(|c| !c.disabled)
            .ok_or_else(|| {
                AppError::bad_request("invalid_client", "This app is no longer registered.")
            })?;
        self.store
            .insert_consent(
                who.citizen.id.0,
                &client.id,
                &request.scope,
                self.clock.unix(),
            )
            .await?;
        self.issue_code(&client, &request, &who)
            .await
            .map(Outcome::Redirect)
    }

    /// Creates the grant and its single-use code; returns the redirect.
    async fn issue_code(
        &self,
        client: &Client,
        request: &Request,
        who: &SignedIn,
    ) -> Result<String, AppError> {
        let now = self.clock.unix();
        let synced = self
            .store
            .passkey_backup_eligible(who.session.passkey_id)
            .await?
            .unwrap_or(true);
        let mut amr = vec!["user"];
        if who.session.user_verified {
            amr.push("mfa");
        }
        // A synced passkey is a software key. A device-bound one might be
        // hardware, but Civitas checks no attestation, so it claims nothing.
        if synced {
            amr.push("swk");
        }
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
        let mut tx = self.store.begin().await?;
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
        Ok(self.client_redirect(
            &request.redirect_uri,
            request.state.as_deref(),
            &[("code", &code)],
        ))
    }
}
