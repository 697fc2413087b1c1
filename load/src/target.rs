//! The steps of a citizen's journey, spoken over HTTP to a running Civitas
//! exactly as a browser and a relying party would: only public endpoints,
//! so any deployment can be the target.

use std::collections::HashMap;
use std::sync::RwLock;
use std::time::Duration;

use anyhow::Context as _;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::RngExt;
use reqwest::header::{HeaderValue, LOCATION, ORIGIN, SET_COOKIE};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use url::Url;

use crate::authenticator::{Authenticator, Passkey};
use crate::client::SendAsClient;
use crate::failure::{Context, Failure};
use crate::steps::{self, SECURE_SESSION_COOKIE, SESSION_COOKIE};

/// A confidential relying party registered with `civitas client create`.
#[derive(Debug, Clone)]
pub struct App {
    pub client_id: String,
    pub client_secret: String,
    pub redirect_uri: String,
}

/// Tokens from the token endpoint.
#[derive(Debug)]
pub struct Tokens {
    pub access_token: String,
    pub id_token: String,
    pub refresh_token: Option<String>,
}

/// A running Civitas and what the journeys need from it.
pub struct Target {
    http: Client,
    base: Url,
    /// The issuer from discovery: the WebAuthn origin, the `Origin` header
    /// of browser requests, and the `iss` of ID tokens.
    pub issuer: String,
    origin: HeaderValue,
    pub authenticator: Authenticator,
    app: Option<App>,
    regions: Vec<String>,
    /// Verification keys by kid, fetched once and again on an unknown kid.
    jwks: RwLock<HashMap<String, (Algorithm, DecodingKey)>>,
}

impl Target {
    /// Reads discovery, JWKS and regions from `base`.
    pub async fn connect(base: &str, app: Option<App>, timeout: Duration) -> anyhow::Result<Self> {
        let base = Url::parse(base).with_context(|| format!("--target {base:?} is not a URL"))?;
        let http = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .pool_max_idle_per_host(1024)
            .tcp_nodelay(true)
            .build()?;
        let discovery: Value = http
            .get(base.join("/.well-known/openid-configuration")?)
            .send()
            .await
            .with_context(|| format!("cannot reach {base}"))?
            .error_for_status()?
            .json()
            .await
            .context("the discovery document is not JSON")?;
        let issuer = discovery["issuer"]
            .as_str()
            .context("the discovery document names no issuer")?
            .to_string();
        let regions: Value = http
            .get(base.join("/api/v1/regions")?)
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        let regions: Vec<String> = regions["regions"]
            .as_array()
            .map(|list| {
                list.iter()
                    .filter_map(|r| r["code"].as_str().map(str::to_string))
                    .collect()
            })
            .unwrap_or_default();
        anyhow::ensure!(!regions.is_empty(), "the target lists no regions");
        let target = Self {
            http,
            origin: HeaderValue::from_str(issuer.trim_end_matches('/'))?,
            authenticator: Authenticator::new(&issuer),
            issuer,
            base,
            app,
            regions,
            jwks: RwLock::new(HashMap::new()),
        };
        target.refresh_jwks().await.map_err(anyhow::Error::new)?;
        Ok(target)
    }

    /// The HTTP client, for requests the journeys do not make.
    pub(crate) fn http(&self) -> &Client {
        &self.http
    }

    /// The `Origin` a browser on the issuer's pages sends.
    pub(crate) fn origin(&self) -> &HeaderValue {
        &self.origin
    }

    pub(crate) fn url(&self, path: &str) -> Result<Url, Failure> {
        self.base.join(path).kind("bad url")
    }

    pub(crate) fn app(&self) -> Result<&App, Failure> {
        self.app
            .as_ref()
            .kind("this scenario needs --client-id, --client-secret and --redirect-uri")
    }

    /// Reads a response's body, failing unless the status is `want`.
    async fn expect(response: Response, step: &str, want: StatusCode) -> Result<String, Failure> {
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|e| Failure::transport(step, &e))?;
        if status != want {
            return Err(Failure::status(step, status, &body));
        }
        Ok(body)
    }

    async fn post_json(
        &self,
        path: &str,
        body: &Value,
        want: StatusCode,
    ) -> Result<(Value, Option<String>), Failure> {
        let step = format!("POST {path}");
        let response = self
            .http
            .post(self.url(path)?)
            .header(ORIGIN, self.origin.clone())
            .json(body)
            .send_as_client(&step)
            .await?;
        let cookie = session_cookie(&response);
        let text = Self::expect(response, &step, want).await?;
        let value = serde_json::from_str(&text).kind(&format!("bad json {step}"))?;
        Ok((value, cookie))
    }

    /// Enrolls a new citizen with a new passkey; returns the passkey and the
    /// session cookie enrollment opens.
    pub async fn enroll(&self) -> Result<(Passkey, String), Failure> {
        let form = self.person();
        let (started, _) = self
            .post_json(steps::ENROLLMENT_START, &form, StatusCode::OK)
            .await?;
        let (credential, passkey) = self
            .authenticator
            .create(&started["publicKey"])
            .kind("authenticator refused to create")?;
        let body = steps::ceremony_answer(&started, credential);
        let (enrolled, cookie) = self
            .post_json(steps::ENROLLMENT_FINISH, &body, StatusCode::CREATED)
            .await?;
        enrolled["national_id"]
            .as_str()
            .kind("no national_id after enrollment")?;
        Ok((passkey, cookie.kind("no session cookie after enrollment")?))
    }

    /// A new person: random names, so the duplicate check never matches.
    pub(crate) fn person(&self) -> Value {
        let mut rng = rand::rng();
        let name = |prefix: &str, rng: &mut rand::rngs::ThreadRng| {
            let tail: String = (0..10)
                .map(|_| char::from(b'a' + rng.random_range(0..26u8)))
                .collect();
            format!("{prefix}{tail}")
        };
        let region = &self.regions[rng.random_range(0..self.regions.len())];
        json!({
            "given_name": name("Load", &mut rng),
            "family_name": name("Citizen", &mut rng),
            "birth_date": format!(
                "{}-{:02}-{:02}",
                rng.random_range(1940..2006),
                rng.random_range(1..13),
                rng.random_range(1..29)
            ),
            "region": region,
        })
    }

    /// Usernameless passkey sign-in; returns the session cookie.
    pub async fn sign_in(&self, passkey: &mut Passkey) -> Result<String, Failure> {
        let (started, _) = self
            .post_json(steps::LOGIN_START, &json!({}), StatusCode::OK)
            .await?;
        let credential = self
            .authenticator
            .get(passkey, &started["publicKey"])
            .kind("authenticator refused to sign")?;
        let body = steps::ceremony_answer(&started, credential);
        let (_, cookie) = self
            .post_json(steps::LOGIN_FINISH, &body, StatusCode::OK)
            .await?;
        cookie.kind("no session cookie after sign-in")
    }

    /// `GET /authorize` for `scope` with PKCE; returns the code and the
    /// verifier. With `consent`, a consent page is answered "allow"; without,
    /// anything but a straight redirect with a code is a failure.
    pub async fn authorize(
        &self,
        cookie: &str,
        scope: &str,
        nonce: &str,
        consent: bool,
    ) -> Result<(String, String), Failure> {
        let app = self.app()?;
        let (verifier, challenge) = steps::pkce();
        let state = URL_SAFE_NO_PAD.encode(rand::random::<[u8; 12]>());
        let step = "GET /authorize";
        let response = self
            .http
            .get(self.url("/authorize")?)
            .query(&steps::authorize_params(
                &app.client_id,
                &app.redirect_uri,
                scope,
                &state,
                nonce,
                &challenge,
            ))
            .header("Cookie", cookie)
            .send_as_client(step)
            .await?;
        let response = if response.status() == StatusCode::OK && consent {
            let page = Self::expect(response, step, StatusCode::OK).await?;
            self.allow(cookie, &page).await?
        } else {
            response
        };
        let code = self.code_from(response, step, &state).await?;
        Ok((code, verifier))
    }

    /// Answers the consent page "allow".
    async fn allow(&self, cookie: &str, page: &str) -> Result<Response, Failure> {
        let request_id = steps::consent_request_id(page).kind("no consent form")?;
        let step = "POST /authorize/consent";
        steps::consent(
            &self.http,
            self.url("/authorize/consent")?,
            request_id,
            "allow",
        )
        .header(ORIGIN, self.origin.clone())
        .header("Cookie", cookie)
        .send_as_client(step)
        .await
    }

    /// The code in a redirect to the app.
    async fn code_from(
        &self,
        response: Response,
        step: &str,
        state: &str,
    ) -> Result<String, Failure> {
        let app = self.app()?;
        if !response.status().is_redirection() {
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            return Err(Failure::status(step, status, &body));
        }
        let location = response
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .kind("no Location after /authorize")?;
        let to = Url::parse(location).kind("Location is not absolute")?;
        if !location.starts_with(&app.redirect_uri) {
            return Err(Failure::new(
                "redirect not to the app",
                location.to_string(),
            ));
        }
        let query: HashMap<_, _> = to.query_pairs().into_owned().collect();
        if let Some(error) = query.get("error") {
            return Err(Failure::new(
                format!("authorize error {error}"),
                location.to_string(),
            ));
        }
        if query.get("state").map(String::as_str) != Some(state) {
            return Err(Failure::new("state mismatch", location.to_string()));
        }
        query.get("code").cloned().kind("no code in redirect")
    }

    async fn token(&self, form: &[(&str, &str)]) -> Result<Tokens, Failure> {
        let app = self.app()?;
        let step = "POST /token";
        let response = steps::token(
            &self.http,
            self.url("/token")?,
            &app.client_id,
            Some(&app.client_secret),
            form,
        )
        .send_as_client(step)
        .await?;
        let text = Self::expect(response, step, StatusCode::OK).await?;
        let body: Value = serde_json::from_str(&text).kind("bad json POST /token")?;
        let field = |name: &str| body[name].as_str().map(str::to_string);
        Ok(Tokens {
            access_token: field("access_token").kind("no access_token")?,
            id_token: field("id_token").kind("no id_token")?,
            refresh_token: field("refresh_token"),
        })
    }

    /// Exchanges a code (client_secret_basic, PKCE verifier).
    pub async fn exchange(&self, code: &str, verifier: &str) -> Result<Tokens, Failure> {
        let app = self.app()?;
        self.token(&steps::code_grant(code, &app.redirect_uri, verifier))
            .await
    }

    /// A refresh-token grant; the answer carries the rotated token.
    pub async fn refresh(&self, refresh_token: &str) -> Result<Tokens, Failure> {
        self.token(&steps::refresh_grant(refresh_token)).await
    }

    /// Checks the ID token's signature against JWKS, and its issuer,
    /// audience, expiry and nonce; returns its `sub`.
    pub async fn check_id_token(
        &self,
        token: &str,
        nonce: Option<&str>,
    ) -> Result<String, Failure> {
        let header = jsonwebtoken::decode_header(token).kind("bad id token header")?;
        let kid = header.kid.kind("id token has no kid")?;
        if !self.knows(&kid) {
            // Keys were rotated during the run: fetch JWKS again.
            self.refresh_jwks().await?;
        }
        let keys = self
            .jwks
            .read()
            .map_err(|_| Failure::new("jwks lock", "poisoned"))?;
        let (alg, key) = keys.get(&kid).kind("id token kid not in JWKS")?;
        if header.alg != *alg {
            return Err(Failure::new(
                "bad id token alg",
                format!("{:?}", header.alg),
            ));
        }
        let app = self.app()?;
        let mut validation = Validation::new(*alg);
        validation.set_issuer(&[self.issuer.as_str()]);
        validation.set_audience(&[app.client_id.as_str()]);
        validation.leeway = 5;
        let data = jsonwebtoken::decode::<Value>(token, key, &validation)
            .kind("bad id token signature or claims")?;
        if let Some(nonce) = nonce
            && data.claims["nonce"].as_str() != Some(nonce)
        {
            return Err(Failure::new("bad id token nonce", data.claims.to_string()));
        }
        data.claims["sub"]
            .as_str()
            .map(str::to_string)
            .kind("id token has no sub")
    }

    fn knows(&self, kid: &str) -> bool {
        self.jwks.read().is_ok_and(|keys| keys.contains_key(kid))
    }

    async fn refresh_jwks(&self) -> Result<(), Failure> {
        let step = "GET /jwks.json";
        let response = self
            .http
            .get(self.url("/jwks.json")?)
            .send_as_client(step)
            .await?;
        let text = Self::expect(response, step, StatusCode::OK).await?;
        let set: jsonwebtoken::jwk::JwkSet = serde_json::from_str(&text).kind("bad JWKS")?;
        let mut keys = HashMap::new();
        for jwk in &set.keys {
            let (Some(kid), Some(alg)) = (&jwk.common.key_id, jwk.common.key_algorithm) else {
                continue;
            };
            let alg: Algorithm = alg.to_string().parse().kind("bad JWK alg")?;
            keys.insert(
                kid.clone(),
                (alg, DecodingKey::from_jwk(jwk).kind("bad JWK")?),
            );
        }
        *self
            .jwks
            .write()
            .map_err(|_| Failure::new("jwks lock", "poisoned"))? = keys;
        Ok(())
    }

    /// `GET /userinfo`; returns its `sub`.
    pub async fn userinfo(&self, access_token: &str) -> Result<String, Failure> {
        let step = "GET /userinfo";
        let response = steps::userinfo(&self.http, self.url("/userinfo")?, access_token)
            .send_as_client(step)
            .await?;
        let text = Self::expect(response, step, StatusCode::OK).await?;
        let body: Value = serde_json::from_str(&text).kind("bad json GET /userinfo")?;
        body["sub"]
            .as_str()
            .map(str::to_string)
            .kind("userinfo has no sub")
    }

    /// A plain GET that must answer 200 (discovery, JWKS).
    pub async fn fetch(&self, path: &str) -> Result<(), Failure> {
        let step = format!("GET {path}");
        let response = self.http.get(self.url(path)?).send_as_client(&step).await?;
        Self::expect(response, &step, StatusCode::OK).await?;
        Ok(())
    }
}

/// The session cookie in a response's `Set-Cookie` headers, as `NAME=TOKEN`
/// for a `Cookie` header.
fn session_cookie(response: &Response) -> Option<String> {
    response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| {
            let (pair, _) = c.split_once(';').unwrap_or((c, ""));
            let (name, value) = pair.split_once('=')?;
            let name = name.trim();
            let ours = name == SESSION_COOKIE || name == SECURE_SESSION_COOKIE;
            (ours && !value.is_empty()).then(|| format!("{name}={value}"))
        })
}
