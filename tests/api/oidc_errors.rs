//! The OpenID Provider's refusals: each case with its RFC error code.

use civitas::oidc::signing::Alg;
use serde_json::Value;

use crate::support::app::TestApp;
use crate::support::oidc::*;

async fn unknown_client_or_redirect_uri_shows_a_page_without_redirect(app: TestApp) {
    let rp = register(&app, RpOptions::default()).await;
    let (_, challenge) = pkce();
    for (case, extra) in [
        ("unknown client", vec![("client_id", "nope")]),
        (
            "unregistered redirect URI",
            vec![("redirect_uri", "https://evil.example/callback")],
        ),
        ("missing redirect URI", vec![("redirect_uri", "")]),
    ] {
        let response = authorize(&app, &rp, &challenge, &extra).await;
        assert_eq!(response.status(), 400, "{case}");
        assert!(
            response.headers().get("location").is_none(),
            "{case}: must not redirect"
        );
        assert!(
            response.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
}

async fn bad_authorization_requests_redirect_with_an_error(app: TestApp) {
    let rp = register(&app, RpOptions::default()).await;
    let (_, challenge) = pkce();
    type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a str);
    let cases: Vec<Case> = vec![
        (
            "token response type",
            vec![("response_type", "token")],
            "unsupported_response_type",
        ),
        (
            "no openid scope",
            vec![("scope", "profile")],
            "invalid_scope",
        ),
        (
            "restricted scope",
            vec![("scope", "openid national_id")],
            "invalid_scope",
        ),
        ("no PKCE", vec![("code_challenge", "")], "invalid_request"),
        (
            "plain PKCE",
            vec![("code_challenge_method", "plain")],
            "invalid_request",
        ),
        (
            "request object",
            vec![("request", "eyJhbGciOiJub25lIn0.e30.")],
            "request_not_supported",
        ),
        (
            "request_uri",
            vec![("request_uri", "https://app.example/r")],
            "request_uri_not_supported",
        ),
        (
            "prompt=none without a session",
            vec![("prompt", "none")],
            "login_required",
        ),
        ("bad max_age", vec![("max_age", "soon")], "invalid_request"),
    ];
    for (case, extra, code) in cases {
        let response = authorize(&app, &rp, &challenge, &extra).await;
        assert!(
            response.status().is_redirection(),
            "{case}: {}",
            response.status()
        );
        let to = location(&response);
        assert!(to.as_str().starts_with(&rp.redirect_uri), "{case}: {to}");
        assert_eq!(query(&to, "error").as_deref(), Some(code), "{case}: {to}");
        assert!(query(&to, "error_description").is_some(), "{case}");
        assert_eq!(query(&to, "state").as_deref(), Some("st4te"), "{case}");
        assert_eq!(
            query(&to, "iss").as_deref(),
            Some(app.address.as_str()),
            "{case}"
        );
    }
}

async fn prompt_none_without_consent_and_acr_requirements(app: TestApp) {
    let rp = register(&app, RpOptions::default()).await;
    let _auth = signed_in_citizen(&app, "Pelumi").await;
    let (_, challenge) = pkce();
    let to = location(&authorize(&app, &rp, &challenge, &[("prompt", "none")]).await);
    assert_eq!(query(&to, "error").as_deref(), Some("consent_required"));
    let to = location(
        &authorize(
            &app,
            &rp,
            &challenge,
            &[("acr_values", "urn:civitas:loa:2")],
        )
        .await,
    );
    assert_eq!(
        query(&to, "error").as_deref(),
        Some("unmet_authentication_requirements")
    );
    // Denying consent.
    let page = authorize(&app, &rp, &challenge, &[])
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("Tax Office") && page.contains("Your name and date of birth"));
    assert!(page.contains(r#"<button name="decision" value="allow""#));
    assert!(page.contains(r#"<button name="decision" value="deny""#));
    let denied = answer_consent(&app, &page, "deny").await;
    assert_eq!(denied.status(), 303);
    assert_eq!(
        query(&location(&denied), "error").as_deref(),
        Some("access_denied")
    );
}

async fn token_endpoint_refusals(app: TestApp) {
    let rp = register(&app, RpOptions::default()).await;
    let other = register(
        &app,
        RpOptions {
            host: "other.example",
            ..RpOptions::default()
        },
    )
    .await;
    let _auth = signed_in_citizen(&app, "Quadri").await;
    let (verifier, challenge) = pkce();

    // Code used by another client, with another redirect URI, wrong/missing/plain verifier.
    let code1 = code(&app, &rp, &challenge, &[]).await;
    oauth_error(
        exchange(&app, &other, &code1, &verifier).await,
        400,
        "invalid_grant",
        "code of another client",
    )
    .await;
    let code2 = code(&app, &rp, &challenge, &[]).await;
    let wrong_redirect = token(
        &app,
        &rp,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code2),
            ("redirect_uri", "https://app.example/other"),
            ("code_verifier", &verifier),
        ],
    )
    .await;
    oauth_error(wrong_redirect, 400, "invalid_grant", "other redirect URI").await;
    let code3 = code(&app, &rp, &challenge, &[]).await;
    let (other_verifier, _) = pkce();
    oauth_error(
        exchange(&app, &rp, &code3, &other_verifier).await,
        400,
        "invalid_grant",
        "wrong verifier",
    )
    .await;
    let code4 = code(&app, &rp, &challenge, &[]).await;
    let missing = token(
        &app,
        &rp,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code4),
            ("redirect_uri", &rp.redirect_uri),
        ],
    )
    .await;
    oauth_error(missing, 400, "invalid_request", "missing verifier").await;
    let code5 = code(&app, &rp, &challenge, &[]).await;
    oauth_error(
        exchange(&app, &rp, &code5, &challenge).await,
        400,
        "invalid_grant",
        "plain verifier (the challenge itself)",
    )
    .await;

    // Expired code.
    let code6 = code(&app, &rp, &challenge, &[]).await;
    app.clock.advance(time::Duration::seconds(61));
    oauth_error(
        exchange(&app, &rp, &code6, &verifier).await,
        400,
        "invalid_grant",
        "expired code",
    )
    .await;

    // Bad client secret, password grant.
    let code7 = code(&app, &rp, &challenge, &[]).await;
    let bad_secret = Rp {
        secret: Some("wrong".into()),
        ..rp.clone()
    };
    let response = exchange(&app, &bad_secret, &code7, &verifier).await;
    assert!(response.headers().get("www-authenticate").is_some());
    oauth_error(response, 401, "invalid_client", "bad client secret").await;
    oauth_error(
        token(
            &app,
            &rp,
            &[
                ("grant_type", "password"),
                ("username", "x"),
                ("password", "y"),
            ],
        )
        .await,
        400,
        "unsupported_grant_type",
        "password grant",
    )
    .await;
}

async fn code_reuse_revokes_what_it_issued(app: TestApp) {
    let rp = register(&app, RpOptions::default()).await;
    let _auth = signed_in_citizen(&app, "Rahama").await;
    let (verifier, challenge) = pkce();
    let code = code(
        &app,
        &rp,
        &challenge,
        &[("scope", "openid profile offline_access")],
    )
    .await;
    let first = exchange(&app, &rp, &code, &verifier).await;
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["cache-control"], "no-store");
    let tokens: Value = first.json().await.unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let info = userinfo(&app, access).await;
    assert_eq!(info.status(), 200);

    oauth_error(
        exchange(&app, &rp, &code, &verifier).await,
        400,
        "invalid_grant",
        "code reuse",
    )
    .await;
    let info = userinfo(&app, access).await;
    assert_eq!(info.status(), 401, "access token revoked after code reuse");
    assert!(
        info.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("invalid_token")
    );
    oauth_error(
        token(
            &app,
            &rp,
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
        )
        .await,
        400,
        "invalid_grant",
        "refresh after code reuse",
    )
    .await;
}

async fn refresh_rotation_and_reuse_detection(app: TestApp) {
    let rp = register(&app, RpOptions::default()).await;
    let other = register(
        &app,
        RpOptions {
            host: "other.example",
            ..RpOptions::default()
        },
    )
    .await;
    let _auth = signed_in_citizen(&app, "Sade").await;
    let (verifier, challenge) = pkce();
    let code = code(&app, &rp, &challenge, &[("scope", "openid offline_access")]).await;
    let tokens: Value = exchange(&app, &rp, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let first = tokens["refresh_token"].as_str().unwrap().to_string();

    oauth_error(
        token(
            &app,
            &other,
            &[("grant_type", "refresh_token"), ("refresh_token", &first)],
        )
        .await,
        400,
        "invalid_grant",
        "refresh by another client",
    )
    .await;
    let rotated: Value = token(
        &app,
        &rp,
        &[("grant_type", "refresh_token"), ("refresh_token", &first)],
    )
    .await
    .json()
    .await
    .unwrap();
    let second = rotated["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(first, second);
    // Presenting the used token revokes the whole family, the new one too.
    oauth_error(
        token(
            &app,
            &rp,
            &[("grant_type", "refresh_token"), ("refresh_token", &first)],
        )
        .await,
        400,
        "invalid_grant",
        "refresh reuse",
    )
    .await;
    oauth_error(
        token(
            &app,
            &rp,
            &[("grant_type", "refresh_token"), ("refresh_token", &second)],
        )
        .await,
        400,
        "invalid_grant",
        "family revoked",
    )
    .await;
}

async fn forged_or_unsigned_id_token_hints_are_refused(app: TestApp) {
    let rp = register(&app, RpOptions::default()).await;
    let _auth = signed_in_citizen(&app, "Tunde").await;
    let (verifier, challenge) = pkce();
    let code = code(&app, &rp, &challenge, &[]).await;
    let tokens: Value = exchange(&app, &rp, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let parts: Vec<&str> = id_token.split('.').collect();
    let none_header = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        br#"{"alg":"none","typ":"JWT"}"#,
    );
    let unsigned = format!("{none_header}.{}.", parts[1]);
    let forged = format!(
        "{}.{}.{}AAAA",
        parts[0],
        parts[1],
        &parts[2][..parts[2].len() - 4]
    );
    for (case, hint) in [("alg none", unsigned), ("bad signature", forged)] {
        let to = location(&authorize(&app, &rp, &challenge, &[("id_token_hint", &hint)]).await);
        assert_eq!(
            query(&to, "error").as_deref(),
            Some("invalid_request"),
            "{case}"
        );
    }
    // The genuine hint works and the consent is remembered.
    let response = authorize(
        &app,
        &rp,
        &challenge,
        &[("id_token_hint", id_token), ("prompt", "none")],
    )
    .await;
    assert!(query(&location(&response), "code").is_some());
}

async fn revoked_tokens_fail_at_userinfo_and_introspection(app: TestApp) {
    let rp = register(
        &app,
        RpOptions {
            alg: Alg::ES256,
            ..RpOptions::default()
        },
    )
    .await;
    let _auth = signed_in_citizen(&app, "Uzo").await;
    let (verifier, challenge) = pkce();
    let code = code(&app, &rp, &challenge, &[]).await;
    let tokens: Value = exchange(&app, &rp, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap();
    let secret = rp.secret.clone().unwrap();
    let introspect = |token: String| {
        let app_url = app.url("/introspect");
        let (id, secret) = (rp.client_id.clone(), secret.clone());
        async move {
            let r = reqwest::Client::new()
                .post(app_url)
                .basic_auth(id, Some(secret))
                .form(&[("token", token)])
                .send()
                .await
                .unwrap();
            r.json::<Value>().await.unwrap()
        }
    };
    assert_eq!(introspect(access.to_string()).await["active"], true);
    let other = register(
        &app,
        RpOptions {
            host: "other.example",
            ..RpOptions::default()
        },
    )
    .await;
    let foreign = reqwest::Client::new()
        .post(app.url("/revoke"))
        .basic_auth(&other.client_id, other.secret.as_ref())
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    oauth_error(
        foreign,
        400,
        "invalid_request",
        "revoking another client's token",
    )
    .await;
    assert_eq!(introspect(access.to_string()).await["active"], true);
    let revoked = reqwest::Client::new()
        .post(app.url("/revoke"))
        .basic_auth(&rp.client_id, Some(&secret))
        .form(&[("token", access)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    assert_eq!(introspect(access.to_string()).await["active"], false);
    let info = userinfo(&app, access).await;
    oauth_error(info, 401, "invalid_token", "revoked token at userinfo").await;
    let garbage = userinfo(&app, "not.a.token").await;
    oauth_error(garbage, 401, "invalid_token", "garbage token").await;
}

crate::on_both_backends!(
    unknown_client_or_redirect_uri_shows_a_page_without_redirect,
    bad_authorization_requests_redirect_with_an_error,
    prompt_none_without_consent_and_acr_requirements,
    token_endpoint_refusals,
    code_reuse_revokes_what_it_issued,
    refresh_rotation_and_reuse_detection,
    forged_or_unsigned_id_token_hints_are_refused,
    revoked_tokens_fail_at_userinfo_and_introspection,
);
