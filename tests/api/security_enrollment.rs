//! Attacks through enrollment and duplicate cases: enrolling under a
//! victim's name before they do and waiting for the merge, asking again and
//! again whether someone is enrolled, names that look the same but are not
//! the same text, and enrolling one person twice in parallel.

use civitas::store::Table;
use serde_json::{Value, json};

use crate::support::app::{TestApp, assert_error};
use crate::support::passkeys::{
    Device, SoftAuthenticator, Tweaks, finish, login_with, start_enrollment,
};
use crate::support::registry::*;

const VICTIM: [&str; 6] = ["R-9", "Ifeoma", "Okafor", "1990-04-12", "NTH-HL", ""];

/// The open cases in `registrar`'s queue.
async fn cases(registrar: &Person) -> Vec<Value> {
    registrar.get_ok("/api/v1/registrar/duplicates").await["duplicates"]
        .as_array()
        .unwrap()
        .clone()
}

fn passport(number: &str) -> Value {
    json!({
        "evidence_type": "passport",
        "issuing_authority": "Civitas Passport Office",
        "document_number": number,
    })
}

/// A squatter enrolls with the victim's details; the victim enrolls from
/// their register letter; a registrar finds the pair and merges, keeping
/// `keep`'s record. Returns (squatter, victim, registrar, merge answer).
async fn squatter_then_victim_then_merge(
    app: &TestApp,
    keep_victim: bool,
    body: impl Fn(&str) -> Value,
) -> (Person, Person, Person, Value) {
    let admin = admin(app).await;
    let registrar = registrar(app, "Rita", &["NTH"]).await;
    let letter = one_resident(&admin, VICTIM).await;
    let squatter = citizen_in(app, "Ifeoma", "NTH-HL").await;
    let victim = enroll_with_code(app, &letter.code, "1990-04-12").await;
    let open = cases(&registrar).await;
    assert_eq!(open.len(), 1, "the letter's enrollment opened a case");
    let case_id = open[0]["id"].as_str().unwrap();
    let survivor = if keep_victim {
        &victim.national_id
    } else {
        &squatter.national_id
    };
    let merged = registrar
        .post_ok(
            &format!("/api/v1/registrar/duplicates/{case_id}/merge"),
            &body(survivor),
            200,
        )
        .await;
    (squatter, victim, registrar, merged)
}

async fn a_squatter_merged_into_the_victim_keeps_no_way_to_sign_in_as_them(app: TestApp) {
    let (mut squatter, victim, _, merged) =
        squatter_then_victim_then_merge(&app, true, |s| json!({"survivor": s})).await;
    assert_eq!(merged["national_id"], victim.national_id.as_str());
    assert_eq!(merged["merge"]["passkeys_revoked"], 1);
    assert_eq!(merged["merge"]["passkeys_rebound"], 0);
    // The squatter's session is gone, and their passkey signs in as nobody.
    assert_error(
        squatter.get("/api/v1/me").await,
        401,
        "not_signed_in",
        "the squatter's session after the merge",
    )
    .await;
    let again = login_with(&squatter.app, &mut squatter.auth, None, &Tweaks::default()).await;
    assert_error(again, 400, "unknown_credential", "the squatter's passkey").await;
    // The victim is untouched, at level 2.
    assert_eq!(victim.me().await["assurance_level"], 2);
}

async fn a_merge_never_raises_the_survivors_level(app: TestApp) {
    let (squatter, _, registrar, merged) =
        squatter_then_victim_then_merge(&app, false, |s| json!({"survivor": s})).await;
    assert_eq!(merged["national_id"], squatter.national_id.as_str());
    assert_eq!(merged["assurance_level"], 1, "not the dropped record's 2");
    let view = citizen_view(&registrar, &squatter.national_id).await;
    assert_eq!(view["assurance_level"], 1);
}

async fn only_a_passkey_re_bound_in_person_moves_to_the_survivor(app: TestApp) {
    let admin = admin(&app).await;
    let registrar = registrar(&app, "Rita", &["NTH"]).await;
    let letter = one_resident(&admin, VICTIM).await;
    // The same person enrolled twice: first on their own, then with the letter.
    let mut first = citizen_in(&app, "Ifeoma", "NTH-HL").await;
    let second = enroll_with_code(&app, &letter.code, "1990-04-12").await;
    let view = citizen_view(&registrar, &first.national_id).await;
    let passkey = view["passkeys"][0]["id"].as_str().unwrap().to_string();
    let case_id = cases(&registrar).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let merge = format!("/api/v1/registrar/duplicates/{case_id}/merge");
    let before = counts(&app).await;
    for (case, rebind, code) in [
        (
            "a passkey of another record",
            json!({"passkeys": ["00000000-0000-4000-8000-000000000000"], "evidence": passport("A1")}),
            "unknown_passkey",
        ),
        (
            "no document",
            json!({"passkeys": [passkey], "evidence": passport("")}),
            "invalid_document_number",
        ),
    ] {
        refused(
            &app,
            registrar.post(
                &merge,
                &json!({"survivor": second.national_id, "rebind": rebind}),
            ),
            400,
            code,
            case,
        )
        .await;
    }
    assert_eq!(counts(&app).await, before);
    let proofing_before = count(&app, Table::ProofingRecords).await;
    let merged = registrar
        .post_ok(
            &merge,
            &json!({
                "survivor": second.national_id,
                "rebind": {"passkeys": [passkey], "evidence": passport("P-5555 0001")},
            }),
            200,
        )
        .await;
    assert_eq!(
        merged["merge"],
        json!({"passkeys_rebound": 1, "passkeys_revoked": 0})
    );
    assert_eq!(
        count(&app, Table::ProofingRecords).await,
        proofing_before + 1,
        "the document shown for the re-binding is on record"
    );
    // The re-bound passkey now signs in to the survivor.
    let response = login_with(&first.app, &mut first.auth, None, &Tweaks::default()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(first.me().await["national_id"], second.national_id.as_str());
}

async fn a_passkey_re_bound_through_two_merges_still_signs_in(app: TestApp) {
    let admin = admin(&app).await;
    let registrar = registrar(&app, "Rita", &["NTH"]).await;
    // A, then B (from the letter): A's passkey is re-bound to B.
    let letter = one_resident(&admin, VICTIM).await;
    let mut a = citizen_in(&app, "Ifeoma", "NTH-HL").await;
    let b = enroll_with_code(&app, &letter.code, "1990-04-12").await;
    let a_passkey = citizen_view(&registrar, &a.national_id).await["passkeys"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let case = cases(&registrar).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    registrar
        .post_ok(
            &format!("/api/v1/registrar/duplicates/{case}/merge"),
            &json!({"survivor": b.national_id,
                    "rebind": {"passkeys": [a_passkey], "evidence": passport("P-1")}}),
            200,
        )
        .await;
    // Then C (a second letter for the same person) and B are merged into C,
    // re-binding the passkey again.
    let letter2 = one_resident(
        &admin,
        ["R-10", "Ifeoma", "Okafor", "1990-04-12", "NTH-HL", ""],
    )
    .await;
    let c = enroll_with_code(&app, &letter2.code, "1990-04-12").await;
    let b_passkeys: Vec<String> = citizen_view(&registrar, &b.national_id).await["passkeys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    let case = cases(&registrar).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    registrar
        .post_ok(
            &format!("/api/v1/registrar/duplicates/{case}/merge"),
            &json!({"survivor": c.national_id,
                    "rebind": {"passkeys": b_passkeys, "evidence": passport("P-1")}}),
            200,
        )
        .await;
    // A's passkey, made for A, reaches C through B.
    let response = login_with(&a.app, &mut a.auth, None, &Tweaks::default()).await;
    assert_eq!(response.status(), 200, "A -> B -> C");
    assert_eq!(a.me().await["national_id"], c.national_id.as_str());
}

async fn asking_again_and_again_whether_someone_is_enrolled_opens_one_case(app: TestApp) {
    let registrar = registrar(&app, "Rita", &["NTH"]).await;
    let _enrolled = citizen_in(&app, "Ifeoma", "NTH-HL").await;
    let form = form("Ifeoma", "Okafor", "1990-04-12", "NTH-HL");
    for n in 0..5 {
        let prober = new_browser(&app);
        let response = prober.post_json("/api/v1/enrollment/start", &form).await;
        assert_eq!(response.status(), 409, "probe {n}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "possible_duplicate");
        let text = body["error_description"].as_str().unwrap();
        // Advice, not a confirmation of what the prober typed or guessed.
        assert!(
            !text.contains("already enrolled") && !text.contains("same name"),
            "probe {n}: {text}"
        );
        assert!(
            text.contains("registrar") && text.contains("letter"),
            "{text}"
        );
    }
    assert_eq!(cases(&registrar).await.len(), 1, "one case, not five");
    assert_eq!(count(&app, Table::EnrollmentDuplicates).await, 1);
}

async fn names_with_invisible_characters_are_refused(app: TestApp) {
    let before = counts(&app).await;
    for (case, given) in [
        ("zero-width space", "Ama\u{200B}ra"),
        ("zero-width joiner", "Ama\u{200D}ra"),
        ("right-to-left override", "Amara\u{202E}x"),
        ("left-to-right mark", "Ama\u{200E}ra"),
        ("no-break space", "Amara\u{00A0}Ngozi"),
        ("Hangul filler", "Amara\u{3164}"),
    ] {
        let browser = new_browser(&app);
        let response = browser
            .post_json(
                "/api/v1/enrollment/start",
                &form(given, "Okafor", "1990-04-12", "CAP-H"),
            )
            .await;
        assert_error(response, 400, "invalid_given_name", case).await;
    }
    assert_eq!(counts(&app).await, before);
}

async fn a_name_with_a_look_alike_letter_is_the_same_person(app: TestApp) {
    let _amara = self_enrolled(&app, &form("Amara", "Okafor", "1990-04-12", "CAP-H")).await;
    for (case, given) in [
        ("Greek capital alpha", "\u{0391}mara"),
        ("Cyrillic a", "Am\u{0430}r\u{0430}"),
        ("full-width letter", "\u{FF21}mara"),
    ] {
        let browser = new_browser(&app);
        let response = browser
            .post_json(
                "/api/v1/enrollment/start",
                &form(given, "Okafor", "1990-04-12", "CAP-H"),
            )
            .await;
        assert_error(response, 409, "possible_duplicate", case).await;
    }
}

async fn parallel_enrollments_of_one_person_make_one_citizen_and_one_case(app: TestApp) {
    let form = form("Tunde", "Bakare", "1993-08-21", "CAP-H");
    // Five browsers start before any has finished: none is a duplicate yet.
    let mut ceremonies = Vec::new();
    for _ in 0..5 {
        let browser = new_browser(&app);
        let started = start_enrollment(&browser, &form).await;
        let mut auth = SoftAuthenticator::new(&app.address);
        let credential = auth.create(&started["publicKey"]);
        ceremonies.push((browser, started, credential));
    }
    let citizens_before = count(&app, Table::Citizens).await;
    let finishes = ceremonies
        .iter()
        .map(|(browser, started, credential)| async move {
            finish(
                browser,
                "/api/v1/enrollment/finish",
                started,
                credential.clone(),
            )
            .await
            .status()
            .as_u16()
        });
    let mut statuses = futures::future::join_all(finishes).await;
    statuses.sort();
    assert_eq!(
        statuses,
        vec![201, 409, 409, 409, 409],
        "one enrolled, four refused"
    );
    assert_eq!(count(&app, Table::Citizens).await, citizens_before + 1);
    assert_eq!(
        count(&app, Table::EnrollmentDuplicates).await,
        1,
        "one case"
    );
}

crate::on_both_backends!(
    a_squatter_merged_into_the_victim_keeps_no_way_to_sign_in_as_them,
    a_merge_never_raises_the_survivors_level,
    only_a_passkey_re_bound_in_person_moves_to_the_survivor,
    a_passkey_re_bound_through_two_merges_still_signs_in,
    asking_again_and_again_whether_someone_is_enrolled_opens_one_case,
    names_with_invisible_characters_are_refused,
    a_name_with_a_look_alike_letter_is_the_same_person,
    parallel_enrollments_of_one_person_make_one_citizen_and_one_case,
);
