//! Every bad passkey input gets a 4xx with a specific code and stores nothing.

use serde_json::{Value, json};

use crate::support::app::{TestApp, assert_error};
use crate::support::passkeys::*;
use crate::support::passkeys::{SoftAuthenticator, Tweaks};

const ENROLL_FINISH: &str = "/api/v1/enrollment/finish";
const LOGIN_FINISH: &str = "/api/v1/login/finish";

/// Sends `request` and asserts the refusal and that no row was added or
/// removed by it.
async fn refused(
    app: &TestApp,
    request: impl std::future::Future<Output = reqwest::Response>,
    status: u16,
    code: &str,
    case: &str,
) {
    let before = app.counts().await;
    assert_error(request.await, status, code, case).await;
    assert_eq!(app.counts().await, before, "case {case}: rows changed");
}

async fn bad_enrollment_forms(app: TestApp) {
    let before = app.counts().await;
    let long = "x".repeat(101);
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "empty given name",
            json!({"given_name": " ", "family_name": "A", "birth_date": "1990-01-01", "region": "CAP"}),
            400,
            "invalid_given_name",
        ),
        (
            "long family name",
            json!({"given_name": "A", "family_name": long, "birth_date": "1990-01-01", "region": "CAP"}),
            400,
            "invalid_family_name",
        ),
        (
            "control character",
            json!({"given_name": "A\u{0007}", "family_name": "B", "birth_date": "1990-01-01", "region": "CAP"}),
            400,
            "invalid_given_name",
        ),
        (
            "future birth date",
            json!({"given_name": "A", "family_name": "B", "birth_date": "2027-01-01", "region": "CAP"}),
            400,
            "invalid_birth_date",
        ),
        (
            "birth before 1900",
            json!({"given_name": "A", "family_name": "B", "birth_date": "1899-12-31", "region": "CAP"}),
            400,
            "invalid_birth_date",
        ),
        (
            "not a date",
            json!({"given_name": "A", "family_name": "B", "birth_date": "31/12/1990", "region": "CAP"}),
            400,
            "invalid_birth_date",
        ),
        (
            "unknown region",
            json!({"given_name": "A", "family_name": "B", "birth_date": "1990-01-01", "region": "ZZZ"}),
            400,
            "unknown_region",
        ),
        (
            "missing field",
            json!({"given_name": "A", "family_name": "B", "birth_date": "1990-01-01"}),
            400,
            "invalid_request",
        ),
    ];
    for (case, body, status, code) in cases {
        let response = app.post_json("/api/v1/enrollment/start", &body).await;
        assert_error(response, status, code, case).await;
    }
    let malformed = app
        .client
        .post(app.url("/api/v1/enrollment/start"))
        .header("content-type", "application/json")
        .body("{\"given_name\": ")
        .send()
        .await
        .unwrap();
    assert_error(malformed, 400, "invalid_json", "malformed JSON").await;
    assert_eq!(app.counts().await, before);
}

async fn bad_registration_responses(app: TestApp) {
    let mut auth = SoftAuthenticator::new(&app.address);
    let form = person("Ifeoma");
    let cases: Vec<(&str, Tweaks, &str)> = vec![
        (
            "wrong origin",
            Tweaks {
                origin: Some("http://localhost:1".into()),
                ..Tweaks::default()
            },
            "origin_mismatch",
        ),
        (
            "wrong RP id hash",
            Tweaks {
                rp_id: Some("evil.example".into()),
                ..Tweaks::default()
            },
            "rp_id_mismatch",
        ),
        (
            "user not verified",
            Tweaks {
                user_verified: false,
                ..Tweaks::default()
            },
            "user_not_verified",
        ),
        (
            "get type at create",
            Tweaks {
                ceremony_type: Some("webauthn.get".into()),
                ..Tweaks::default()
            },
            "wrong_ceremony_type",
        ),
        (
            "other challenge",
            Tweaks {
                challenge: Some(vec![7; 32]),
                ..Tweaks::default()
            },
            "challenge_mismatch",
        ),
    ];
    for (case, tweaks, code) in cases {
        let started = start_enrollment(&app, &form).await;
        let credential = auth.create_with(&started["publicKey"], &tweaks);
        let response = finish(&app, ENROLL_FINISH, &started, credential);
        refused(&app, response, 400, code, case).await;
    }

    // Malformed base64url, a login response at enrollment, missing fields.
    let started = start_enrollment(&app, &form).await;
    let mut credential = auth.create(&started["publicKey"]);
    credential["response"]["clientDataJSON"] = json!("***not base64***");
    refused(
        &app,
        finish(&app, ENROLL_FINISH, &started, credential),
        400,
        "invalid_credential",
        "bad base64url",
    )
    .await;

    let login = start_login(&app).await;
    let mut other = SoftAuthenticator::new(&app.address);
    let started = start_enrollment(&app, &form).await;
    other.create(&started["publicKey"]);
    let assertion = other.get(&login["publicKey"]);
    refused(
        &app,
        finish(&app, ENROLL_FINISH, &started, assertion),
        400,
        "invalid_credential",
        "get response at create",
    )
    .await;

    let body = json!({"ceremony_id": "x"});
    let response = app.post_json(ENROLL_FINISH, &body);
    refused(&app, response, 400, "invalid_request", "missing credential").await;
}

async fn a_credential_id_already_registered_is_refused(app: TestApp) {
    let mut auth = SoftAuthenticator::new(&app.address);
    enroll(&app, &mut auth, "Ngozi").await;
    let taken = auth.credentials()[0].id.clone();
    let tweaks = Tweaks {
        credential_id: Some(taken),
        ..Tweaks::default()
    };

    // At enrollment of someone else.
    let mut other = SoftAuthenticator::new(&app.address);
    let started = start_enrollment(&app, &person("Obi")).await;
    let credential = other.create_with(&started["publicKey"], &tweaks);
    let response = finish(&app, ENROLL_FINISH, &started, credential);
    refused(
        &app,
        response,
        409,
        "credential_already_registered",
        "at enrollment",
    )
    .await;

    // When adding a passkey, from a device that ignores the exclude list.
    let mut careless = SoftAuthenticator::new(&app.address);
    let started = post_ok(&app, "/api/v1/me/passkeys/start", &json!({}), 200).await;
    let credential = careless.create_with(&started["publicKey"], &tweaks);
    let response = finish(&app, "/api/v1/me/passkeys/finish", &started, credential);
    refused(
        &app,
        response,
        409,
        "credential_already_registered",
        "when adding",
    )
    .await;
}

async fn ceremonies_are_single_use_bound_to_their_flow_and_expire(app: TestApp) {
    let mut auth = SoftAuthenticator::new(&app.address);
    let form = person("Jide");

    // Finishing twice.
    let started = start_enrollment(&app, &form).await;
    let credential = auth.create(&started["publicKey"]);
    assert_eq!(
        finish(&app, ENROLL_FINISH, &started, credential.clone())
            .await
            .status(),
        201
    );
    refused(
        &app,
        finish(&app, ENROLL_FINISH, &started, credential),
        400,
        "unknown_ceremony",
        "finished twice",
    )
    .await;

    // A ceremony id from another flow is refused and left in place.
    let login = start_login(&app).await;
    let started = start_enrollment(&app, &person("Kemi")).await;
    let credential = auth.create(&started["publicKey"]);
    let body = json!({"ceremony_id": login["ceremony_id"], "credential": credential});
    let wrong = app.post_json(ENROLL_FINISH, &body);
    refused(
        &app,
        wrong,
        400,
        "wrong_ceremony",
        "login ceremony at enrollment",
    )
    .await;

    // Older than five minutes (test clock, no sleeping).
    app.clock
        .advance(time::Duration::minutes(5) + time::Duration::seconds(1));
    refused(
        &app,
        finish(
            &app,
            ENROLL_FINISH,
            &started,
            auth.create(&started["publicKey"]),
        ),
        400,
        "ceremony_expired",
        "expired enrollment",
    )
    .await;
    let assertion = auth.get(&login["publicKey"]);
    refused(
        &app,
        finish(&app, LOGIN_FINISH, &login, assertion),
        400,
        "ceremony_expired",
        "expired login",
    )
    .await;
}

async fn bad_login_responses(app: TestApp) {
    let mut auth = SoftAuthenticator::new(&app.address);
    enroll(&app, &mut auth, "Lami").await;
    assert_eq!(
        app.post_json("/api/v1/logout", &json!({})).await.status(),
        204
    );

    let cases: Vec<(&str, Tweaks, u16, &str)> = vec![
        (
            "wrong origin",
            Tweaks {
                origin: Some("https://evil.example".into()),
                ..Tweaks::default()
            },
            400,
            "origin_mismatch",
        ),
        (
            "wrong RP id hash",
            Tweaks {
                rp_id: Some("evil.example".into()),
                ..Tweaks::default()
            },
            400,
            "rp_id_mismatch",
        ),
        (
            "user not verified",
            Tweaks {
                user_verified: false,
                ..Tweaks::default()
            },
            400,
            "user_not_verified",
        ),
        (
            "create type at get",
            Tweaks {
                ceremony_type: Some("webauthn.create".into()),
                ..Tweaks::default()
            },
            400,
            "wrong_ceremony_type",
        ),
    ];
    for (case, tweaks, status, code) in cases {
        let response = login_with(&app, &mut auth, None, &tweaks);
        refused(&app, response, status, code, case).await;
    }

    // A registration response used at login.
    let login = start_login(&app).await;
    let started = start_enrollment(&app, &person("Musa")).await;
    let registration = auth.create(&started["publicKey"]);
    refused(
        &app,
        finish(&app, LOGIN_FINISH, &login, registration),
        400,
        "invalid_credential",
        "create response at get",
    )
    .await;

    // A passkey Civitas never registered (the enrollment above was not finished).
    let plain = Tweaks::default();
    let response = login_with(&app, &mut auth, None, &plain);
    refused(
        &app,
        response,
        400,
        "unknown_credential",
        "unknown credential",
    )
    .await;

    // Malformed JSON credential.
    let login = start_login(&app).await;
    refused(
        &app,
        finish(&app, LOGIN_FINISH, &login, json!({"id": 5})),
        400,
        "invalid_credential",
        "malformed credential",
    )
    .await;
}

crate::on_both_backends!(
    bad_enrollment_forms,
    bad_registration_responses,
    a_credential_id_already_registered_is_refused,
    ceremonies_are_single_use_bound_to_their_flow_and_expire,
    bad_login_responses,
);
