//! Steps of the OpenID Connect flows with plain HTTP, for the negative tests.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use civitas::domain::client::SubjectType;
use civitas::oidc::clients::{NewClient, create};
use civitas::oidc::signing::Alg;
use civitas_load::steps;
use serde_json::Value;

use super::app::TestApp;
use super::passkeys::{SoftAuthenticator, enroll};

pub use civitas_load::steps::pkce;

/// A registered relying party.
#[derive(Clone, Debug)]
pub struct Rp {
    pub client_id: String,
    pub secret: Option<String>,
    pub redirect_uri: String,
}

pub struct RpOptions {
    pub alg: Alg,
    pub public: bool,
    pub subject_type: SubjectType,
    pub extra_scopes: Vec<String>,
    pub host: &'static str,
}

impl Default for RpOptions {
    fn default() -> Self {
        Self {
            alg: Alg::RS256,
            public: false,
            subject_type: SubjectType::Pairwise,
            extra_scopes: vec![],
            host: "app.example",
        }
    }
}

pub async fn register(app: &TestApp, options: RpOptions) -> Rp {
    let redirect_uri = format!("https://{}/callback", options.host);
    let created = create(
        &app.store,
        NewClient {
            name: "Tax Office".into(),
            redirect_uris: vec![redirect_uri.clone()],
            post_logout_redirect_uris: vec![format!("https://{}/bye", options.host)],
            public: options.public,
            subject_type: options.subject_type,
            extra_scopes: options.extra_scopes,
            id_token_alg: options.alg,
        },
        app.clock.unix(),
    )
    .await
    .unwrap();
    Rp {
        client_id: created.client_id,
        secret: created.client_secret,
        redirect_uri,
    }
}

/// `GET /authorize` with the standard parameters plus `extra` (which win).
pub async fn authorize(
    app: &TestApp,
    rp: &Rp,
    challenge: &str,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let mut params = steps::authorize_params(
        &rp.client_id,
        &rp.redirect_uri,
        "openid profile",
        "st4te",
        "n0nce",
        challenge,
    );
    for (k, v) in extra {
        params.retain(|(pk, _)| pk != k);
        if !v.is_empty() {
            params.push((k, v));
        }
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish();
    app.get(&format!("/authorize?{query}")).await
}

/// The `Location` header as a URL.
pub fn location(response: &reqwest::Response) -> url::Url {
    let raw = response
        .headers()
        .get("location")
        .expect("no Location header")
        .to_str()
        .unwrap();
    url::Url::parse(raw).unwrap_or_else(|_| {
        url::Url::parse("http://localhost")
            .unwrap()
            .join(raw)
            .unwrap()
    })
}

pub fn query(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Answers the consent page of `page` (HTML) with `decision`.
pub async fn answer_consent(app: &TestApp, page: &str, decision: &str) -> reqwest::Response {
    let request_id = steps::consent_request_id(page).expect("no consent form");
    steps::consent(
        &app.client,
        app.url("/authorize/consent"),
        request_id,
        decision,
    )
    .send()
    .await
    .unwrap()
}

/// Signs a new citizen in (enrollment) and returns the authenticator.
pub async fn signed_in_citizen(app: &TestApp, given: &str) -> SoftAuthenticator {
    let mut auth = SoftAuthenticator::new(&app.address);
    enroll(app, &mut auth, given).await;
    auth
}

/// Authorizes (consenting when asked) and returns the code.
pub async fn code(app: &TestApp, rp: &Rp, challenge: &str, extra: &[(&str, &str)]) -> String {
    let mut response = authorize(app, rp, challenge, extra).await;
    if response.status() == 200 {
        let page = response.text().await.unwrap();
        response = answer_consent(app, &page, "allow").await;
    }
    assert!(
        response.status().is_redirection(),
        "no redirect: {}",
        response.status()
    );
    let to = location(&response);
    assert_eq!(query(&to, "error"), None, "authorization failed: {to}");
    query(&to, "code").expect("no code in redirect")
}

/// `POST /token` with client_secret_basic (or the public client's id).
pub async fn token(app: &TestApp, rp: &Rp, form: &[(&str, &str)]) -> reqwest::Response {
    steps::token(
        &reqwest::Client::new(),
        app.url("/token"),
        &rp.client_id,
        rp.secret.as_deref(),
        form,
    )
    .send()
    .await
    .unwrap()
}

pub async fn exchange(app: &TestApp, rp: &Rp, code: &str, verifier: &str) -> reqwest::Response {
    token(
        app,
        rp,
        &steps::code_grant(code, &rp.redirect_uri, verifier),
    )
    .await
}

/// The payload of a JWT, without verifying it.
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

pub async fn oauth_error(response: reqwest::Response, status: u16, code: &str, case: &str) {
    let got = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "case {case}: {text}");
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["error"], code, "case {case}: {text}");
}

/// `GET /userinfo` with a Bearer token.
pub async fn userinfo(app: &TestApp, access_token: &str) -> reqwest::Response {
    steps::userinfo(&reqwest::Client::new(), app.url("/userinfo"), access_token)
        .send()
        .await
        .unwrap()
}
