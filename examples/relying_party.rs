//! "Sign in with Civitas": a minimal OpenID Connect relying party.
//!
//! A tiny web application that lets a citizen sign in with their Civitas
//! identity using the OpenID Connect authorization code flow with PKCE
//! (S256), then shows the verified ID-token claims and what the UserInfo
//! endpoint returned. It is written with the `openidconnect` crate, so it also
//! checks that Civitas works with an independent, widely used client library.
//!
//! What it does:
//!
//! 1. At start-up it fetches `<issuer>/.well-known/openid-configuration` and
//!    the JWKS it names (and stops with a clear message if it cannot).
//! 2. `GET /login` makes a fresh `state`, `nonce` and PKCE verifier, keeps
//!    them in memory (keyed by `state`, for ten minutes), binds the `state` to
//!    this browser with a short-lived cookie and redirects to the provider.
//! 3. `GET /callback` checks `state` (and the cookie), checks `iss` (RFC 9207),
//!    exchanges the code with the PKCE verifier, verifies the ID token
//!    (signature against the JWKS, `iss`, `aud`, `exp`, `nonce`, and `at_hash`
//!    if present), calls UserInfo with the access token (whose `sub` must
//!    match the ID token's) and renders the claims.
//!
//! Run it against a local Civitas:
//!
//! ```text
//! cargo run --release -- serve &
//! cargo run --release -- client create --name "Example app" --redirect-uri http://localhost:9090/callback
//! # prints {"client_id": "...", "client_secret": "..."}
//! cargo run --example relying_party -- --client-id ID --client-secret SECRET
//! # open http://localhost:9090
//! ```
//!
//! For a public client (PKCE only, token endpoint authentication `none`),
//! create it with `client create ... --public` and leave out
//! `--client-secret`. Ask for more than `profile` with, for example,
//! `--scope profile --scope address --scope age` (`openid` is always sent).
//! Every option can also come from the environment:
//! `CIVITAS_ISSUER`, `RP_CLIENT_ID`, `RP_CLIENT_SECRET`, `RP_LISTEN`,
//! `RP_PUBLIC_URL` and `RP_SCOPE` (space-separated). Run with `--help` for
//! details.
//!
//! Routes: `GET /` (the "Sign in with Civitas" link), `GET /login`,
//! `GET /callback`.
//!
//! This is an example, not a production client: pending sign-ins live in
//! process memory, and the HTTP client has no TLS, so the issuer must be an
//! `http://` URL such as a local Civitas.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::process::ExitCode;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use actix_web::cookie::{Cookie, SameSite};
use actix_web::http::{StatusCode, header};
use actix_web::{App, HttpRequest, HttpResponse, HttpServer, web};
use anyhow::{Context, anyhow};
use clap::Parser;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreSubjectIdentifierType, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AdditionalProviderMetadata, AuthType, AuthorizationCode,
    Client, ClientId, ClientSecret, CsrfToken, DiscoveryError, EmptyExtraTokenFields,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpClientError, IdTokenFields, IssuerUrl,
    JsonWebKey, JwsSigningAlgorithm, Nonce, OAuth2TokenResponse, PkceCodeChallenge,
    PkceCodeVerifier, ProviderMetadata, RedirectUrl, RequestTokenError, Scope,
    StandardErrorResponse, StandardTokenResponse, TokenResponse, UserInfoClaims, UserInfoError,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// How long a started sign-in stays valid.
const PENDING_TTL: Duration = Duration::from_secs(10 * 60);
/// Cookie that binds a pending sign-in (`state`) to the browser that started it.
const STATE_COOKIE: &str = "rp_state";

/// Example OpenID Connect relying party: "Sign in with Civitas".
#[derive(Parser, Debug)]
#[command(name = "relying_party", version, about)]
struct Args {
    /// Issuer of the Civitas OpenID Provider, exactly as it publishes it
    /// (scheme, host and port, no trailing slash).
    #[arg(long, env = "CIVITAS_ISSUER", default_value = "http://localhost:8080")]
    issuer: String,

    /// Client ID registered with Civitas (`civitas client create`).
    #[arg(long, env = "RP_CLIENT_ID")]
    client_id: String,

    /// Client secret. Without it the client is public: PKCE only, token
    /// endpoint authentication `none`.
    #[arg(long, env = "RP_CLIENT_SECRET", hide_env_values = true)]
    client_secret: Option<String>,

    /// Address to listen on.
    #[arg(long, env = "RP_LISTEN", default_value = "127.0.0.1:9090")]
    listen: String,

    /// Public base URL of this app; the redirect URI is `<public-url>/callback`.
    #[arg(long, env = "RP_PUBLIC_URL", default_value = "http://localhost:9090")]
    public_url: String,

    /// Scope to request besides `openid` (which is always sent). Repeat the
    /// option, or separate scopes with spaces.
    #[arg(
        long = "scope",
        env = "RP_SCOPE",
        default_value = "profile",
        value_delimiter = ' '
    )]
    scopes: Vec<String>,
}

/// Claims beyond the standard OpenID Connect ones, such as Civitas's
/// `age_over_18`. Keeping them as JSON means nothing the provider sends is
/// silently dropped.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct OtherClaims {
    #[serde(flatten)]
    claims: BTreeMap<String, Value>,
}
impl AdditionalClaims for OtherClaims {}

/// Discovery fields the `openidconnect` crate does not model itself.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct ExtraProviderMetadata {
    /// RFC 9207: the provider promises an `iss` parameter on every
    /// authorization response, so a response without one must be rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    authorization_response_iss_parameter_supported: Option<bool>,
}
impl AdditionalProviderMetadata for ExtraProviderMetadata {}

type ProviderInfo = ProviderMetadata<
    ExtraProviderMetadata,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

type TokenResponseWithIdToken = StandardTokenResponse<
    IdTokenFields<
        OtherClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

/// `CoreClient` with [`OtherClaims`], in the state `from_provider_metadata`
/// leaves it: authorization URL set, token and UserInfo URLs "maybe" set.
type OidcClient = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    TokenResponseWithIdToken,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// The reqwest the `openidconnect` crate is built with (not the project's own).
type HttpClient = openidconnect::reqwest::Client;
type ReqwestError = openidconnect::reqwest::Error;

/// What `/login` remembers until the provider sends the browser back.
struct PendingSignIn {
    started: Instant,
    nonce: Nonce,
    pkce_verifier: PkceCodeVerifier,
}

struct AppState {
    client: OidcClient,
    http: HttpClient,
    issuer: IssuerUrl,
    client_secret: Option<ClientSecret>,
    scopes: Vec<Scope>,
    iss_parameter_required: bool,
    secure_cookies: bool,
    /// `host[:port]` of `--public-url`, where the state cookie must be set.
    public_host: String,
    /// `--public-url` without a trailing slash.
    public_base: String,
    pending: Mutex<HashMap<String, PendingSignIn>>,
}

impl AppState {
    fn remember(&self, state: &CsrfToken, pending: PendingSignIn) {
        let mut map = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        map.retain(|_, p| p.started.elapsed() < PENDING_TTL);
        map.insert(state.secret().clone(), pending);
    }

    /// Removes and returns the pending sign-in for `state`: each is usable once.
    fn take(&self, state: &str) -> Option<PendingSignIn> {
        let mut map = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        map.remove(state)
            .filter(|p| p.started.elapsed() < PENDING_TTL)
    }
}

fn main() -> ExitCode {
    let args = Args::parse();
    match actix_web::rt::System::new().block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let issuer = IssuerUrl::new(args.issuer.clone())
        .with_context(|| format!("--issuer {:?} is not a URL", args.issuer))?;
    let public_url = url::Url::parse(&args.public_url)
        .with_context(|| format!("--public-url {:?} is not a URL", args.public_url))?;
    let redirect_uri = format!("{}/callback", public_url.as_str().trim_end_matches('/'));
    let redirect_url = RedirectUrl::new(redirect_uri.clone())
        .with_context(|| format!("redirect URI {redirect_uri:?} is not a URL"))?;
    let client_secret = args
        .client_secret
        .filter(|s| !s.is_empty())
        .map(ClientSecret::new);
    let scopes: Vec<Scope> = args
        .scopes
        .iter()
        .map(|s| s.trim())
        // `openid` is added by the crate; asking for it twice would be odd.
        .filter(|s| !s.is_empty() && *s != "openid")
        .map(|s| Scope::new(s.to_owned()))
        .collect();

    // Never follow redirects (the openidconnect crate's docs insist): a
    // redirect could point this client at internal services (SSRF).
    // Connections are not pooled: they would be shared between the runtimes
    // of actix-web's worker threads.
    let http = openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(15))
        .build()
        .context("cannot build the HTTP client")?;

    let metadata = ProviderInfo::discover_async(issuer.clone(), &http)
        .await
        .map_err(|e| anyhow!(discovery_failure(&issuer, &e)))?;

    // Client authentication at the token endpoint. The crate default with a
    // secret is HTTP Basic (client_secret_basic); use client_secret_post when
    // that is all the provider supports. Without a secret the client ID goes
    // in the request body and nothing else: method `none`.
    let auth_methods = metadata
        .token_endpoint_auth_methods_supported()
        .cloned()
        // Discovery 1.0: when omitted, the default is client_secret_basic.
        .unwrap_or_else(|| vec![CoreClientAuthMethod::ClientSecretBasic]);
    let (auth_type, auth_method) = match &client_secret {
        None => (AuthType::RequestBody, "none"),
        Some(_) if auth_methods.contains(&CoreClientAuthMethod::ClientSecretBasic) => {
            (AuthType::BasicAuth, "client_secret_basic")
        }
        Some(_) if auth_methods.contains(&CoreClientAuthMethod::ClientSecretPost) => {
            (AuthType::RequestBody, "client_secret_post")
        }
        Some(_) => (AuthType::BasicAuth, "client_secret_basic (not advertised!)"),
    };
    if client_secret.is_none() && !auth_methods.contains(&CoreClientAuthMethod::None) {
        eprintln!(
            "warning: the provider does not list token_endpoint_auth_method `none`; \
             a public client (no --client-secret) may be refused"
        );
    }

    let iss_parameter_required = metadata
        .additional_metadata()
        .authorization_response_iss_parameter_supported
        .unwrap_or(false);
    let algs = metadata
        .id_token_signing_alg_values_supported()
        .iter()
        .filter_map(|alg| match serde_json::to_value(alg) {
            Ok(Value::String(name)) => Some(name),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(", ");
    let keys = metadata.jwks().keys().len();
    let token_endpoint = metadata
        .token_endpoint()
        .map_or("(none)".to_owned(), |u| u.to_string());
    let userinfo_endpoint = metadata
        .userinfo_endpoint()
        .map_or("(none)".to_owned(), |u| u.to_string());
    let authorization_endpoint = metadata.authorization_endpoint().to_string();

    let client = OidcClient::from_provider_metadata(
        metadata,
        ClientId::new(args.client_id.clone()),
        client_secret.clone(),
    )
    .set_redirect_uri(redirect_url)
    .set_auth_type(auth_type);

    println!("Discovered OpenID Provider {}", issuer.as_str());
    println!("  authorization endpoint: {authorization_endpoint}");
    println!("  token endpoint:         {token_endpoint} (client auth: {auth_method})");
    println!("  userinfo endpoint:      {userinfo_endpoint}");
    println!("  ID token algorithms:    {algs}; {keys} usable key(s) in the JWKS");
    println!("  iss on responses:       {iss_parameter_required} (RFC 9207)");
    println!("Client {} with redirect URI {redirect_uri}", args.client_id);

    let state = web::Data::new(AppState {
        client,
        http,
        issuer,
        client_secret,
        scopes,
        iss_parameter_required,
        secure_cookies: public_url.scheme() == "https",
        public_host: match (public_url.host_str(), public_url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_owned(),
            (None, _) => String::new(),
        },
        public_base: public_url.as_str().trim_end_matches('/').to_owned(),
        pending: Mutex::new(HashMap::new()),
    });

    let server = HttpServer::new(move || {
        App::new()
            .app_data(state.clone())
            .route("/", web::get().to(index))
            .route("/login", web::get().to(login))
            .route("/callback", web::get().to(callback))
    })
    .workers(2)
    .bind(&args.listen)
    .with_context(|| format!("cannot listen on {}", args.listen))?;
    println!(
        "Listening on {}; open {}",
        args.listen,
        public_url.as_str().trim_end_matches('/')
    );
    server.run().await.context("the web server failed")
}

/// A clear, one-paragraph reason why discovery failed, with a hint.
fn discovery_failure(
    issuer: &IssuerUrl,
    err: &DiscoveryError<HttpClientError<ReqwestError>>,
) -> String {
    let url = issuer
        .join(".well-known/openid-configuration")
        .map_or_else(|_| issuer.to_string(), |u| u.to_string());
    let mut msg = format!(
        "cannot discover the OpenID Provider at {url}: {}",
        error_chain(err)
    );
    match err {
        DiscoveryError::Request(_) => {
            msg.push_str("\nIs Civitas running? Start it with `cargo run --release -- serve`");
            if issuer.url().scheme() == "https" {
                msg.push_str(" (this example has no TLS support: use an http:// issuer)");
            }
            msg.push_str(", or pass --issuer / CIVITAS_ISSUER.");
        }
        DiscoveryError::Response(_, body, _) => {
            let _ = write!(msg, "\nResponse body: {}", excerpt(body));
        }
        DiscoveryError::Validation(_) => {
            msg.push_str(
                "\nThe issuer in the discovery document must equal --issuer character for character.",
            );
        }
        _ => {}
    }
    msg
}

// ---------------------------------------------------------------------------
// Routes

async fn index() -> HttpResponse {
    page(
        StatusCode::OK,
        "Example app",
        "<h1>Example app</h1>\n\
         <p>This site lets you sign in with your national digital identity.</p>\n\
         <p><a id=\"sign-in\" class=\"button\" href=\"/login\">Sign in with Civitas</a></p>\n",
    )
}

async fn login(req: HttpRequest, app: web::Data<AppState>) -> HttpResponse {
    // The state cookie must be set on the host the provider will send the
    // browser back to (the redirect URI's), or the callback cannot find it:
    // e.g. when the app was opened as 127.0.0.1 but registered as localhost.
    if req.connection_info().host() != app.public_host {
        return HttpResponse::SeeOther()
            .insert_header((header::LOCATION, format!("{}/login", app.public_base)))
            .finish();
    }
    let (pkce_challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let (auth_url, state, nonce) = app
        .client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scopes(app.scopes.iter().cloned())
        .set_pkce_challenge(pkce_challenge)
        .url();
    app.remember(
        &state,
        PendingSignIn {
            started: Instant::now(),
            nonce,
            pkce_verifier,
        },
    );
    let cookie = Cookie::build(STATE_COOKIE, state.secret().clone())
        .path("/callback")
        .http_only(true)
        .secure(app.secure_cookies)
        // Lax, not Strict: the provider sends the browser back with a
        // top-level cross-site navigation, which must carry the cookie.
        .same_site(SameSite::Lax)
        .max_age(actix_web::cookie::time::Duration::seconds(
            PENDING_TTL.as_secs().try_into().unwrap_or(600),
        ))
        .finish();
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, auth_url.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(cookie)
        .finish()
}

async fn callback(req: HttpRequest, app: web::Data<AppState>) -> HttpResponse {
    let mut response = match complete_sign_in(&req, &app).await {
        Ok(body) => page(StatusCode::OK, "Signed in", &body),
        Err(failure) => failure.page(),
    };
    // The state cookie is single-use: always remove it.
    let cookie = Cookie::build(STATE_COOKIE, "").path("/callback").finish();
    if let Err(e) = response.add_removal_cookie(&cookie) {
        eprintln!("cannot remove the state cookie: {e}");
    }
    response
}

/// Why a sign-in did not complete, shown to the user.
struct Failure {
    status: StatusCode,
    title: &'static str,
    detail: String,
}

impl Failure {
    fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        Failure {
            status,
            title,
            detail: detail.into(),
        }
    }

    fn bad_request(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "Sign-in failed", detail)
    }

    /// The provider answered, but not with something this client can accept.
    fn provider(title: &'static str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_GATEWAY, title, detail)
    }

    fn page(&self) -> HttpResponse {
        page(
            self.status,
            self.title,
            &format!(
                "<h1>{}</h1>\n<pre id=\"error\">{}</pre>\n<p><a href=\"/\">Start again</a></p>\n",
                escape(self.title),
                escape(&self.detail)
            ),
        )
    }
}

async fn complete_sign_in(req: &HttpRequest, app: &AppState) -> Result<String, Failure> {
    let params = query_params(req.query_string())?;
    let param = |name: &str| params.get(name).map(String::as_str);

    // 1. The provider may send the browser back with an error instead of a code.
    if let Some(error) = param("error") {
        if let Some(state) = param("state") {
            app.take(state);
        }
        let mut detail = format!("error: {error}");
        if let Some(description) = param("error_description") {
            let _ = write!(detail, "\nerror_description: {description}");
        }
        if let Some(uri) = param("error_uri") {
            let _ = write!(detail, "\nerror_uri: {uri}");
        }
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "The provider did not sign you in",
            detail,
        ));
    }

    // 2. state: must be one we issued, to this browser, and not used yet.
    let state = param("state").ok_or_else(|| Failure::bad_request("the response has no state"))?;
    let cookie = req.cookie(STATE_COOKIE).ok_or_else(|| {
        Failure::bad_request(
            "this browser did not start a sign-in (no state cookie, or it expired): \
             start again from the home page",
        )
    })?;
    if cookie.value() != state {
        return Err(Failure::bad_request(
            "the state in the response is not the one this browser's sign-in started with",
        ));
    }
    let pending = app.take(state).ok_or_else(|| {
        Failure::bad_request(
            "unknown, expired or already used state: start again from the home page",
        )
    })?;

    // 3. iss (RFC 9207): who actually issued this response.
    match param("iss") {
        Some(iss) if iss != app.issuer.as_str() => {
            return Err(Failure::bad_request(format!(
                "the response comes from issuer {iss:?}, expected {:?}",
                app.issuer.as_str()
            )));
        }
        None if app.iss_parameter_required => {
            return Err(Failure::bad_request(
                "the response has no iss parameter, although the provider's discovery document \
                 sets authorization_response_iss_parameter_supported",
            ));
        }
        _ => {}
    }

    let code = param("code").ok_or_else(|| Failure::bad_request("the response has no code"))?;

    // 4. Exchange the code, proving with the PKCE verifier that we asked for it.
    let tokens = app
        .client
        .exchange_code(AuthorizationCode::new(code.to_owned()))
        .map_err(|e| {
            Failure::provider(
                "The provider has no token endpoint",
                format!("{e} (token_endpoint is missing from the discovery document)"),
            )
        })?
        .set_pkce_verifier(pending.pkce_verifier)
        .request_async(&app.http)
        .await
        .map_err(|e| Failure::provider("The token request failed", token_failure(&e)))?;

    // 5. Verify the ID token: signature (JWKS), iss, aud, exp, nonce.
    let id_token = tokens.id_token().ok_or_else(|| {
        Failure::provider(
            "No ID token",
            "the token response has no id_token (was the openid scope granted?)",
        )
    })?;
    let verifier = app.client.id_token_verifier();
    let claims = id_token
        .claims(&verifier, &pending.nonce)
        .map_err(|e| Failure::provider("The ID token is not valid", error_chain(&e)))?;

    // at_hash is optional in the code flow, but when present it must match.
    if let Some(expected) = claims.access_token_hash() {
        let actual = access_token_hash(app, id_token, &verifier, tokens.access_token())?;
        if actual != *expected {
            return Err(Failure::provider(
                "The ID token is not valid",
                format!(
                    "at_hash is {:?} but the access token hashes to {:?}",
                    expected.as_str(),
                    actual.as_str()
                ),
            ));
        }
    }

    // 6. UserInfo, with the access token; its sub must be the ID token's.
    let userinfo: UserInfoClaims<OtherClaims, CoreGenderClaim> = app
        .client
        .user_info(
            tokens.access_token().clone(),
            Some(claims.subject().clone()),
        )
        .map_err(|e| {
            Failure::provider(
                "The provider has no UserInfo endpoint",
                format!("{e} (userinfo_endpoint is missing from the discovery document)"),
            )
        })?
        .request_async(&app.http)
        .await
        .map_err(|e| Failure::provider("The UserInfo request failed", userinfo_failure(&e)))?;

    // 7. Show what we learnt.
    let id_json = serde_json::to_value(claims).unwrap_or(Value::Null);
    let userinfo_json = serde_json::to_value(&userinfo).unwrap_or(Value::Null);

    let mut id_rows = vec![
        ("sub", claims.subject().as_str().to_owned()),
        ("iss", claims.issuer().as_str().to_owned()),
        (
            "aud",
            claims
                .audiences()
                .iter()
                .map(|a| a.as_str())
                .collect::<Vec<_>>()
                .join(" "),
        ),
    ];
    if let Some(t) = claims.auth_time() {
        id_rows.push((
            "auth_time",
            format!("{} ({})", t.timestamp(), t.to_rfc3339()),
        ));
    }
    if let Some(acr) = claims.auth_context_ref() {
        id_rows.push(("acr", acr.as_str().to_owned()));
    }
    if let Some(amr) = claims.auth_method_refs() {
        id_rows.push((
            "amr",
            amr.iter().map(|m| m.as_str()).collect::<Vec<_>>().join(" "),
        ));
    }
    let id_table = claims_table(
        "id-token-claims",
        id_rows,
        &id_json,
        &["sub", "iss", "aud", "auth_time", "acr", "amr"],
    );

    let mut ui_rows = vec![("sub", userinfo.subject().as_str().to_owned())];
    for (name, value) in [
        (
            "name",
            userinfo
                .name()
                .and_then(|c| c.get(None))
                .map(|v| v.as_str()),
        ),
        (
            "given_name",
            userinfo
                .given_name()
                .and_then(|c| c.get(None))
                .map(|v| v.as_str()),
        ),
        (
            "family_name",
            userinfo
                .family_name()
                .and_then(|c| c.get(None))
                .map(|v| v.as_str()),
        ),
        ("birthdate", userinfo.birthdate().map(|v| v.as_str())),
    ] {
        if let Some(value) = value {
            ui_rows.push((name, value.to_owned()));
        }
    }
    if let Some(address) = userinfo.address() {
        let text = match &address.formatted {
            Some(formatted) => formatted.as_str().to_owned(),
            None => serde_json::to_string(address).unwrap_or_default(),
        };
        ui_rows.push(("address", text));
    }
    let extra = &userinfo.additional_claims().claims;
    for name in ["age_over_18", "age_over_21"] {
        if let Some(value) = extra.get(name) {
            ui_rows.push((name, json_text(value)));
        }
    }
    let userinfo_table = claims_table(
        "userinfo-claims",
        ui_rows,
        &userinfo_json,
        &[
            "sub",
            "name",
            "given_name",
            "family_name",
            "birthdate",
            "address",
            "age_over_18",
            "age_over_21",
        ],
    );

    let greeting = userinfo
        .name()
        .and_then(|c| c.get(None))
        .map(|n| n.as_str().to_owned())
        .unwrap_or_else(|| claims.subject().as_str().to_owned());

    let mut body = String::new();
    let _ = write!(
        body,
        "<h1>Signed in as {}</h1>\n\
         <section id=\"claims\">\n\
         <h2>Verified ID token</h2>\n{id_table}\n\
         <h2>UserInfo</h2>\n{userinfo_table}\n\
         <h2>Raw JSON</h2>\n\
         <h3>ID token claims</h3>\n<pre id=\"id-token-json\">{}</pre>\n\
         <h3>UserInfo response</h3>\n<pre id=\"userinfo-json\">{}</pre>\n\
         </section>\n\
         <p><a href=\"/\">Home</a> · <a href=\"/login\">Sign in again</a></p>\n",
        escape(&greeting),
        escape(&serde_json::to_string_pretty(&id_json).unwrap_or_default()),
        escape(&serde_json::to_string_pretty(&userinfo_json).unwrap_or_default()),
    );
    Ok(body)
}

/// The `at_hash` the access token should have, for the ID token's algorithm.
fn access_token_hash(
    app: &AppState,
    id_token: &openidconnect::IdToken<
        OtherClaims,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    verifier: &openidconnect::IdTokenVerifier<'_, CoreJsonWebKey>,
    access_token: &openidconnect::AccessToken,
) -> Result<AccessTokenHash, Failure> {
    let invalid = |e: String| Failure::provider("The ID token is not valid", e);
    let alg = id_token
        .signing_alg()
        .map_err(|e| invalid(error_chain(&e)))?;
    let hash = if alg.uses_shared_secret() {
        // HS256 and friends: the "key" is the client secret.
        let secret = app
            .client_secret
            .as_ref()
            .ok_or_else(|| invalid("HMAC-signed ID token for a public client".into()))?;
        let key = CoreJsonWebKey::new_symmetric(secret.secret().as_bytes().to_vec());
        AccessTokenHash::from_token(access_token, alg, &key)
    } else {
        let key = id_token
            .signing_key(verifier)
            .map_err(|e| invalid(error_chain(&e)))?;
        AccessTokenHash::from_token(access_token, alg, key)
    };
    hash.map_err(|e| invalid(format!("cannot compute at_hash: {}", error_chain(&e))))
}

// ---------------------------------------------------------------------------
// Helpers

/// Parses the query string, refusing repeated parameters (RFC 6749 §3.1).
fn query_params(query: &str) -> Result<HashMap<String, String>, Failure> {
    let mut params = HashMap::new();
    for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
        if params
            .insert(name.clone().into_owned(), value.into_owned())
            .is_some()
        {
            return Err(Failure::bad_request(format!(
                "the parameter {name:?} appears more than once"
            )));
        }
    }
    Ok(params)
}

/// A table: the given rows first, then every other claim in `all` (as JSON)
/// that is not in `shown`.
fn claims_table(id: &str, rows: Vec<(&str, String)>, all: &Value, shown: &[&str]) -> String {
    let mut html = format!(
        "<table id=\"{}\">\n<tr><th>Claim</th><th>Value</th></tr>\n",
        escape(id)
    );
    let mut row = |name: &str, value: &str| {
        let _ = writeln!(
            html,
            "<tr><th scope=\"row\">{}</th><td>{}</td></tr>",
            escape(name),
            escape(value)
        );
    };
    for (name, value) in &rows {
        row(name, value);
    }
    if let Value::Object(map) = all {
        let mut others: Vec<_> = map
            .iter()
            .filter(|(name, _)| !shown.contains(&name.as_str()))
            .collect();
        others.sort_by(|a, b| a.0.cmp(b.0));
        for (name, value) in others {
            row(name, &json_text(value));
        }
    }
    html.push_str("</table>");
    html
}

/// A claim value as text: strings as they are, anything else as JSON.
fn json_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Escapes text for HTML element content and quoted attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A complete HTML page. `body` must already be escaped.
fn page(status: StatusCode, title: &str, body: &str) -> HttpResponse {
    let html = format!(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{} · Example app</title>\n<style>\n\
         body {{ font-family: system-ui, sans-serif; max-width: 48rem; margin: 2rem auto; padding: 0 1rem; }}\n\
         table {{ border-collapse: collapse; margin-bottom: 1rem; }}\n\
         th, td {{ border: 1px solid #ccc; padding: .3rem .6rem; text-align: left; vertical-align: top; }}\n\
         td {{ word-break: break-word; }}\n\
         pre {{ background: #f4f4f4; padding: .8rem; overflow-x: auto; white-space: pre-wrap; }}\n\
         .button {{ display: inline-block; padding: .6rem 1.2rem; background: #1d4ed8; color: #fff; \
         border-radius: .3rem; text-decoration: none; }}\n\
         </style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        escape(title)
    );
    HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        // The callback URL carries the authorization code: never leak it.
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'",
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(html)
}

/// An error and all its sources, on one line.
fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let _ = write!(text, ": {e}");
        source = e.source();
    }
    text
}

/// The start of a response body, for error messages.
fn excerpt(body: &[u8]) -> String {
    const MAX: usize = 2000;
    let text = String::from_utf8_lossy(body);
    if text.chars().count() > MAX {
        format!("{}…", text.chars().take(MAX).collect::<String>())
    } else if text.is_empty() {
        "(empty)".to_owned()
    } else {
        text.into_owned()
    }
}

fn token_failure(
    err: &RequestTokenError<
        HttpClientError<ReqwestError>,
        StandardErrorResponse<CoreErrorResponseType>,
    >,
) -> String {
    match err {
        RequestTokenError::ServerResponse(response) => {
            let mut text = format!("error: {}", response.error());
            if let Some(description) = response.error_description() {
                let _ = write!(text, "\nerror_description: {description}");
            }
            text
        }
        RequestTokenError::Parse(e, body) => format!(
            "cannot parse the token response: {}\nResponse body: {}",
            error_chain(e),
            excerpt(body)
        ),
        other => error_chain(other),
    }
}

fn userinfo_failure(err: &UserInfoError<HttpClientError<ReqwestError>>) -> String {
    match err {
        UserInfoError::Response(status, body, message) => {
            format!(
                "{message} (HTTP {status})\nResponse body: {}",
                excerpt(body)
            )
        }
        other => error_chain(other),
    }
}
