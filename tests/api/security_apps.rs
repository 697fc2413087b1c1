//! Attacks by and on relying parties: an app introspecting another app's
//! tokens to learn its citizens, a disabled app's tokens working on, a
//! grant refreshed for ever, and a narrower scope on refresh ignored.

use serde_json::Value;

use crate::support::app::TestApp;
use crate::support::oidc::*;
use crate::support::registry::{civitas, stderr};

/// Signs a citizen in to `rp` and returns the token response.
async fn tokens_for(app: &TestApp, rp: &Rp, scope: &str) -> Value {
    let (verifier, challenge) = pkce();
    let code = code(app, rp, &challenge, &[("scope", scope)]).await;
    exchange(app, rp, &code, &verifier)
        .await
        .json()
        .await
        .unwrap()
}

/// `POST /introspect` authenticated as `caller`.
async fn introspect(app: &TestApp, caller: &Rp, token: &str) -> Value {
    reqwest::Client::new()
        .post(app.url("/introspect"))
        .basic_auth(&caller.client_id, caller.secret.as_deref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn a_curious_app_learns_nothing_by_introspecting_another_apps_tokens(app: TestApp) {
    let _citizen = signed_in_citizen(&app, "Ngozi").await;
    let tax = register(&app, RpOptions::default()).await;
    let bank = register(
        &app,
        RpOptions {
            host: "bank.example",
            ..Default::default()
        },
    )
    .await;
    let tokens = tokens_for(&app, &tax, "openid profile offline_access").await;
    let access = tokens["access_token"].as_str().unwrap();
    let refresh = tokens["refresh_token"].as_str().unwrap();
    assert_eq!(
        introspect(&app, &tax, access).await["active"],
        true,
        "its own"
    );
    for token in [access, refresh] {
        let answer = introspect(&app, &bank, token).await;
        assert_eq!(
            answer,
            serde_json::json!({"active": false}),
            "another app's"
        );
    }
    // The tax office's own API (a resource server) may check its tokens.
    let api = register(
        &app,
        RpOptions {
            host: "api.tax.example",
            ..Default::default()
        },
    )
    .await;
    assert_eq!(introspect(&app, &api, access).await["active"], false);
    let out = civitas(
        &app,
        &[
            "client",
            "update",
            &api.client_id,
            "--introspection-of",
            &tax.client_id,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let answer = introspect(&app, &api, access).await;
    assert_eq!(answer["active"], true, "{answer}");
    assert_eq!(answer["client_id"], tax.client_id.as_str());
    // Still not the bank.
    assert_eq!(introspect(&app, &bank, access).await["active"], false);
}

async fn a_disabled_apps_tokens_stop_at_once(app: TestApp) {
    let _citizen = signed_in_citizen(&app, "Ngozi").await;
    let tax = register(&app, RpOptions::default()).await;
    let api = register(
        &app,
        RpOptions {
            host: "api.tax.example",
            ..Default::default()
        },
    )
    .await;
    let out = civitas(
        &app,
        &[
            "client",
            "update",
            &api.client_id,
            "--introspection-of",
            &tax.client_id,
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let tokens = tokens_for(&app, &tax, "openid profile").await;
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&app, access).await.status(), 200);
    let out = civitas(&app, &["client", "disable", &tax.client_id]);
    assert!(out.status.success(), "{}", stderr(&out));
    // The access token has minutes left, but the app is disabled now.
    oauth_error(
        userinfo(&app, access).await,
        401,
        "invalid_token",
        "UserInfo for a disabled app's token",
    )
    .await;
    assert_eq!(introspect(&app, &api, access).await["active"], false);
}

async fn refresh(
    app: &TestApp,
    rp: &Rp,
    refresh_token: &str,
    scope: Option<&str>,
) -> reqwest::Response {
    let mut form = vec![
        ("grant_type", "refresh_token"),
        ("refresh_token", refresh_token),
    ];
    if let Some(scope) = scope {
        form.push(("scope", scope));
    }
    token(app, rp, &form).await
}

async fn a_grant_refreshed_for_ever_ends_after_ninety_days(app: TestApp) {
    let _citizen = signed_in_citizen(&app, "Ngozi").await;
    let tax = register(&app, RpOptions::default()).await;
    let mut tokens = tokens_for(&app, &tax, "openid offline_access").await;
    // Refreshed every 20 days: each refresh token lasts 30, the grant 90.
    for step in 1..=4 {
        app.clock.advance(time::Duration::days(20));
        let response = refresh(&app, &tax, tokens["refresh_token"].as_str().unwrap(), None).await;
        assert_eq!(response.status(), 200, "refresh on day {}", step * 20);
        tokens = response.json().await.unwrap();
    }
    app.clock.advance(time::Duration::days(11));
    oauth_error(
        refresh(&app, &tax, tokens["refresh_token"].as_str().unwrap(), None).await,
        400,
        "invalid_grant",
        "day 91",
    )
    .await;
}

async fn a_narrower_scope_on_refresh_is_what_the_token_carries(app: TestApp) {
    let _citizen = signed_in_citizen(&app, "Ngozi").await;
    let tax = register(&app, RpOptions::default()).await;
    let tokens = tokens_for(&app, &tax, "openid profile offline_access").await;
    let response = refresh(
        &app,
        &tax,
        tokens["refresh_token"].as_str().unwrap(),
        Some("openid"),
    )
    .await;
    assert_eq!(response.status(), 200);
    let narrower: Value = response.json().await.unwrap();
    assert_eq!(narrower["scope"], "openid");
    let access = narrower["access_token"].as_str().unwrap();
    assert_eq!(jwt_claims(access)["scope"], "openid");
    let info: Value = userinfo(&app, access).await.json().await.unwrap();
    assert!(info["sub"].is_string());
    assert!(info.get("name").is_none(), "no profile claims: {info}");
    // The refresh token keeps the whole grant: a later refresh may ask for
    // the profile again.
    let again: Value = refresh(
        &app,
        &tax,
        narrower["refresh_token"].as_str().unwrap(),
        None,
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(again["scope"], "offline_access openid profile");
}

crate::on_both_backends!(
    a_curious_app_learns_nothing_by_introspecting_another_apps_tokens,
    a_disabled_apps_tokens_stop_at_once,
    a_grant_refreshed_for_ever_ends_after_ninety_days,
    a_narrower_scope_on_refresh_is_what_the_token_carries,
);
