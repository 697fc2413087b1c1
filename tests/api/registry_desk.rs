//! The registrar desk: verification requests and in-person verification,
//! region scope, and resolving duplicate cases.

use civitas::store::Table;
use serde_json::{Value, json};

use crate::support::app::{TestApp, assert_error};
use crate::support::passkeys::login_with;
use crate::support::registry::*;

const REQUEST: &str = "/api/v1/me/verification";

fn passport() -> Value {
    json!({
        "evidence_type": "passport",
        "issuing_authority": "Civitas Passport Office",
        "document_number": "p-1234 5678",
        "method": "in_person",
    })
}

async fn citizens_ask_to_be_verified_once(app: TestApp) {
    let citizen = citizen_in(&app, "Ifeoma", "NTH-HL").await;
    let asked = citizen.post_ok(REQUEST, &json!({}), 201).await;
    assert_eq!(asked["requested_at"], app.clock.unix());
    assert_eq!(count(&app, Table::VerificationRequests).await, 1);
    refused(
        &app,
        citizen.post(REQUEST, &json!({})),
        409,
        "already_requested",
        "asked twice",
    )
    .await;
    refused(
        &app,
        new_browser(&app).post_json(REQUEST, &json!({})),
        401,
        "not_signed_in",
        "no session",
    )
    .await;

    let admin = admin(&app).await;
    let letter = one_resident(&admin, ["R-1", "Obi", "Eze", "1980-01-01", "NTH-HL", ""]).await;
    let verified = enroll_with_code(&app, &letter.code, "1980-01-01").await;
    refused(
        &app,
        verified.post(REQUEST, &json!({})),
        409,
        "already_verified",
        "level 2 asks",
    )
    .await;
}

async fn a_registrar_verifies_in_person_and_keeps_a_proofing_record(app: TestApp) {
    let registrar = registrar(&app, "Rita", &["NTH"]).await;
    let citizen = citizen_in(&app, "Ifeoma", "NTH-HL").await;
    let elsewhere = citizen_in(&app, "Jumoke", "CAP-H").await;
    citizen.post_ok(REQUEST, &json!({}), 201).await;
    elsewhere.post_ok(REQUEST, &json!({}), 201).await;

    // The queue shows only the registrar's regions.
    let queue = registrar.get_ok("/api/v1/registrar/verifications").await;
    let items = queue["verifications"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{queue}");
    assert_eq!(items[0]["national_id"], citizen.national_id.as_str());
    assert_eq!(items[0]["region_code"], "NTH-HL");
    assert_eq!(items[0]["birth_date"], "1990-04-12");

    let view = citizen_view(&registrar, &citizen.national_id).await;
    assert_eq!(view["assurance_level"], 1);
    assert_eq!(view["verification_requested_at"], app.clock.unix());
    assert_eq!(view["proofing_records"], json!([]));

    // Bad evidence is refused and changes nothing.
    let path = desk(&citizen.national_id, "verify");
    let mut cases: Vec<(&str, Value, &str)> = Vec::new();
    for (case, field, value, code) in [
        (
            "unknown evidence",
            "evidence_type",
            json!("selfie"),
            "invalid_evidence_type",
        ),
        (
            "unknown method",
            "method",
            json!("video_call"),
            "invalid_method",
        ),
        (
            "blank authority",
            "issuing_authority",
            json!("  "),
            "invalid_issuing_authority",
        ),
        (
            "long authority",
            "issuing_authority",
            json!("x".repeat(201)),
            "invalid_issuing_authority",
        ),
        (
            "no document digits",
            "document_number",
            json!("- -"),
            "invalid_document_number",
        ),
        (
            "long document number",
            "document_number",
            json!("9".repeat(65)),
            "invalid_document_number",
        ),
        (
            "evidence type not text",
            "evidence_type",
            json!(7),
            "invalid_request",
        ),
    ] {
        let mut body = passport();
        body[field] = value;
        cases.push((case, body, code));
    }
    let mut missing = passport();
    missing.as_object_mut().unwrap().remove("document_number");
    cases.push(("missing document number", missing, "invalid_request"));
    for (case, body, code) in cases {
        refused(&app, registrar.post(&path, &body), 400, code, case).await;
    }
    assert_eq!(citizen.me().await["assurance_level"], 1);

    // Outside the registrar's regions.
    refused(
        &app,
        registrar.get(&format!(
            "/api/v1/registrar/citizens/{}",
            elsewhere.national_id
        )),
        403,
        "outside_your_regions",
        "view outside",
    )
    .await;
    refused(
        &app,
        registrar.post(&desk(&elsewhere.national_id, "verify"), &passport()),
        403,
        "outside_your_regions",
        "verify outside",
    )
    .await;

    // Unknown and malformed numbers.
    let nobody = civitas::domain::NationalId::generate().as_digits();
    refused(
        &app,
        registrar.post(&desk(&nobody, "verify"), &passport()),
        404,
        "not_found",
        "no such citizen",
    )
    .await;
    refused(
        &app,
        registrar.get("/api/v1/registrar/citizens/12345"),
        400,
        "invalid_national_id",
        "malformed number",
    )
    .await;

    // Verify.
    let view = registrar.post_ok(&path, &passport(), 200).await;
    assert_eq!(view["assurance_level"], 2);
    assert_eq!(view["verification_requested_at"], Value::Null);
    assert_eq!(
        view["proofing_records"][0]["evidence_type"], "passport",
        "{view}"
    );
    assert_eq!(view["proofing_records"][0]["method"], "in_person");
    assert_eq!(
        view["proofing_records"][0]["issuing_authority"],
        "Civitas Passport Office"
    );
    assert_eq!(count(&app, Table::ProofingRecords).await, 1);
    assert_eq!(citizen.me().await["assurance_level"], 2);
    let queue = registrar.get_ok("/api/v1/registrar/verifications").await;
    assert_eq!(queue["verifications"], json!([]));
    let audit = &audit_entries(&app, "citizen.verify").await[0];
    assert_eq!(audit.actor, format!("citizen:{}", registrar.national_id));
    assert_eq!(audit.target, format!("citizen:{}", citizen.national_id));
    assert!(
        !audit.details.to_uppercase().contains("P12345678") && !audit.details.contains("1234 5678"),
        "the document number is kept only as a keyed hash: {}",
        audit.details
    );
    refused(
        &app,
        registrar.post(&path, &passport()),
        409,
        "already_verified",
        "verified twice",
    )
    .await;
    // Level 2 needs no request first: a walk-in (with their own document)
    // is verified as well.
    let walk_in = citizen_in(&app, "Kunle", "NTH-RV").await;
    let mut theirs = passport();
    theirs["document_number"] = json!("P-9876 5432");
    registrar
        .post_ok(&desk(&walk_in.national_id, "verify"), &theirs, 200)
        .await;
}

async fn a_rejected_request_closes_and_can_be_made_again(app: TestApp) {
    let registrar = registrar(&app, "Rita", &["NTH"]).await;
    let citizen = citizen_in(&app, "Ifeoma", "NTH-HL").await;
    let path = desk(&citizen.national_id, "reject");
    refused(
        &app,
        registrar.post(&path, &json!({"reason": "no document"})),
        409,
        "no_open_request",
        "nothing to reject",
    )
    .await;
    citizen.post_ok(REQUEST, &json!({}), 201).await;
    for (case, body) in [
        ("no reason", json!({})),
        ("blank reason", json!({"reason": "   "})),
        ("reason too long", json!({"reason": "x".repeat(501)})),
    ] {
        refused(
            &app,
            registrar.post(&path, &body),
            400,
            "reason_required",
            case,
        )
        .await;
    }
    let view = registrar
        .post_ok(&path, &json!({"reason": "the passport had expired"}), 200)
        .await;
    assert_eq!(view["assurance_level"], 1);
    let audit = &audit_entries(&app, "citizen.verification_rejected").await[0];
    assert!(audit.details.contains("the passport had expired"));
    assert_eq!(
        registrar.get_ok("/api/v1/registrar/verifications").await["verifications"],
        json!([])
    );
    refused(
        &app,
        registrar.post(&path, &json!({"reason": "again"})),
        409,
        "no_open_request",
        "rejected twice",
    )
    .await;
    citizen.post_ok(REQUEST, &json!({}), 201).await;
}

async fn a_registrar_covers_sub_regions_but_not_parents_or_siblings(app: TestApp) {
    let province = registrar(&app, "Rita", &["NTH"]).await;
    let district = registrar(&app, "Ruth", &["NTH-HL"]).await;
    let two = registrar(&app, "Remi", &["NTH-LK", "WST"]).await;
    let highlands = citizen_in(&app, "Ade", "NTH-HL").await;
    let lakeside = citizen_in(&app, "Bisi", "NTH-LK").await;
    let north = citizen_in(&app, "Chuka", "NTH").await;
    let oasis = citizen_in(&app, "Dayo", "WST-OA").await;
    for (who, registrar, citizen, covered) in [
        ("province", &province, &highlands, true),
        ("province", &province, &lakeside, true),
        ("province", &province, &north, true),
        ("province", &province, &oasis, false),
        ("district", &district, &highlands, true),
        ("district", &district, &lakeside, false),
        ("district", &district, &north, false),
        ("two regions", &two, &lakeside, true),
        ("two regions", &two, &oasis, true),
        ("two regions", &two, &highlands, false),
    ] {
        let response = registrar
            .get(&format!(
                "/api/v1/registrar/citizens/{}",
                citizen.national_id
            ))
            .await;
        let case = format!("{who} registrar, citizen {}", citizen.national_id);
        if covered {
            assert_eq!(response.status(), 200, "{case}");
        } else {
            assert_error(response, 403, "outside_your_regions", &case).await;
        }
    }

    // Staff without the registrar role, and nobody.
    let admin = admin(&app).await;
    let auditor = auditor(&app).await;
    for (who, person) in [
        ("admin", &admin),
        ("auditor", &auditor),
        ("citizen", &north),
    ] {
        for path in [
            "/api/v1/registrar/verifications".to_string(),
            "/api/v1/registrar/duplicates".to_string(),
            format!("/api/v1/registrar/citizens/{}", north.national_id),
        ] {
            refused(
                &app,
                person.get(&path),
                403,
                "role_required",
                &format!("{who} {path}"),
            )
            .await;
        }
        refused(
            &app,
            person.post(
                &desk(&lakeside.national_id, "suspend"),
                &json!({"reason": "x"}),
            ),
            403,
            "role_required",
            &format!("{who} suspends"),
        )
        .await;
    }
    refused(
        &app,
        new_browser(&app).get("/api/v1/registrar/verifications"),
        401,
        "not_signed_in",
        "no session",
    )
    .await;
}

/// Self-enrolls `given` twice with the same details: the second is refused
/// and recorded as a case naming only the first.
async fn refused_second_self_enrollment(app: &TestApp, given: &str, region: &str) -> Person {
    let first = citizen_in(app, given, region).await;
    let again = new_browser(app);
    let response = again
        .post_json(
            "/api/v1/enrollment/start",
            &form(given, "Okafor", "1990-04-12", region),
        )
        .await;
    assert_error(
        response,
        409,
        "possible_duplicate",
        "second self-enrollment",
    )
    .await;
    first
}

/// The open cases in `registrar`'s queue.
async fn cases(registrar: &Person) -> Vec<Value> {
    registrar.get_ok("/api/v1/registrar/duplicates").await["duplicates"]
        .as_array()
        .unwrap()
        .clone()
}

async fn merging_keeps_one_identity_and_revokes_the_others_passkeys(app: TestApp) {
    let admin = admin(&app).await;
    let registrar = registrar(&app, "Rita", &["NTH"]).await;
    let letter = one_resident(
        &admin,
        ["R-9", "Ifeoma", "Okafor", "1990-04-12", "NTH-HL", ""],
    )
    .await;
    let mut selfie = citizen_in(&app, "Ifeoma", "NTH-HL").await;
    let registered = enroll_with_code(&app, &letter.code, "1990-04-12").await;
    let open = cases(&registrar).await;
    assert_eq!(open.len(), 1);
    let case_id = open[0]["id"].as_str().unwrap().to_string();
    let merge = format!("/api/v1/registrar/duplicates/{case_id}/merge");

    for (case, body, status, code) in [
        (
            "survivor outside the case",
            json!({"survivor": civitas::domain::NationalId::generate().as_digits()}),
            400,
            "invalid_survivor",
        ),
        (
            "survivor not a number",
            json!({"survivor": "me"}),
            400,
            "invalid_survivor",
        ),
        ("no survivor", json!({}), 400, "invalid_request"),
    ] {
        refused(&app, registrar.post(&merge, &body), status, code, case).await;
    }
    refused(
        &app,
        registrar.post(
            "/api/v1/registrar/duplicates/00000000-0000-4000-8000-000000000000/merge",
            &json!({"survivor": registered.national_id}),
        ),
        404,
        "not_found",
        "unknown case",
    )
    .await;
    refused(
        &app,
        registrar.post(
            "/api/v1/registrar/duplicates/not-a-uuid/merge",
            &json!({"survivor": registered.national_id}),
        ),
        404,
        "not_found",
        "malformed case id",
    )
    .await;

    // The self-enrolled record is folded into the register one; its
    // passkey is revoked with it, not handed to the survivor.
    let passkeys_before = count(&app, Table::Passkeys).await;
    let kept = registrar
        .post_ok(&merge, &json!({"survivor": registered.national_id}), 200)
        .await;
    assert_eq!(kept["national_id"], registered.national_id.as_str());
    assert_eq!(kept["status"], "active");
    assert_eq!(kept["assurance_level"], 2);
    assert_eq!(
        kept["merge"],
        json!({"passkeys_rebound": 0, "passkeys_revoked": 1})
    );
    let folded = citizen_view(&registrar, &selfie.national_id).await;
    assert_eq!(folded["status"], "revoked");
    assert_eq!(count(&app, Table::Passkeys).await, passkeys_before - 1);
    assert_error(
        selfie.get("/api/v1/me").await,
        401,
        "not_signed_in",
        "folded citizen's session",
    )
    .await;
    let response = login_with(&selfie.app, &mut selfie.auth, None, &Default::default()).await;
    assert_error(
        response,
        400,
        "unknown_credential",
        "the folded record's passkey",
    )
    .await;
    assert_eq!(cases(&registrar).await, Vec::<Value>::new());
    let audit = &audit_entries(&app, "citizen.merge").await[0];
    assert_eq!(
        audit.target,
        format!("citizen:{}", folded["national_id"].as_str().unwrap())
    );
    refused(
        &app,
        registrar.post(&merge, &json!({"survivor": registered.national_id})),
        409,
        "case_closed",
        "merged twice",
    )
    .await;
}

async fn a_merge_into_the_self_enrolled_record_takes_the_register_link(app: TestApp) {
    let admin = admin(&app).await;
    let registrar = registrar(&app, "Rita", &["NTH"]).await;
    let letter = one_resident(
        &admin,
        ["R-9", "Ifeoma", "Okafor", "1990-04-12", "NTH-HL", ""],
    )
    .await;
    let selfie = citizen_in(&app, "Ifeoma", "NTH-HL").await;
    let mut registered = enroll_with_code(&app, &letter.code, "1990-04-12").await;
    let case_id = cases(&registrar).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let kept = registrar
        .post_ok(
            &format!("/api/v1/registrar/duplicates/{case_id}/merge"),
            &json!({"survivor": selfie.national_id}),
            200,
        )
        .await;
    assert_eq!(kept["national_id"], selfie.national_id.as_str());
    assert_eq!(
        kept["assurance_level"], 1,
        "a merge never raises the survivor's level"
    );
    let nid = civitas::domain::NationalId::parse(&selfie.national_id).unwrap();
    let survivor = app
        .store
        .find_citizen_by_national_id(&nid)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        app.store
            .register_ref_of(survivor.id)
            .await
            .unwrap()
            .as_deref(),
        Some("R-9")
    );
    let entry = app.store.find_register_entry("R-9").await.unwrap().unwrap();
    assert_eq!(entry.citizen_id, Some(survivor.id.0));
    let response = login_with(
        &registered.app,
        &mut registered.auth,
        None,
        &Default::default(),
    )
    .await;
    assert_error(
        response,
        400,
        "unknown_credential",
        "the dropped record's passkey, not re-bound",
    )
    .await;
}

async fn dismissing_and_cases_that_cannot_be_merged(app: TestApp) {
    let registrar = registrar(&app, "Rita", &["NTH"]).await;
    let only = refused_second_self_enrollment(&app, "Ifeoma", "NTH-HL").await;
    let open = cases(&registrar).await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["matched_national_id"], only.national_id.as_str());
    assert_eq!(open[0]["duplicate_national_id"], Value::Null);
    let id = open[0]["id"].as_str().unwrap().to_string();
    refused(
        &app,
        registrar.post(
            &format!("/api/v1/registrar/duplicates/{id}/merge"),
            &json!({"survivor": only.national_id}),
        ),
        409,
        "nothing_to_merge",
        "one citizen",
    )
    .await;
    let dismiss = format!("/api/v1/registrar/duplicates/{id}/dismiss");
    refused(
        &app,
        registrar.post(&dismiss, &json!({})),
        400,
        "reason_required",
        "dismiss without reason",
    )
    .await;
    let response = registrar
        .post(&dismiss, &json!({"reason": "twins, checked in person"}))
        .await;
    assert_eq!(response.status(), 204);
    assert_eq!(cases(&registrar).await, Vec::<Value>::new());
    assert_eq!(audit_entries(&app, "duplicate.dismiss").await.len(), 1);
    refused(
        &app,
        registrar.post(&dismiss, &json!({"reason": "again"})),
        409,
        "case_closed",
        "dismissed twice",
    )
    .await;

    // A case in another region is neither listed nor open to this registrar.
    let capital = registrar_for_capital(&app).await;
    refused_second_self_enrollment(&app, "Tobi", "CAP-H").await;
    assert_eq!(cases(&registrar).await, Vec::<Value>::new());
    let theirs = cases(&capital).await;
    assert_eq!(theirs.len(), 1);
    let id = theirs[0]["id"].as_str().unwrap();
    refused(
        &app,
        registrar.post(
            &format!("/api/v1/registrar/duplicates/{id}/dismiss"),
            &json!({"reason": "not mine"}),
        ),
        403,
        "outside_your_regions",
        "dismiss outside",
    )
    .await;
}

async fn registrar_for_capital(app: &TestApp) -> Person {
    registrar(app, "Ronke", &["CAP"]).await
}

crate::on_both_backends!(
    citizens_ask_to_be_verified_once,
    a_registrar_verifies_in_person_and_keeps_a_proofing_record,
    a_rejected_request_closes_and_can_be_made_again,
    a_registrar_covers_sub_regions_but_not_parents_or_siblings,
    merging_keeps_one_identity_and_revokes_the_others_passkeys,
    a_merge_into_the_self_enrolled_record_takes_the_register_link,
    dismissing_and_cases_that_cannot_be_merged,
);
