//! Passkey enrollment, sign-in, sessions and passkey management.

use serde_json::{Value, json};

use crate::support::app::{TestApp, assert_error};
use crate::support::passkeys::*;
use crate::support::passkeys::{SoftAuthenticator, Tweaks};

async fn enroll_sign_out_and_sign_in_again(app: TestApp) {
    let mut auth = SoftAuthenticator::new(&app.address);
    let national_id = enroll(&app, &mut auth, "Amara").await;
    assert!(civitas::domain::NationalId::parse(&national_id).is_ok());

    let me_body: Value = me(&app).await.json().await.unwrap();
    assert_eq!(me_body["national_id"], national_id);
    assert_eq!(me_body["status"], "active");
    assert_eq!(me_body["assurance_level"], 1);
    assert!(
        me_body["national_id_masked"]
            .as_str()
            .unwrap()
            .starts_with("XXXX XXXX ")
    );

    let logout = app.post_json("/api/v1/logout", &json!({})).await;
    assert_eq!(logout.status(), 204);
    assert_error(me(&app).await, 401, "not_signed_in", "after logout").await;
    assert_eq!(app.counts().await[2], 0, "session removed server-side");

    let login = login_with(&app, &mut auth, None, &Tweaks::default()).await;
    assert_eq!(login.status(), 200);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    assert!(
        !cookie.contains("Secure"),
        "no Secure flag on an http issuer"
    );
    let body: Value = login.json().await.unwrap();
    assert_eq!(body["national_id"], national_id);
    let me_body: Value = me(&app).await.json().await.unwrap();
    assert_eq!(me_body["national_id"], national_id);

    // The account page shows the masked number and the passkey.
    let page = app.get("/account").await.text().await.unwrap();
    assert!(page.contains(&format!("XXXX XXXX {}", &national_id[8..])));
    assert!(page.contains("data-passkey-id"));
}

async fn passkeys_can_be_added_renamed_and_removed(app: TestApp) {
    let mut auth = SoftAuthenticator::new(&app.address);
    enroll(&app, &mut auth, "Bola").await;

    // The second passkey lives on another device: the first device refuses
    // to create one, as its passkey is in the exclude list.
    let mut laptop = SoftAuthenticator::new(&app.address);
    let started = post_ok(&app, "/api/v1/me/passkeys/start", &json!({}), 200).await;
    let excluded = started["publicKey"]["excludeCredentials"]
        .as_array()
        .unwrap();
    assert_eq!(excluded.len(), 1, "the existing passkey is excluded");
    let credential = laptop.create(&started["publicKey"]);
    let added = finish(&app, "/api/v1/me/passkeys/finish", &started, credential).await;
    assert_eq!(added.status(), 201);

    let list: Value = app.get("/api/v1/me/passkeys").await.json().await.unwrap();
    let passkeys = list["passkeys"].as_array().unwrap();
    assert_eq!(passkeys.len(), 2);
    // Tell them apart by credential id: both were made within the same
    // second of the test clock, so the list order does not say which is which.
    let phone_id = base64::Engine::encode(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD,
        &auth.credentials()[0].id,
    );
    let id_of = |phone: bool| {
        passkeys
            .iter()
            .find(|p| (p["credential_id"] == phone_id.as_str()) == phone)
            .unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (first, second) = (id_of(true), id_of(false));

    let renamed = app
        .send_json(
            reqwest::Method::PATCH,
            &format!("/api/v1/me/passkeys/{second}"),
            &json!({"name": "Work laptop"}),
        )
        .await;
    assert_eq!(renamed.status(), 204);
    let bad_name = app
        .send_json(
            reqwest::Method::PATCH,
            &format!("/api/v1/me/passkeys/{second}"),
            &json!({"name": ""}),
        )
        .await;
    assert_error(bad_name, 400, "invalid_passkey_name", "empty name").await;

    let removed = app
        .client
        .delete(app.url(&format!("/api/v1/me/passkeys/{first}")))
        .send()
        .await
        .unwrap();
    assert_eq!(removed.status(), 204);
    // The session signed in with the removed passkey ended with it.
    assert_error(
        me(&app).await,
        401,
        "not_signed_in",
        "after removing its passkey",
    )
    .await;
    let login = login_with(&app, &mut laptop, None, &Tweaks::default()).await;
    assert_eq!(login.status(), 200);
    let last = app
        .client
        .delete(app.url(&format!("/api/v1/me/passkeys/{second}")))
        .send()
        .await
        .unwrap();
    assert_error(last, 409, "last_passkey", "removing the last passkey").await;
    let unknown = app
        .client
        .delete(app.url(&format!("/api/v1/me/passkeys/{first}")))
        .send()
        .await
        .unwrap();
    assert_error(unknown, 404, "not_found", "already removed").await;

    let list: Value = app.get("/api/v1/me/passkeys").await.json().await.unwrap();
    assert_eq!(list["passkeys"][0]["name"], "Work laptop");

    // The removed one no longer works.
    assert_eq!(
        app.post_json("/api/v1/logout", &json!({})).await.status(),
        204
    );
    let login = login_with(&app, &mut auth, None, &Tweaks::default()).await;
    assert_error(login, 400, "unknown_credential", "removed passkey").await;
}

async fn sessions_expire_when_idle_and_after_twelve_hours(app: TestApp) {
    let mut auth = SoftAuthenticator::new(&app.address);
    enroll(&app, &mut auth, "Chidi").await;
    app.clock.advance(time::Duration::minutes(29));
    assert_eq!(me(&app).await.status(), 200);
    app.clock.advance(time::Duration::minutes(29));
    assert_eq!(
        me(&app).await.status(),
        200,
        "activity moves the idle deadline"
    );
    app.clock.advance(time::Duration::minutes(31));
    assert_error(me(&app).await, 401, "not_signed_in", "idle timeout").await;

    assert_eq!(
        login_with(&app, &mut auth, None, &Tweaks::default())
            .await
            .status(),
        200
    );
    // 25 × 28 min = 11 h 40 min of activity: still signed in.
    for _ in 0..25 {
        app.clock.advance(time::Duration::minutes(28));
        assert_eq!(me(&app).await.status(), 200);
    }
    app.clock.advance(time::Duration::minutes(28));
    assert_error(me(&app).await, 401, "not_signed_in", "absolute timeout").await;
}

async fn state_changes_with_a_session_need_our_origin(app: TestApp) {
    let mut auth = SoftAuthenticator::new(&app.address);
    enroll(&app, &mut auth, "Dayo").await;
    // Sign in on a client that sends no Origin by itself, and keep its cookie.
    let plain = reqwest::Client::new();
    let started: Value = plain
        .post(app.url("/api/v1/login/start"))
        .json(&json!({}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let credential = auth.get(&started["publicKey"]);
    let response = plain
        .post(app.url("/api/v1/login/finish"))
        .json(&json!({"ceremony_id": started["ceremony_id"], "credential": credential}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let set_cookie = response.headers()["set-cookie"].to_str().unwrap();
    let cookie = set_cookie.split(';').next().unwrap().to_string();

    let before = app.counts().await;
    for (case, origin) in [
        ("missing Origin", None),
        ("foreign Origin", Some("https://evil.example")),
    ] {
        let mut request = plain
            .post(app.url("/api/v1/logout"))
            .header("cookie", &cookie);
        if let Some(o) = origin {
            request = request.header("origin", o);
        }
        assert_error(request.send().await.unwrap(), 403, "origin_mismatch", case).await;
    }
    assert_eq!(
        app.counts().await,
        before,
        "refused logouts removed nothing"
    );
    let ok = plain
        .post(app.url("/api/v1/logout"))
        .header("cookie", &cookie)
        .header("origin", &app.address)
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status(), 204);
    assert_eq!(app.counts().await[2], before[2] - 1);
}

async fn a_duplicate_enrollment_is_refused_and_kept_for_review(app: TestApp) {
    let mut auth = SoftAuthenticator::new(&app.address);
    enroll(&app, &mut auth, "Efe").await;
    let before = app.counts().await;
    let mut form = person("  EFE ");
    form["family_name"] = json!("okafor");
    let response = app.post_json("/api/v1/enrollment/start", &form).await;
    assert_error(response, 409, "possible_duplicate", "same person").await;
    let after = app.counts().await;
    assert_eq!(&after[..3], &before[..3], "no citizen, passkey or session");
    assert_eq!(
        after[3],
        before[3] + 1,
        "the attempt is recorded for registrars"
    );
}

async fn suspended_and_revoked_citizens_cannot_sign_in(app: TestApp) {
    use civitas::domain::{CitizenStatus, NationalId};
    for (status, code) in [
        (CitizenStatus::Suspended, "citizen_suspended"),
        (CitizenStatus::Revoked, "citizen_revoked"),
        (CitizenStatus::Deceased, "citizen_deceased"),
    ] {
        let mut auth = SoftAuthenticator::new(&app.address);
        let nid = enroll(&app, &mut auth, &format!("Femi{}", status.as_str())).await;
        let citizen = app
            .store
            .find_citizen_by_national_id(&NationalId::parse(&nid).unwrap())
            .await
            .unwrap()
            .unwrap();
        app.store
            .set_citizen_status(citizen.id, status, app.clock.now())
            .await
            .unwrap();
        // The live session no longer counts.
        assert_error(me(&app).await, 401, "not_signed_in", code).await;
        let before = app.counts().await;
        let response = login_with(&app, &mut auth, None, &Tweaks::default()).await;
        assert_error(response, 403, code, code).await;
        assert_eq!(app.counts().await, before, "{code}: nothing stored");
    }
}

async fn a_counter_that_goes_backwards_is_refused_and_recorded(app: TestApp) {
    let mut auth = SoftAuthenticator::new(&app.address);
    enroll(&app, &mut auth, "Gozie").await;
    let tweaks = Tweaks {
        counter: Some(10),
        ..Tweaks::default()
    };
    assert_eq!(
        login_with(&app, &mut auth, None, &tweaks).await.status(),
        200
    );
    let before = app.counts().await;
    let tweaks = Tweaks {
        counter: Some(5),
        ..Tweaks::default()
    };
    let response = login_with(&app, &mut auth, None, &tweaks).await;
    assert_error(
        response,
        403,
        "possible_cloned_authenticator",
        "counter 10 -> 5",
    )
    .await;
    let after = app.counts().await;
    assert_eq!(&after[..4], &before[..4]);
    assert_eq!(after[4], before[4] + 1, "incident recorded");
}

async fn backup_flags_are_stored_with_the_passkey(app: TestApp) {
    let mut auth = SoftAuthenticator::new(&app.address);
    let started = start_enrollment(&app, &person("Hadiza")).await;
    let tweaks = Tweaks {
        backup_eligible: true,
        backup_state: true,
        ..Tweaks::default()
    };
    let credential = auth.create_with(&started["publicKey"], &tweaks);
    assert_eq!(
        finish(&app, "/api/v1/enrollment/finish", &started, credential)
            .await
            .status(),
        201
    );
    let list: Value = app.get("/api/v1/me/passkeys").await.json().await.unwrap();
    assert_eq!(list["passkeys"][0]["backup_eligible"], true);
    assert_eq!(list["passkeys"][0]["backup_state"], true);
}

async fn login_return_to_accepts_only_our_paths(app: TestApp) {
    for (given, expected) in [
        ("/account", "/account"),
        ("/authorize?x=1", "/authorize?x=1"),
        ("//evil.example/", "/account"),
        ("https://evil.example/", "/account"),
        ("/\\evil", "/account"),
    ] {
        let query: String = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("return_to", given)
            .finish();
        let page = app
            .get(&format!("/login?{query}"))
            .await
            .text()
            .await
            .unwrap();
        let expected = expected.replace('&', "&amp;");
        assert!(
            page.contains(&format!("data-return-to=\"{expected}\"")),
            "{given}"
        );
    }
    let account = app.get("/account").await;
    assert_eq!(account.status(), 303);
    assert_eq!(account.headers()["location"], "/login?return_to=%2Faccount");
}

crate::on_both_backends!(
    enroll_sign_out_and_sign_in_again,
    passkeys_can_be_added_renamed_and_removed,
    sessions_expire_when_idle_and_after_twelve_hours,
    state_changes_with_a_session_need_our_origin,
    a_duplicate_enrollment_is_refused_and_kept_for_review,
    suspended_and_revoked_citizens_cannot_sign_in,
    a_counter_that_goes_backwards_is_refused_and_recorded,
    backup_flags_are_stored_with_the_passkey,
    login_return_to_accepts_only_our_paths,
);
