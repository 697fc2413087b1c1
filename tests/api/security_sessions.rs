//! Attacks on sign-in freshness and on sessions: claiming a fresh sign-in
//! for `prompt=login` or `max_age`, linking a citizen across apps by `sid`,
//! and turning a stolen session into a permanent backdoor by adding a
//! passkey, or keeping one alive after its passkey was removed.

use civitas::domain::client::SubjectType;
use civitas::store::Table;
use serde_json::{Value, json};

use crate::support::app::{TestApp, assert_error};
use crate::support::oidc::*;
use crate::support::passkeys::{
    Device, SoftAuthenticator, Tweaks, enroll, finish, login_with, me, post_ok,
};
use crate::support::registry::new_browser;

async fn a_client_cannot_claim_a_fresh_sign_in_for_prompt_login_or_max_age(app: TestApp) {
    let _auth = signed_in_citizen(&app, "Xavier").await;
    let rp = register(&app, RpOptions::default()).await;
    let (_, challenge) = pkce();
    // Consent given once, so only freshness decides.
    code(&app, &rp, &challenge, &[]).await;
    app.clock.advance(time::Duration::minutes(30));
    let now = app.clock.unix().to_string();
    for (case, extra) in [
        (
            "prompt=login, claimed 0",
            [("prompt", "login"), ("civitas_signed_in_after", "0")],
        ),
        (
            "max_age=60, claimed 0",
            [("max_age", "60"), ("civitas_signed_in_after", "0")],
        ),
        (
            "prompt=login, claimed now",
            [
                ("prompt", "login"),
                ("civitas_signed_in_after", now.as_str()),
            ],
        ),
        (
            "prompt=login, a forged seal",
            [("prompt", "login"), ("civitas_signed_in_after", "0.00ff")],
        ),
    ] {
        let response = authorize(&app, &rp, &challenge, &extra).await;
        let to = location(&response);
        assert_eq!(
            to.path(),
            "/login",
            "case {case}: sent to sign in, not given a code: {to}"
        );
    }
}

async fn a_sealed_round_trip_does_not_carry_to_another_request(app: TestApp) {
    let mut auth = signed_in_citizen(&app, "Xavier").await;
    let rp = register(&app, RpOptions::default()).await;
    let (_, challenge) = pkce();
    code(&app, &rp, &challenge, &[]).await;
    app.clock.advance(time::Duration::minutes(30));
    // A fresh sign-in answers the request that asked for it ...
    let to = location(&authorize(&app, &rp, &challenge, &[("prompt", "login")]).await);
    let return_to = query(&to, "return_to").unwrap();
    let stamp = url::Url::parse(&format!("http://x{return_to}"))
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "civitas_signed_in_after")
        .map(|(_, v)| v.into_owned())
        .unwrap();
    assert!(stamp.contains('.'), "the time is sealed: {stamp}");
    assert_eq!(
        login_with(&app, &mut auth, None, &Tweaks::default())
            .await
            .status(),
        200
    );
    let back = location(&app.get(&return_to).await);
    assert!(query(&back, "code").is_some(), "no loop: {back}");
    // ... but its stamp does not make another request's old session fresh.
    let (_, other_challenge) = pkce();
    app.clock.advance(time::Duration::minutes(2));
    let response = authorize(
        &app,
        &rp,
        &other_challenge,
        &[("prompt", "login"), ("civitas_signed_in_after", &stamp)],
    )
    .await;
    assert_eq!(location(&response).path(), "/login");
}

async fn two_apps_cannot_link_a_citizen_by_sid(app: TestApp) {
    let _auth = signed_in_citizen(&app, "Ngozi").await;
    let tax = register(&app, RpOptions::default()).await;
    let bank = register(
        &app,
        RpOptions {
            host: "bank.example",
            ..Default::default()
        },
    )
    .await;
    let mut sids = Vec::new();
    for rp in [&tax, &bank] {
        let (verifier, challenge) = pkce();
        let code = code(&app, rp, &challenge, &[]).await;
        let tokens: Value = exchange(&app, rp, &code, &verifier)
            .await
            .json()
            .await
            .unwrap();
        sids.push(jwt_claims(tokens["id_token"].as_str().unwrap())["sid"].clone());
    }
    assert_ne!(sids[0], sids[1], "one browser session, two apps, two sids");
    // Logout with the app's own hint still finds the session.
    let (verifier, challenge) = pkce();
    let code = code(&app, &tax, &challenge, &[]).await;
    let tokens: Value = exchange(&app, &tax, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let query_string = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("id_token_hint", tokens["id_token"].as_str().unwrap())
        .append_pair("post_logout_redirect_uri", "https://app.example/bye")
        .finish();
    let response = app.get(&format!("/end_session?{query_string}")).await;
    assert_eq!(location(&response).as_str(), "https://app.example/bye");
    assert_eq!(me(&app).await.status(), 401, "signed out");
}

async fn the_consent_page_says_when_apps_share_an_identifier(app: TestApp) {
    let _auth = signed_in_citizen(&app, "Ngozi").await;
    for (subject_type, host, expected, not_expected) in [
        (
            SubjectType::Pairwise,
            "pairwise.example",
            "unique to this app",
            "other apps",
        ),
        (
            SubjectType::Public,
            "public.example",
            "other apps",
            "unique to this app",
        ),
    ] {
        let rp = register(
            &app,
            RpOptions {
                subject_type,
                host,
                ..Default::default()
            },
        )
        .await;
        let (_, challenge) = pkce();
        let page = authorize(&app, &rp, &challenge, &[])
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains(expected), "{subject_type:?}: {page}");
        assert!(!page.contains(not_expected), "{subject_type:?}: {page}");
    }
}

async fn a_stolen_session_cannot_add_a_passkey_after_five_minutes(app: TestApp) {
    let mut auth = SoftAuthenticator::new(&app.address);
    enroll(&app, &mut auth, "Bola").await;
    // Within five minutes of the sign-in, the citizen may add one.
    app.clock.advance(time::Duration::minutes(4));
    let started = post_ok(&app, "/api/v1/me/passkeys/start", &json!({}), 200).await;
    // Past five minutes, the same session may neither finish nor start.
    app.clock.advance(time::Duration::minutes(2));
    let mut thief = SoftAuthenticator::new(&app.address);
    let credential = thief.create(&started["publicKey"]);
    let before = count_passkeys(&app).await;
    let finished = finish(&app, "/api/v1/me/passkeys/finish", &started, credential).await;
    assert_error(
        finished,
        403,
        "reauthentication_required",
        "finish after 5 minutes",
    )
    .await;
    assert_error(
        app.post_json("/api/v1/me/passkeys/start", &json!({})).await,
        403,
        "reauthentication_required",
        "start after 5 minutes",
    )
    .await;
    assert_eq!(count_passkeys(&app).await, before);
    // A fresh, user-verified sign-in allows it again.
    assert_eq!(
        login_with(&app, &mut auth, None, &Tweaks::default())
            .await
            .status(),
        200
    );
    post_ok(&app, "/api/v1/me/passkeys/start", &json!({}), 200).await;
}

async fn count_passkeys(app: &TestApp) -> i64 {
    app.store.count_rows(Table::Passkeys).await.unwrap()
}

/// Enrolls on `phone`, adds a second passkey on `laptop` signed in on
/// another browser; returns (phone browser, laptop browser, the passkey
/// ids (phone's, laptop's)).
async fn two_devices(
    app: &TestApp,
    phone: &mut SoftAuthenticator,
    laptop: &mut SoftAuthenticator,
) -> (TestApp, TestApp, String, String) {
    let on_phone = new_browser(app);
    enroll(&on_phone, phone, "Dayo").await;
    let started = post_ok(&on_phone, "/api/v1/me/passkeys/start", &json!({}), 200).await;
    let credential = laptop.create(&started["publicKey"]);
    let added: Value = finish(
        &on_phone,
        "/api/v1/me/passkeys/finish",
        &started,
        credential,
    )
    .await
    .json()
    .await
    .unwrap();
    let laptop_id = added["id"].as_str().unwrap().to_string();
    let list: Value = on_phone
        .get("/api/v1/me/passkeys")
        .await
        .json()
        .await
        .unwrap();
    let phone_id = list["passkeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .find(|id| *id != laptop_id)
        .unwrap();
    let on_laptop = new_browser(app);
    assert_eq!(
        login_with(&on_laptop, laptop, None, &Tweaks::default())
            .await
            .status(),
        200
    );
    (on_phone, on_laptop, phone_id, laptop_id)
}

async fn removing_a_stolen_passkey_ends_the_sessions_it_signed_in(app: TestApp) {
    let mut phone = SoftAuthenticator::new(&app.address);
    let mut laptop = SoftAuthenticator::new(&app.address);
    let (on_phone, on_laptop, _, laptop_id) = two_devices(&app, &mut phone, &mut laptop).await;
    // The laptop is stolen; the citizen removes its passkey from the phone.
    let removed = on_phone
        .client
        .delete(on_phone.url(&format!("/api/v1/me/passkeys/{laptop_id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    assert_error(
        me(&on_laptop).await,
        401,
        "not_signed_in",
        "the laptop's session",
    )
    .await;
    assert_eq!(
        me(&on_phone).await.status(),
        200,
        "the phone's session stays"
    );
}

async fn two_parallel_removals_cannot_leave_a_citizen_without_a_passkey(app: TestApp) {
    let mut phone = SoftAuthenticator::new(&app.address);
    let mut laptop = SoftAuthenticator::new(&app.address);
    let (on_phone, on_laptop, phone_id, laptop_id) =
        two_devices(&app, &mut phone, &mut laptop).await;
    let remove = |browser: &TestApp, id: &str| {
        browser
            .client
            .delete(browser.url(&format!("/api/v1/me/passkeys/{id}")))
            .send()
    };
    let (a, b) = tokio::join!(remove(&on_phone, &laptop_id), remove(&on_laptop, &phone_id));
    let mut statuses = [a.unwrap().status().as_u16(), b.unwrap().status().as_u16()];
    statuses.sort();
    // One removal wins; the other is refused as the last passkey, or finds
    // its session ended by the first.
    assert_eq!(statuses[0], 204, "{statuses:?}");
    assert!(matches!(statuses[1], 401 | 409), "{statuses:?}");
    assert_eq!(count_passkeys(&app).await, 1, "one passkey is left");
}

crate::on_both_backends!(
    a_client_cannot_claim_a_fresh_sign_in_for_prompt_login_or_max_age,
    a_sealed_round_trip_does_not_carry_to_another_request,
    two_apps_cannot_link_a_citizen_by_sid,
    the_consent_page_says_when_apps_share_an_identifier,
    a_stolen_session_cannot_add_a_passkey_after_five_minutes,
    removing_a_stolen_passkey_ends_the_sessions_it_signed_in,
    two_parallel_removals_cannot_leave_a_citizen_without_a_passkey,
);
