//! Attacks through staff roles: a self-asserted citizen made administrator
//! by a forwarded link, an invitation used by someone it was not for, a
//! restart printing one more working admin link, roles that cannot be taken
//! back, and a registrar acting on their own record, re-using one identity
//! document or learning where a citizen lives.

use civitas::store::Table;
use serde_json::{Value, json};

use crate::support::app::{TestApp, assert_error};
use crate::support::cli::ServerProcess;
use crate::support::registry::*;

const ACCEPT: &str = "/api/v1/staff/invitations/accept";
const INVITATIONS: &str = "/api/v1/admin/invitations";
const REVOKE: &str = "/api/v1/admin/staff/revoke";

fn passport(number: &str) -> Value {
    json!({
        "evidence_type": "passport",
        "issuing_authority": "Civitas Passport Office",
        "document_number": number,
    })
}

async fn a_forwarded_admin_link_does_not_make_a_self_asserted_citizen_an_admin(app: TestApp) {
    let admin = admin(&app).await;
    let link = admin
        .post_ok(INVITATIONS, &json!({"role": "admin"}), 201)
        .await;
    let token = token_from_url(link["url"].as_str().unwrap());
    let stranger = citizen_in(&app, "Stranger", "CAP").await;
    let before = counts(&app).await;
    refused(
        &app,
        stranger.post(ACCEPT, &json!({"token": token})),
        403,
        "verification_required",
        "a level-1 citizen",
    )
    .await;
    assert_eq!(counts(&app).await, before, "the invitation was not used up");
    // The same for a registrar invitation.
    let registrar_link = admin
        .post_ok(
            INVITATIONS,
            &json!({"role": "registrar", "regions": ["CAP"]}),
            201,
        )
        .await;
    refused(
        &app,
        stranger.post(
            ACCEPT,
            &json!({"token": token_from_url(registrar_link["url"].as_str().unwrap())}),
        ),
        403,
        "verification_required",
        "a registrar invitation",
    )
    .await;
    // Once verified, the same link works.
    verified_in_store(&app, &stranger).await;
    let granted = stranger
        .post_ok(ACCEPT, &json!({"token": token}), 200)
        .await;
    assert_eq!(granted["role"], "admin");
}

async fn an_invitation_for_one_citizen_is_refused_to_another(app: TestApp) {
    let admin = admin(&app).await;
    let meant = citizen_in(&app, "Meant", "CAP").await;
    let other = citizen_in(&app, "Other", "CAP").await;
    for person in [&meant, &other] {
        verified_in_store(&app, person).await;
    }
    let link = admin
        .post_ok(
            INVITATIONS,
            &json!({"role": "auditor", "for_national_id": meant.national_id}),
            201,
        )
        .await;
    assert_eq!(link["for_national_id"], meant.national_id.as_str());
    let token = token_from_url(link["url"].as_str().unwrap());
    refused(
        &app,
        other.post(ACCEPT, &json!({"token": token})),
        403,
        "invitation_for_someone_else",
        "someone else",
    )
    .await;
    meant.post_ok(ACCEPT, &json!({"token": token}), 200).await;
    refused(
        &app,
        admin.post(
            INVITATIONS,
            &json!({"role": "auditor", "for_national_id": civitas::domain::NationalId::generate().as_digits()}),
        ),
        400,
        "unknown_citizen",
        "an invitation for nobody",
    )
    .await;
}

/// Runs `civitas serve` on the test database (on the system clock) until
/// ready, and returns what it printed.
async fn serve_and_read(app: &TestApp) -> String {
    let envs = [
        ("CIVITAS_DATABASE_URL", app.db_url.clone()),
        ("CIVITAS_MASTER_KEY", TEST_MASTER_KEY.to_string()),
        ("CIVITAS_CONFIG", "/nonexistent/civitas.toml".to_string()),
    ];
    ServerProcess::start_capturing(&std::env::temp_dir(), &envs)
        .await
        .stop_and_read()
        .1
}

async fn a_restart_prints_no_second_working_admin_link(app: TestApp) {
    // (The test server's own link was made on the test clock, days ago for
    // the binary, so it is no longer live.)
    let links = |printed: &str| {
        printed
            .lines()
            .filter(|l| l.contains("/staff/invitation#"))
            .count()
    };
    let first = serve_and_read(&app).await;
    assert_eq!(
        links(&first),
        1,
        "the first start prints the link:\n{first}"
    );
    let second = serve_and_read(&app).await;
    assert_eq!(
        links(&second),
        0,
        "a restart prints no second link:\n{second}"
    );
    assert!(
        second.contains("printed earlier") && second.contains("civitas admin invite"),
        "it says where the link is and how to get a new one:\n{second}"
    );
}

async fn a_role_can_be_taken_away_but_not_from_the_last_admin(app: TestApp) {
    let admin = admin(&app).await;
    let registrar = registrar(&app, "Rita", &["NTH", "CAP"]).await;
    let before = counts(&app).await;
    for (case, body, status, code) in [
        (
            "an unknown role",
            json!({"national_id": registrar.national_id, "role": "king"}),
            400,
            "invalid_role",
        ),
        (
            "a role not held",
            json!({"national_id": registrar.national_id, "role": "auditor"}),
            404,
            "not_found",
        ),
        (
            "the last administrator",
            json!({"national_id": admin.national_id, "role": "admin"}),
            409,
            "last_admin",
        ),
    ] {
        refused(&app, admin.post(REVOKE, &body), status, code, case).await;
    }
    assert_eq!(counts(&app).await, before);
    // One region, then the rest.
    admin
        .post_ok(
            REVOKE,
            &json!({"national_id": registrar.national_id, "role": "registrar", "region": "CAP"}),
            204,
        )
        .await;
    let mine = registrar.get_ok("/api/v1/staff/me").await;
    assert_eq!(
        mine["roles"],
        json!([{"role": "registrar", "region": "NTH"}])
    );
    admin
        .post_ok(
            REVOKE,
            &json!({"national_id": registrar.national_id, "role": "registrar"}),
            204,
        )
        .await;
    refused(
        &app,
        registrar.get("/api/v1/registrar/verifications"),
        403,
        "role_required",
        "a former registrar",
    )
    .await;
    let revoked = audit_entries(&app, "staff.role_revoked").await;
    assert_eq!(revoked.len(), 2);
    assert_eq!(revoked[0].actor, format!("citizen:{}", admin.national_id));
    // The command line does the same, audited as the operator.
    let auditor = auditor(&app).await;
    let out = civitas(
        &app,
        &[
            "admin",
            "revoke",
            "--national-id",
            &auditor.national_id,
            "--role",
            "auditor",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        audit_entries(&app, "staff.role_revoked").await[0].actor,
        CLI_ACTOR
    );
    refused(
        &app,
        auditor.get("/api/v1/admin/audit"),
        403,
        "role_required",
        "a former auditor",
    )
    .await;
}

async fn a_registrar_cannot_act_on_their_own_record(app: TestApp) {
    let registrar = registrar(&app, "Rita", &["CAP"]).await;
    let own = |action: &str| {
        format!(
            "/api/v1/registrar/citizens/{}/{action}",
            registrar.national_id
        )
    };
    let before = counts(&app).await;
    for (case, path, body) in [
        ("suspend", own("suspend"), json!({"reason": "x"})),
        ("revoke", own("revoke"), json!({"reason": "x"})),
        ("reject", own("reject"), json!({"reason": "x"})),
        ("verify", own("verify"), passport("P-1")),
    ] {
        refused(&app, registrar.post(&path, &body), 403, "own_record", case).await;
    }
    assert_eq!(counts(&app).await, before);
}

async fn one_identity_document_cannot_verify_two_people(app: TestApp) {
    let registrar = registrar(&app, "Rita", &["NTH"]).await;
    let first = citizen_in(&app, "Ifeoma", "NTH-HL").await;
    let second = self_enrolled(&app, &form("Chinedu", "Eze", "1985-01-01", "NTH-RV")).await;
    let verify = |who: &Person| format!("/api/v1/registrar/citizens/{}/verify", who.national_id);
    registrar
        .post_ok(&verify(&first), &passport("P-1234 5678"), 200)
        .await;
    let cases_before = count(&app, Table::EnrollmentDuplicates).await;
    // The same document, written another way, for another person: no
    // verification, but a case for a registrar (so rows do change).
    assert_error(
        registrar
            .post(&verify(&second), &passport("p12345678"))
            .await,
        409,
        "document_in_use",
        "the same document for another living citizen",
    )
    .await;
    assert_eq!(second.me().await["assurance_level"], 1, "not verified");
    assert_eq!(
        count(&app, Table::EnrollmentDuplicates).await,
        cases_before + 1
    );
    let cases = registrar.get_ok("/api/v1/registrar/duplicates").await;
    let case = &cases["duplicates"][0];
    assert_eq!(case["matched_national_id"], first.national_id.as_str());
    assert_eq!(case["duplicate_national_id"], second.national_id.as_str());
    assert_eq!(audit_entries(&app, "citizen.verify_refused").await.len(), 1);
}

async fn a_registrar_learns_nothing_about_citizens_of_other_regions(app: TestApp) {
    let registrar = registrar(&app, "Rita", &["NTH"]).await;
    let elsewhere = citizen_in(&app, "Jumoke", "CAP-H").await;
    let response = registrar
        .get(&format!(
            "/api/v1/registrar/citizens/{}",
            elsewhere.national_id
        ))
        .await;
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "outside_your_regions");
    let text = body["error_description"].as_str().unwrap();
    assert!(!text.contains("CAP"), "the refusal names no region: {text}");
}

async fn looking_a_citizen_up_is_audited(app: TestApp) {
    let registrar = registrar(&app, "Rita", &["NTH"]).await;
    let citizen = citizen_in(&app, "Ifeoma", "NTH-HL").await;
    citizen_view(&registrar, &citizen.national_id).await;
    let lookups = audit_entries(&app, "citizen.lookup").await;
    assert_eq!(lookups.len(), 1);
    assert_eq!(
        lookups[0].actor,
        format!("citizen:{}", registrar.national_id)
    );
    assert_eq!(
        lookups[0].target,
        format!("citizen:{}", citizen.national_id)
    );
}

crate::on_both_backends!(
    a_forwarded_admin_link_does_not_make_a_self_asserted_citizen_an_admin,
    an_invitation_for_one_citizen_is_refused_to_another,
    a_restart_prints_no_second_working_admin_link,
    a_role_can_be_taken_away_but_not_from_the_last_admin,
    a_registrar_cannot_act_on_their_own_record,
    one_identity_document_cannot_verify_two_people,
    a_registrar_learns_nothing_about_citizens_of_other_regions,
    looking_a_citizen_up_is_audited,
);
