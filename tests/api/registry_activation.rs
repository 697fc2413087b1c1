//! Enrollment with the activation code from a register letter: level 2 at
//! once, one use per code, typos caught before the database, and guessing
//! held back per client network (the per-code lock is in
//! `security_activation`).

use civitas::store::Table;
use serde_json::{Value, json};

use crate::support::app::{TestApp, assert_error};
use crate::support::passkeys::finish;
use crate::support::passkeys::{Device, SoftAuthenticator};
use crate::support::registry::*;

const ADAEZE: [&str; 6] = ["R-001", "Adaeze", "Nwosu", "1985-02-14", "NTH-LK", ""];
const EMEKA: [&str; 6] = ["R-002", "Emeka", "Obi", "1972-11-30", "CAP", ""];

/// The code with its check character replaced by another valid one.
fn with_wrong_check(code: &str, nth: usize) -> String {
    const CHECKS: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ*~$=U";
    let (data, check) = code.split_at(code.len() - 1);
    let wrong = CHECKS
        .iter()
        .map(|&c| c as char)
        .filter(|c| c.to_string() != check)
        .nth(nth % 36)
        .unwrap();
    format!("{data}{wrong}")
}

/// A well-formed code (right check character) that no letter carries.
fn unknown_code() -> String {
    civitas::registry::activation::ActivationCode::generate().to_string()
}

async fn a_letter_enrolls_a_verified_citizen_once(app: TestApp) {
    let admin = admin(&app).await;
    let letters = import_ok(&admin, &register_csv(&[ADAEZE, EMEKA])).await;
    let code = letters[0].code.clone();

    let browser = new_browser(&app);
    let response = start_with_code(&browser, &code, "1985-02-14").await;
    assert_eq!(response.status(), 200);
    let started: Value = response.json().await.unwrap();
    assert!(started["ceremony_id"].is_string(), "{started}");
    assert!(started["publicKey"]["challenge"].is_string(), "{started}");
    assert_eq!(
        started["record"],
        json!({
            "given_name": "Adaeze",
            "family_name": "Nwosu",
            "birth_date": "1985-02-14",
            "region": "NTH-LK",
            "region_name": "Lakeside",
        })
    );

    // Two starts with the same code: only the first to finish gets it.
    let other = new_browser(&app);
    let second: Value = start_with_code(&other, &code, "1985-02-14")
        .await
        .json()
        .await
        .unwrap();

    let mut auth = SoftAuthenticator::new(&app.address);
    let credential = auth.create(&started["publicKey"]);
    let response = finish(&browser, "/api/v1/enrollment/finish", &started, credential).await;
    assert_eq!(response.status(), 201);
    let enrolled: Value = response.json().await.unwrap();
    assert_eq!(enrolled["assurance_level"], 2);
    assert_eq!(enrolled["status"], "active");
    let me: Value = browser.get("/api/v1/me").await.json().await.unwrap();
    assert_eq!(me["national_id"], enrolled["national_id"]);
    assert_eq!(me["assurance_level"], 2);
    assert_eq!(me["given_name"], "Adaeze");
    assert_eq!(me["region"], "NTH-LK");
    let nid = civitas::domain::NationalId::parse(me["national_id"].as_str().unwrap()).unwrap();
    let citizen = app
        .store
        .find_citizen_by_national_id(&nid)
        .await
        .unwrap()
        .unwrap();
    let entry = app
        .store
        .find_register_entry("R-001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.citizen_id, Some(citizen.id.0), "register row linked");
    assert_eq!(
        app.store
            .register_ref_of(citizen.id)
            .await
            .unwrap()
            .as_deref(),
        Some("R-001")
    );

    // The losing ceremony is used up (ceremonies are single-use), nothing else.
    let mut other_auth = SoftAuthenticator::new(&app.address);
    let credential = other_auth.create(&second["publicKey"]);
    let kept = [
        Table::Citizens,
        Table::Passkeys,
        Table::Sessions,
        Table::RegisterEntries,
    ];
    let mut before = Vec::new();
    for t in kept {
        before.push(count(&app, t).await);
    }
    let response = finish(&other, "/api/v1/enrollment/finish", &second, credential).await;
    assert_error(response, 409, "activation_code_used", "finished second").await;
    for (t, n) in kept.into_iter().zip(before) {
        assert_eq!(count(&app, t).await, n, "finished second: {t:?} changed");
    }
    refused(
        &app,
        start_with_code(&other, &code, "1985-02-14"),
        409,
        "activation_code_used",
        "started after use",
    )
    .await;

    // Codes are read as people type them: lower case, spaces, no hyphens.
    let typed = letters[1].code.to_lowercase().replace('-', " ");
    let emeka = enroll_with_code(&app, &typed, "1972-11-30").await;
    assert_eq!(emeka.me().await["assurance_level"], 2);
}

async fn typos_are_caught_before_the_register_and_not_counted(app: TestApp) {
    let admin = admin(&app).await;
    let letter = one_resident(&admin, ADAEZE).await;
    let browser = new_browser(&app);
    for i in 0..25 {
        refused(
            &app,
            start_with_code(&browser, &with_wrong_check(&letter.code, i), "1985-02-14"),
            400,
            "invalid_activation_code",
            &format!("typo {i}"),
        )
        .await;
    }
    let malformed: Vec<(&str, String, &str, &str)> = vec![
        (
            "too short",
            "7K2M-9QXD".into(),
            "1985-02-14",
            "invalid_activation_code",
        ),
        (
            "a symbol codes never use",
            format!("U{}", &letter.code[1..]),
            "1985-02-14",
            "invalid_activation_code",
        ),
        (
            "bad birth date",
            letter.code.clone(),
            "14/02/1985",
            "invalid_birth_date",
        ),
        (
            "no birth date",
            letter.code.clone(),
            "",
            "invalid_birth_date",
        ),
    ];
    for (case, code, birth, error) in malformed {
        refused(
            &app,
            start_with_code(&browser, &code, birth),
            400,
            error,
            case,
        )
        .await;
    }
    // None of those counted against the code or the address.
    enroll_with_code(&app, &letter.code, "1985-02-14").await;
}

async fn twenty_failures_from_one_address_hold_it_back_for_an_hour(app: TestApp) {
    let admin = admin(&app).await;
    let letter = one_resident(&admin, ADAEZE).await;
    let browser = new_browser(&app);
    for i in 0..20 {
        refused(
            &app,
            start_with_code(&browser, &unknown_code(), "1985-02-14"),
            400,
            "activation_code_not_found",
            &format!("unknown code {i}"),
        )
        .await;
    }
    let before = counts(&app).await;
    let held = start_with_code(&browser, &letter.code, "1985-02-14").await;
    assert_eq!(held.headers()["retry-after"], "3600");
    assert_error(held, 429, "too_many_attempts", "21st attempt").await;
    // Typos are still told apart (they never reach the throttle).
    let typo = start_with_code(&browser, &with_wrong_check(&letter.code, 0), "1985-02-14").await;
    assert_error(typo, 400, "invalid_activation_code", "typo while held").await;
    assert_eq!(counts(&app).await, before);

    app.clock
        .advance(time::Duration::hours(1) - time::Duration::seconds(1));
    let held = start_with_code(&browser, &letter.code, "1985-02-14").await;
    assert_eq!(held.headers()["retry-after"], "1");
    assert_error(held, 429, "too_many_attempts", "one second left").await;

    app.clock.advance(time::Duration::seconds(1));
    enroll_with_code(&app, &letter.code, "1985-02-14").await;
}

async fn a_register_enrollment_over_a_self_enrolled_match_opens_a_duplicate_case(app: TestApp) {
    let admin = admin(&app).await;
    let letter = one_resident(&admin, ADAEZE).await;
    let selfie = self_enrolled(&app, &form("Adaeze", "Nwosu", "1985-02-14", "NTH-LK")).await;
    let cases = count(&app, Table::EnrollmentDuplicates).await;

    let registered = enroll_with_code(&app, &letter.code, "1985-02-14").await;
    assert_ne!(registered.national_id, selfie.national_id);
    assert_eq!(registered.me().await["assurance_level"], 2);
    assert_eq!(
        selfie.me().await["assurance_level"],
        1,
        "untouched until merged"
    );
    assert_eq!(count(&app, Table::EnrollmentDuplicates).await, cases + 1);

    let registrar = registrar(&app, "Rita", &["NTH"]).await;
    let queue = registrar.get_ok("/api/v1/registrar/duplicates").await;
    let items = queue["duplicates"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{queue}");
    assert_eq!(items[0]["matched_national_id"], selfie.national_id.as_str());
    assert_eq!(
        items[0]["duplicate_national_id"],
        registered.national_id.as_str()
    );
    assert_eq!(items[0]["region_code"], "NTH-LK");
}

crate::on_both_backends!(
    a_letter_enrolls_a_verified_citizen_once,
    typos_are_caught_before_the_register_and_not_counted,
    twenty_failures_from_one_address_hold_it_back_for_an_hour,
    a_register_enrollment_over_a_self_enrolled_match_opens_a_duplicate_case,
);
