//! The whole OpenID Connect flow driven by an independent relying-party
//! library, the `openidconnect` crate: discovery, the code flow with PKCE,
//! ID-token verification against the JWKS for every signing algorithm,
//! UserInfo, refresh-token rotation, revocation and RP-initiated logout.

use std::collections::BTreeMap;

use civitas::clock::Clock;
use civitas::oidc::signing::{Alg, half_hash};
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreClaimName, CoreClaimType,
    CoreClientAuthMethod, CoreErrorResponseType, CoreGenderClaim, CoreGrantType, CoreJsonWebKey,
    CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreJwsSigningAlgorithm,
    CoreResponseMode, CoreResponseType, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreSubjectIdentifierType, CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessToken, AdditionalClaims, AdditionalProviderMetadata, AsyncHttpClient, AuthType,
    AuthorizationCode, Client, ClientId, ClientSecret, CsrfToken, EmptyExtraTokenFields,
    EndpointMaybeSet, EndpointNotSet, EndpointSet, HttpRequest, IdToken, IdTokenClaims,
    IdTokenFields, IdTokenVerifier, IssuerUrl, LogoutProviderMetadata, LogoutRequest, Nonce,
    OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, PostLogoutRedirectUrl,
    ProviderMetadata, RedirectUrl, RefreshToken, RequestTokenError, RevocationUrl, Scope,
    StandardErrorResponse, StandardTokenResponse, SubjectIdentifier, TokenResponse, UserInfoClaims,
    UserInfoError,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::format_description::well_known::Rfc3339;

use crate::support::app::TestApp;
use crate::support::oidc::{
    RpOptions, answer_consent, location, query, register, signed_in_citizen,
};
use crate::support::passkeys::Tweaks;
use crate::support::passkeys::login_with;

/// Claims beyond the standard ones (`age_over_18`, `sid`, ...), kept as JSON.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct OtherClaims {
    #[serde(flatten)]
    claims: BTreeMap<String, Value>,
}
impl AdditionalClaims for OtherClaims {}

/// Discovery fields `CoreProviderMetadata` does not model.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct ExtraMetadata {
    /// RFC 9207.
    authorization_response_iss_parameter_supported: Option<bool>,
    /// RFC 8414 / RFC 7009.
    revocation_endpoint: Option<RevocationUrl>,
}
impl AdditionalProviderMetadata for ExtraMetadata {}

/// Provider metadata with the end-session endpoint (RP-Initiated Logout).
type Metadata = ProviderMetadata<
    LogoutProviderMetadata<ExtraMetadata>,
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

type Tokens = StandardTokenResponse<
    IdTokenFields<
        OtherClaims,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

type RpIdToken = IdToken<
    OtherClaims,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJwsSigningAlgorithm,
>;

type RpIdClaims = IdTokenClaims<OtherClaims, CoreGenderClaim>;

/// A client made from discovery, with the revocation endpoint set.
type RpClient = Client<
    OtherClaims,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    Tokens,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

type Http = openidconnect::reqwest::Client;

/// The crate's HTTP client: never follows redirects (SSRF).
fn http_client() -> Http {
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// An HTTP client that sends `https://` requests to the test server over
/// plain HTTP (for the crate's HTTPS-only revocation request).
struct PlainHttp {
    inner: Http,
    /// `http://localhost:PORT/`.
    insecure: String,
}

impl<'c> AsyncHttpClient<'c> for PlainHttp {
    type Error = <Http as AsyncHttpClient<'c>>::Error;
    type Future = <Http as AsyncHttpClient<'c>>::Future;

    fn call(&'c self, mut request: HttpRequest) -> Self::Future {
        let secure = self.insecure.replacen("http:", "https:", 1);
        let uri = request.uri().to_string();
        assert!(uri.starts_with(&secure), "unexpected request to {uri}");
        *request.uri_mut() = uri.replacen(&secure, &self.insecure, 1).parse().unwrap();
        self.inner.call(request)
    }
}

/// The ID-token verifier for one algorithm, checking `exp` against the
/// server's (fixed) clock instead of the system time.
fn id_verifier<'a>(
    client: &'a RpClient,
    alg: CoreJwsSigningAlgorithm,
    clock: &Clock,
) -> IdTokenVerifier<'a, CoreJsonWebKey> {
    let clock = clock.clone();
    client
        .id_token_verifier()
        .set_allowed_algs([alg])
        .set_time_fn(move || {
            // `DateTime<Utc>` through serde: chrono is not a dependency here.
            let now = clock.now().format(&Rfc3339).unwrap();
            serde_json::from_value(Value::String(now)).expect("an RFC 3339 time")
        })
}

/// What one pass through `/authorize` gives back.
struct Authorized {
    code: AuthorizationCode,
    nonce: Nonce,
    pkce_verifier: PkceCodeVerifier,
}

/// Builds the authorization URL with the crate and follows it as the
/// browser, answering the consent page when `consent` says it comes.
async fn authorize(app: &TestApp, client: &RpClient, consent: bool) -> Authorized {
    let (challenge, pkce_verifier) = PkceCodeChallenge::new_random_sha256();
    let (url, csrf, nonce) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            CsrfToken::new_random,
            Nonce::new_random,
        )
        .add_scope(Scope::new("profile".into()))
        .add_scope(Scope::new("age".into()))
        .add_scope(Scope::new("offline_access".into()))
        .set_pkce_challenge(challenge)
        .url();
    assert!(url.as_str().starts_with(&app.url("/authorize?")), "{url}");
    let mut response = app.client.get(url.as_str()).send().await.unwrap();
    if consent {
        assert_eq!(response.status(), 200, "the consent page is shown");
        let page = response.text().await.unwrap();
        response = answer_consent(app, &page, "allow").await;
    }
    assert!(
        response.status().is_redirection(),
        "no redirect: {}",
        response.status()
    );
    let to = location(&response);
    let redirect = client.redirect_uri().unwrap().url();
    assert_eq!(
        (to.scheme(), to.host_str(), to.path()),
        (redirect.scheme(), redirect.host_str(), redirect.path()),
        "back to the registered redirect URI"
    );
    assert_eq!(query(&to, "error"), None, "authorization failed: {to}");
    assert_eq!(query(&to, "state").as_deref(), Some(csrf.secret().as_str()));
    assert_eq!(query(&to, "iss").as_deref(), Some(app.address.as_str()));
    Authorized {
        code: AuthorizationCode::new(query(&to, "code").expect("no code")),
        nonce,
        pkce_verifier,
    }
}

/// The code exchanged for tokens with the PKCE verifier.
async fn exchange(http: &Http, client: &RpClient, authorized: Authorized) -> Tokens {
    client
        .exchange_code(authorized.code)
        .expect("token endpoint discovered")
        .set_pkce_verifier(authorized.pkce_verifier)
        .request_async(http)
        .await
        .expect("code exchange")
}

/// Checks the claims every ID token must carry, and its `at_hash`.
fn check_id_claims(
    app: &TestApp,
    claims: &RpIdClaims,
    client_id: &str,
    alg: Alg,
    access_token: &AccessToken,
) {
    assert_eq!(claims.issuer().as_str(), app.address);
    let audiences: Vec<&str> = claims.audiences().iter().map(|a| a.as_str()).collect();
    assert_eq!(audiences, [client_id]);
    assert_eq!(
        claims.authorized_party().map(|a| a.as_str()),
        Some(client_id)
    );
    assert_eq!(
        claims.auth_context_ref().map(|a| a.as_str()),
        Some("urn:civitas:loa:1")
    );
    let amr: Vec<&str> = claims
        .auth_method_refs()
        .expect("amr")
        .iter()
        .map(|m| m.as_str())
        .collect();
    assert!(amr.contains(&"user"), "amr {amr:?}");
    let auth_time = claims.auth_time().expect("auth_time");
    assert!(auth_time <= claims.issue_time());
    assert_eq!(claims.issue_time().timestamp(), app.clock.unix());
    assert_eq!(
        (claims.expiration() - claims.issue_time()).num_seconds(),
        600
    );
    assert!(
        claims.additional_claims().claims["sid"].is_string(),
        "sid in {:?}",
        claims.additional_claims()
    );
    let at_hash = claims.access_token_hash().expect("at_hash");
    assert_eq!(at_hash.as_str(), half_hash(alg, access_token.secret()));
}

/// Asserts that a refresh is refused with `invalid_grant`.
async fn refresh_error(http: &Http, client: &RpClient, token: &RefreshToken) {
    match client
        .exchange_refresh_token(token)
        .expect("token endpoint discovered")
        .request_async(http)
        .await
    {
        Ok(_) => panic!("the refresh token still works"),
        Err(RequestTokenError::ServerResponse(e)) => {
            assert_eq!(e.error(), &CoreErrorResponseType::InvalidGrant, "{e:?}");
        }
        Err(other) => panic!("not an OAuth error response: {other:?}"),
    }
}

async fn openidconnect_crate_signs_in_with_every_algorithm(app: TestApp) {
    let mut auth = signed_in_citizen(&app, "Ngozi").await;
    let http = http_client();

    // 1. Discovery.
    let issuer = IssuerUrl::new(app.address.clone()).unwrap();
    let metadata = Metadata::discover_async(issuer.clone(), &http)
        .await
        .expect("discovery");
    let extra = &metadata.additional_metadata().additional_metadata;
    assert_eq!(
        extra.authorization_response_iss_parameter_supported,
        Some(true)
    );
    let revocation = extra
        .revocation_endpoint
        .clone()
        .expect("revocation_endpoint");
    assert_eq!(revocation.as_str(), app.url("/revoke"));
    let end_session = metadata
        .additional_metadata()
        .end_session_endpoint
        .clone()
        .expect("end_session_endpoint");
    assert_eq!(end_session.as_str(), app.url("/end_session"));
    assert!(
        metadata
            .token_endpoint_auth_methods_supported()
            .is_some_and(|m| m.contains(&CoreClientAuthMethod::ClientSecretBasic))
    );
    assert_eq!(metadata.jwks().keys().len(), 3, "one key per algorithm");
    // The crate refuses a revocation endpoint that is not HTTPS (RFC 7009
    // §2), and the test server speaks plain HTTP: give the crate the https
    // form of the discovered URL and send that one request over HTTP.
    let revocation_https = RevocationUrl::new(revocation.as_str().replacen("http:", "https:", 1))
        .expect("revocation URL");
    let revocation_http = PlainHttp {
        inner: http.clone(),
        insecure: app.url("/"),
    };

    let mut subjects = Vec::new();
    let cases = [
        (
            Alg::RS256,
            CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
            "app.example",
        ),
        (
            Alg::ES256,
            CoreJwsSigningAlgorithm::EcdsaP256Sha256,
            "es.example",
        ),
        (Alg::EdDSA, CoreJwsSigningAlgorithm::EdDsa, "ed.example"),
    ];
    for (i, (alg, jws_alg, host)) in cases.iter().cloned().enumerate() {
        let case = alg.as_str();
        let rp = register(
            &app,
            RpOptions {
                alg,
                host,
                ..RpOptions::default()
            },
        )
        .await;
        let client: RpClient = Client::from_provider_metadata(
            metadata.clone(),
            ClientId::new(rp.client_id.clone()),
            Some(ClientSecret::new(rp.secret.clone().unwrap())),
        )
        .set_auth_type(AuthType::BasicAuth)
        .set_redirect_uri(RedirectUrl::new(rp.redirect_uri.clone()).unwrap())
        .set_revocation_url(revocation_https.clone());
        let verifier = id_verifier(&client, jws_alg.clone(), &app.clock);

        // 2. Authorization, with consent the first time.
        let first = authorize(&app, &client, true).await;
        let nonce = first.nonce.clone();

        // 3. Code exchange and the ID token, checked by the crate.
        let tokens = exchange(&http, &client, first).await;
        assert_eq!(tokens.token_type(), &CoreTokenType::Bearer);
        let id_token = tokens.id_token().expect("id_token");
        assert_eq!(id_token.signing_alg().unwrap(), &jws_alg, "{case}");
        let claims = id_token
            .claims(&verifier, &nonce)
            .unwrap_or_else(|e| panic!("{case}: ID token refused: {e}"));
        assert_eq!(claims.nonce().map(|n| n.secret()), Some(nonce.secret()));
        check_id_claims(&app, claims, &rp.client_id, alg, tokens.access_token());
        let subject = claims.subject().clone();
        let auth_time = claims.auth_time();
        // Another algorithm than the client's is refused.
        let other_alg = cases[(i + 1) % cases.len()].1.clone();
        assert!(
            id_token
                .claims(&id_verifier(&client, other_alg, &app.clock), &nonce)
                .is_err(),
            "{case}: accepted under another algorithm"
        );

        // 4. UserInfo.
        let info: UserInfoClaims<OtherClaims, CoreGenderClaim> = client
            .user_info(tokens.access_token().clone(), Some(subject.clone()))
            .expect("userinfo endpoint discovered")
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("{case}: UserInfo failed: {e:?}"));
        assert_eq!(info.subject(), &subject);
        let given = info.given_name().and_then(|c| c.get(None));
        assert_eq!(given.map(|v| v.as_str()), Some("Ngozi"), "{case}");
        let family = info.family_name().and_then(|c| c.get(None));
        assert_eq!(family.map(|v| v.as_str()), Some("Okafor"), "{case}");
        assert_eq!(info.birthdate().map(|b| b.as_str()), Some("1990-04-12"));
        let extra = &info.additional_claims().claims;
        assert_eq!(
            extra.get("age_over_18"),
            Some(&Value::Bool(true)),
            "{extra:?}"
        );
        subjects.push(subject.clone());

        // 5. Refresh: a new refresh token and a fresh ID token.
        let refresh = tokens.refresh_token().expect("refresh_token").clone();
        app.clock.advance(time::Duration::minutes(2));
        let refreshed = client
            .exchange_refresh_token(&refresh)
            .unwrap()
            .request_async(&http)
            .await
            .unwrap_or_else(|e| panic!("{case}: refresh failed: {e:?}"));
        let rotated = refreshed.refresh_token().expect("a rotated refresh token");
        assert_ne!(rotated.secret(), refresh.secret());
        let new_id = refreshed.id_token().expect("a fresh ID token");
        let no_nonce = |n: Option<&Nonce>| match n {
            None => Ok(()),
            Some(_) => Err("a refreshed ID token SHOULD NOT carry a nonce".to_string()),
        };
        let new_claims = new_id
            .claims(&verifier, no_nonce)
            .unwrap_or_else(|e| panic!("{case}: refreshed ID token refused: {e}"));
        check_id_claims(
            &app,
            new_claims,
            &rp.client_id,
            alg,
            refreshed.access_token(),
        );
        assert_eq!(new_claims.subject(), &subject, "same sub after refresh");
        assert_eq!(
            new_claims.auth_time(),
            auth_time,
            "auth_time of the sign-in"
        );
        assert!(new_claims.issue_time() > claims.issue_time());
        // The old refresh token again: refused, and the rotated one with it
        // (reuse of a rotated token revokes the grant).
        refresh_error(&http, &client, &refresh).await;
        refresh_error(&http, &client, rotated).await;

        // 6. Revocation, on a new grant (consent is remembered).
        let second = authorize(&app, &client, false).await;
        let nonce = second.nonce.clone();
        let tokens = exchange(&http, &client, second).await;
        let id_token: RpIdToken = tokens.id_token().expect("id_token").clone();
        let claims = id_token.claims(&verifier, &nonce).unwrap();
        assert_eq!(claims.subject(), &subject);
        let refresh = tokens.refresh_token().expect("refresh_token").clone();
        client
            .revoke_token(CoreRevocableToken::RefreshToken(refresh.clone()))
            .expect("revocation endpoint")
            .request_async(&revocation_http)
            .await
            .unwrap_or_else(|e| panic!("{case}: revocation failed: {e:?}"));
        refresh_error(&http, &client, &refresh).await;
        match client
            .user_info(tokens.access_token().clone(), None)
            .unwrap()
            .request_async::<OtherClaims, _, CoreGenderClaim>(&http)
            .await
        {
            Err(UserInfoError::Response(status, body, _)) => {
                assert_eq!(status.as_u16(), 401, "{case}");
                assert!(String::from_utf8_lossy(&body).contains("invalid_token"));
            }
            other => panic!("{case}: the revoked grant's access token works: {other:?}"),
        }

        // 7. RP-initiated logout with the ID token as hint.
        assert_eq!(app.get("/api/v1/me").await.status(), 200, "{case}");
        let bye = format!("https://{host}/bye");
        let logout = LogoutRequest::from(end_session.clone())
            .set_id_token_hint(&id_token)
            .set_post_logout_redirect_uri(PostLogoutRedirectUrl::new(bye.clone()).unwrap())
            .set_state(CsrfToken::new("x".into()))
            .http_get_url();
        let response = app.client.get(logout.as_str()).send().await.unwrap();
        assert!(
            response.status().is_redirection(),
            "{case}: logout answered {}",
            response.status()
        );
        assert_eq!(location(&response).as_str(), format!("{bye}?state=x"));
        assert_eq!(
            app.get("/api/v1/me").await.status(),
            401,
            "{case}: signed out"
        );

        // Sign in again for the next algorithm.
        let response = login_with(&app, &mut auth, None, &Tweaks::default()).await;
        assert_eq!(response.status(), 200, "{case}: sign in again");
    }
    let distinct: std::collections::HashSet<&SubjectIdentifier> = subjects.iter().collect();
    assert_eq!(distinct.len(), 3, "pairwise: a different sub at every app");
}

crate::on_both_backends!(openidconnect_crate_signs_in_with_every_algorithm);
