//! The OpenID Provider's flows with plain HTTP, checked claim by claim.

use civitas::domain::client::SubjectType;
use civitas::oidc::signing::Alg;
use jsonwebtoken::{DecodingKey, Validation, decode, decode_header};
use serde_json::{Value, json};

use crate::support::app::TestApp;
use crate::support::oidc::*;
use crate::support::passkeys::Tweaks;
use crate::support::passkeys::login_with;

/// Verifies a JWT's signature against the JWKS and returns its claims.
async fn verified(app: &TestApp, token: &str, alg: jsonwebtoken::Algorithm) -> Value {
    let header = decode_header(token).unwrap();
    assert_eq!(header.alg, alg);
    let jwks: Value = app.get("/jwks.json").await.json().await.unwrap();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header.kid.clone().unwrap())
        .expect("kid not in JWKS");
    let jwk: jsonwebtoken::jwk::Jwk = serde_json::from_value(jwk.clone()).unwrap();
    let mut validation = Validation::new(alg);
    validation.validate_exp = false;
    validation.validate_aud = false;
    decode::<Value>(token, &DecodingKey::from_jwk(&jwk).unwrap(), &validation)
        .unwrap()
        .claims
}

async fn code_flow_for_every_signing_algorithm(app: TestApp) {
    let _auth = signed_in_citizen(&app, "Victor").await;
    let mut subs = Vec::new();
    for (alg, jwt_alg, host) in [
        (Alg::RS256, jsonwebtoken::Algorithm::RS256, "rs.example"),
        (Alg::ES256, jsonwebtoken::Algorithm::ES256, "es.example"),
        (Alg::EdDSA, jsonwebtoken::Algorithm::EdDSA, "ed.example"),
    ] {
        let rp = register(
            &app,
            RpOptions {
                alg,
                host,
                ..RpOptions::default()
            },
        )
        .await;
        let (verifier, challenge) = pkce();
        let code = code(
            &app,
            &rp,
            &challenge,
            &[("scope", "openid profile address age")],
        )
        .await;
        let response = exchange(&app, &rp, &code, &verifier).await;
        assert_eq!(response.status(), 200);
        let tokens: Value = response.json().await.unwrap();
        assert_eq!(tokens["token_type"], "Bearer");
        let id = verified(&app, tokens["id_token"].as_str().unwrap(), jwt_alg).await;
        assert_eq!(id["iss"], app.address.as_str());
        assert_eq!(id["aud"], rp.client_id.as_str());
        assert_eq!(id["azp"], rp.client_id.as_str());
        assert_eq!(id["nonce"], "n0nce");
        assert_eq!(id["acr"], "urn:civitas:loa:1");
        // A device-bound passkey is not proven hardware (no attestation is
        // checked), so no hwk.
        assert_eq!(id["amr"], json!(["user", "mfa"]));
        assert!(id["sid"].is_string() && id["auth_time"].is_i64() && id["at_hash"].is_string());
        let at_hash =
            civitas::oidc::signing::half_hash(alg, tokens["access_token"].as_str().unwrap());
        assert_eq!(id["at_hash"], at_hash.as_str());
        let access_header = decode_header(tokens["access_token"].as_str().unwrap()).unwrap();
        assert_eq!(access_header.typ.as_deref(), Some("at+jwt"));

        let info: Value = reqwest::Client::new()
            .get(app.url("/userinfo"))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(info["sub"], id["sub"]);
        assert_eq!(info["given_name"], "Victor");
        assert_eq!(info["birthdate"], "1990-04-12");
        assert_eq!(info["address"]["region"], "Harbour");
        assert_eq!(info["age_over_18"], true);
        assert!(info.get("national_id").is_none());
        subs.push(id["sub"].as_str().unwrap().to_string());
    }
    subs.dedup();
    assert_eq!(subs.len(), 3, "pairwise: a different sub at every app");
    assert!(
        subs.iter()
            .all(|s| s.len() >= 40 && civitas::domain::NationalId::parse(s).is_err())
    );
}

async fn public_subjects_and_the_national_id_scope(app: TestApp) {
    let _auth = signed_in_citizen(&app, "Wale").await;
    let mut subs = Vec::new();
    for host in ["one.example", "two.example"] {
        let rp = register(
            &app,
            RpOptions {
                host,
                subject_type: SubjectType::Public,
                extra_scopes: vec!["national_id".into()],
                ..RpOptions::default()
            },
        )
        .await;
        let (verifier, challenge) = pkce();
        let code = code(&app, &rp, &challenge, &[("scope", "openid national_id")]).await;
        let tokens: Value = exchange(&app, &rp, &code, &verifier)
            .await
            .json()
            .await
            .unwrap();
        let info: Value = reqwest::Client::new()
            .get(app.url("/userinfo"))
            .bearer_auth(tokens["access_token"].as_str().unwrap())
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(civitas::domain::NationalId::parse(info["national_id"].as_str().unwrap()).is_ok());
        assert_ne!(info["sub"], info["national_id"]);
        subs.push(info["sub"].clone());
    }
    assert_eq!(
        subs[0], subs[1],
        "public subjects are the same at every public client"
    );
}

async fn max_age_and_prompt_login_force_a_new_sign_in(app: TestApp) {
    let mut auth = signed_in_citizen(&app, "Xavier").await;
    let rp = register(&app, RpOptions::default()).await;
    let (verifier, challenge) = pkce();
    let first = code(&app, &rp, &challenge, &[]).await;
    let tokens: Value = exchange(&app, &rp, &first, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let first_auth_time = jwt_claims(tokens["id_token"].as_str().unwrap())["auth_time"]
        .as_i64()
        .unwrap();

    for extra in [("max_age", "0"), ("prompt", "login")] {
        app.clock.advance(time::Duration::seconds(30));
        let response = authorize(&app, &rp, &challenge, &[extra]).await;
        let to = location(&response);
        assert_eq!(to.path(), "/login", "{extra:?} sends to sign-in");
        let return_to = query(&to, "return_to").unwrap();
        assert!(return_to.starts_with("/authorize?"));
        assert_eq!(
            login_with(&app, &mut auth, None, &Tweaks::default())
                .await
                .status(),
            200
        );
        // Back at the authorization request: no loop, a code (consent remembered).
        let back = app.get(&return_to).await;
        let to = location(&back);
        let code = query(&to, "code").unwrap_or_else(|| panic!("{extra:?}: looped to {to}"));
        let tokens: Value = exchange(&app, &rp, &code, &verifier)
            .await
            .json()
            .await
            .unwrap();
        let auth_time = jwt_claims(tokens["id_token"].as_str().unwrap())["auth_time"]
            .as_i64()
            .unwrap();
        assert!(
            auth_time > first_auth_time,
            "{extra:?}: auth_time must be later"
        );
    }
}

async fn withdrawing_consent_stops_refresh_at_once(app: TestApp) {
    let _auth = signed_in_citizen(&app, "Yemi").await;
    let rp = register(&app, RpOptions::default()).await;
    let (verifier, challenge) = pkce();
    let code = code(&app, &rp, &challenge, &[("scope", "openid offline_access")]).await;
    let tokens: Value = exchange(&app, &rp, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let apps: Value = app.get("/api/v1/me/apps").await.json().await.unwrap();
    assert_eq!(apps["apps"][0]["client_id"], rp.client_id.as_str());
    assert_eq!(apps["sign_ins"][0]["name"], "Tax Office");
    let page = app.get("/account").await.text().await.unwrap();
    assert!(page.contains("Tax Office"));
    let withdrawn = app
        .client
        .delete(app.url(&format!("/api/v1/me/apps/{}", rp.client_id)))
        .send()
        .await
        .unwrap();
    assert_eq!(withdrawn.status(), 204);
    oauth_error(
        token(
            &app,
            &rp,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ],
        )
        .await,
        400,
        "invalid_grant",
        "after withdrawal",
    )
    .await;
    // Consent is asked again.
    assert_eq!(authorize(&app, &rp, &challenge, &[]).await.status(), 200);
}

async fn rp_initiated_logout(app: TestApp) {
    let _auth = signed_in_citizen(&app, "Zainab").await;
    let rp = register(&app, RpOptions::default()).await;
    let (verifier, challenge) = pkce();
    let code = code(&app, &rp, &challenge, &[]).await;
    let tokens: Value = exchange(&app, &rp, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    // Without a valid hint: a confirmation page, still signed in.
    let page = app
        .get("/end_session?post_logout_redirect_uri=https%3A%2F%2Fapp.example%2Fbye")
        .await;
    assert_eq!(page.status(), 200);
    assert_eq!(app.get("/api/v1/me").await.status(), 200);
    // A client_id that is not the hint's audience gets the confirmation
    // page, not a sign-out.
    for extra in [("client_id", "someone-else")] {
        let q = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
            .append_pair("post_logout_redirect_uri", "https://app.example/bye")
            .append_pair(extra.0, extra.1)
            .finish();
        assert_eq!(
            app.get(&format!("/end_session?{q}")).await.status(),
            200,
            "{extra:?}"
        );
        assert_eq!(
            app.get("/api/v1/me").await.status(),
            200,
            "{extra:?}: still signed in"
        );
    }
    let query_string = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
        .append_pair("post_logout_redirect_uri", "https://app.example/bye")
        .append_pair("state", "bye1")
        .finish();
    let response = app.get(&format!("/end_session?{query_string}")).await;
    assert!(response.status().is_redirection());
    assert_eq!(
        location(&response).as_str(),
        "https://app.example/bye?state=bye1"
    );
    assert_eq!(app.get("/api/v1/me").await.status(), 401, "session ended");

    // After a new sign-in, the old ID token names another session: ask.
    let mut auth = crate::support::passkeys::SoftAuthenticator::new(&app.address);
    crate::support::passkeys::enroll(&app, &mut auth, "Zara").await;
    let response = app.get(&format!("/end_session?{query_string}")).await;
    assert_eq!(response.status(), 200, "confirmation page");
    assert_eq!(app.get("/api/v1/me").await.status(), 200, "still signed in");
}

async fn discovery_jwks_and_cors(app: TestApp) {
    let rp = register(&app, RpOptions::default()).await;
    let config: Value = app
        .get("/.well-known/openid-configuration")
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(config["issuer"], app.address.as_str());
    assert_eq!(config["response_types_supported"], json!(["code"]));
    assert_eq!(config["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(
        config["authorization_response_iss_parameter_supported"],
        true
    );
    assert_eq!(config["request_parameter_supported"], false);
    assert!(
        !config["id_token_signing_alg_values_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("none"))
    );
    let jwks: Value = app.get("/jwks.json").await.json().await.unwrap();
    let keys = jwks["keys"].as_array().unwrap();
    let mut kids: Vec<&str> = keys.iter().map(|k| k["kid"].as_str().unwrap()).collect();
    kids.dedup();
    assert_eq!(kids.len(), keys.len());
    for alg in ["RS256", "ES256", "EdDSA"] {
        assert!(keys.iter().any(|k| k["alg"] == alg), "{alg} in JWKS");
    }
    let _ = rp;
    let allowed = reqwest::Client::new()
        .get(app.url("/jwks.json"))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let refused = reqwest::Client::new()
        .get(app.url("/jwks.json"))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

async fn post_forms_secret_post_and_suspension(app: TestApp) {
    let _auth = signed_in_citizen(&app, "Chioma").await;
    let rp = register(&app, RpOptions::default()).await;
    let (verifier, challenge) = pkce();
    // Consent once, then authorize by POST: the answer is a 303.
    code(&app, &rp, &challenge, &[]).await;
    let form = [
        ("client_id", rp.client_id.as_str()),
        ("redirect_uri", rp.redirect_uri.as_str()),
        ("response_type", "code"),
        ("scope", "openid profile"),
        ("state", "p0st"),
        ("code_challenge", challenge.as_str()),
        ("code_challenge_method", "S256"),
    ];
    let response = app
        .client
        .post(app.url("/authorize"))
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    let code = query(&location(&response), "code").unwrap();

    // client_secret_post instead of Basic.
    let secret = rp.secret.clone().unwrap();
    let response = reqwest::Client::new()
        .post(app.url("/token"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", rp.redirect_uri.as_str()),
            ("code_verifier", verifier.as_str()),
            ("client_id", rp.client_id.as_str()),
            ("client_secret", secret.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let tokens: Value = response.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();

    // UserInfo by POST with the token in the form.
    let info = reqwest::Client::new()
        .post(app.url("/userinfo"))
        .form(&[("access_token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);

    // A suspended citizen's tokens are inactive at once.
    let me: Value = app.get("/api/v1/me").await.json().await.unwrap();
    let nid = civitas::domain::NationalId::parse(me["national_id"].as_str().unwrap()).unwrap();
    let citizen = app
        .store
        .find_citizen_by_national_id(&nid)
        .await
        .unwrap()
        .unwrap();
    app.store
        .set_citizen_status(
            citizen.id,
            civitas::domain::CitizenStatus::Suspended,
            app.clock.now(),
        )
        .await
        .unwrap();
    let introspection: Value = reqwest::Client::new()
        .post(app.url("/introspect"))
        .basic_auth(&rp.client_id, Some(&secret))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspection["active"], false);
    let info = userinfo(&app, access).await;
    assert_eq!(info.status(), 401);
}

crate::on_both_backends!(
    post_forms_secret_post_and_suspension,
    code_flow_for_every_signing_algorithm,
    public_subjects_and_the_national_id_scope,
    max_age_and_prompt_login_force_a_new_sign_in,
    withdrawing_consent_stops_refresh_at_once,
    rp_initiated_logout,
    discovery_jwks_and_cors,
);
