//! Staff roles: the first-start admin invitation, invitations from the API
//! and the command line, role checks, and the recent sign-in rule.

use civitas::staff::Role;
use civitas::store::Table;
use serde_json::{Value, json};

use crate::support::app::{TestApp, assert_error};
use crate::support::cli::ServerProcess;
use crate::support::registry::*;

const INVITATIONS: &str = "/api/v1/admin/invitations";
const ACCEPT: &str = "/api/v1/staff/invitations/accept";

async fn the_first_start_creates_an_audited_admin_invitation(app: TestApp) {
    // The test server started on an empty database.
    assert_eq!(count(&app, Table::StaffInvitations).await, 1);
    let invites = audit_entries(&app, "staff.invite").await;
    assert_eq!(invites.len(), 1, "{invites:?}");
    assert_eq!(invites[0].actor, "system");
    assert_eq!(invites[0].target, "role:admin");
    assert_eq!(invites[0].seq, 1);

    // The real binary prints the link while nobody is an administrator, and
    // the link works; once someone is, it prints none.
    let first = serve_and_collect_stdout(&app).await;
    let url = first
        .lines()
        .map(str::trim)
        .find(|l| l.contains("/staff/invitation#"))
        .unwrap_or_else(|| panic!("no invitation printed:\n{first}"))
        .to_string();
    let person = citizen_in(&app, "Founder", "CAP").await;
    let granted = person
        .post_ok(ACCEPT, &json!({"token": token_from_url(&url)}), 200)
        .await;
    assert_eq!(granted["role"], "admin");
    assert_eq!(granted["roles"], json!([{"role": "admin", "region": null}]));
    let invitations = count(&app, Table::StaffInvitations).await;
    let second = serve_and_collect_stdout(&app).await;
    assert!(
        !second.contains("/staff/invitation#"),
        "an invitation was printed although an admin exists:\n{second}"
    );
    assert_eq!(count(&app, Table::StaffInvitations).await, invitations);
}

/// Runs `civitas serve` on the test database until `/readyz` answers (after
/// start-up, so after any invitation was printed), stops it with SIGTERM,
/// and returns what it printed.
async fn serve_and_collect_stdout(app: &TestApp) -> String {
    let envs = [
        ("CIVITAS_DATABASE_URL", app.db_url.clone()),
        ("CIVITAS_MASTER_KEY", TEST_MASTER_KEY.to_string()),
        ("CIVITAS_CONFIG", "/nonexistent/civitas.toml".to_string()),
        ("NO_COLOR", "1".to_string()),
    ];
    let server = ServerProcess::start_capturing(&std::env::temp_dir(), &envs).await;
    server.stop_and_read().1
}

async fn invitations_grant_roles_once_and_expire_after_a_day(app: TestApp) {
    let admin = admin(&app).await;
    let created = admin
        .post_ok(
            INVITATIONS,
            &json!({"role": "registrar", "regions": ["NTH", "STH-CS", "NTH"]}),
            201,
        )
        .await;
    assert_eq!(created["role"], "registrar");
    assert_eq!(
        created["regions"],
        json!(["NTH", "STH-CS"]),
        "duplicates dropped"
    );
    assert_eq!(
        created["expires_at"].as_i64().unwrap(),
        app.clock.unix() + 24 * 3600
    );
    let url = created["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("{}/staff/invitation#", app.address)),
        "{url}"
    );
    let token = token_from_url(url);

    // Not signed in.
    let stranger = new_browser(&app);
    refused(
        &app,
        stranger.post_json(ACCEPT, &json!({"token": token})),
        401,
        "not_signed_in",
        "accept without a session",
    )
    .await;

    let amaka = citizen_in(&app, "Amaka", "NTH-HL").await;
    verified_in_store(&app, &amaka).await;
    let granted = amaka.post_ok(ACCEPT, &json!({"token": token}), 200).await;
    assert_eq!(granted["role"], "registrar");
    assert_eq!(
        granted["roles"],
        json!([
            {"role": "registrar", "region": "NTH"},
            {"role": "registrar", "region": "STH-CS"},
        ])
    );
    let mine = amaka.get_ok("/api/v1/staff/me").await;
    assert_eq!(mine["roles"], granted["roles"]);
    let grant = &audit_entries(&app, "staff.role_granted").await[0];
    assert_eq!(grant.actor, format!("citizen:{}", amaka.national_id));
    let details: Value = serde_json::from_str(&grant.details).unwrap();
    assert_eq!(
        details["invited_by"],
        format!("citizen:{}", admin.national_id)
    );
    assert_eq!(details["regions"], json!(["NTH", "STH-CS"]));

    // Used, unknown, or empty.
    let bola = citizen_in(&app, "Bola", "NTH-HL").await;
    for (case, body) in [
        ("used token", json!({"token": token})),
        ("unknown token", json!({"token": "no-such-invitation"})),
        ("empty token", json!({"token": ""})),
    ] {
        refused(
            &app,
            bola.post(ACCEPT, &body),
            400,
            "invitation_unusable",
            case,
        )
        .await;
    }
    refused(
        &app,
        bola.post(ACCEPT, &json!({})),
        400,
        "invalid_request",
        "no token",
    )
    .await;
    assert_eq!(bola.get_ok("/api/v1/staff/me").await["roles"], json!([]));

    // Valid for 24 hours: usable one second before, not at the deadline.
    let early = invitation_token(&app, Role::Auditor, &[]).await;
    let late = invitation_token(&app, Role::Auditor, &[]).await;
    app.clock
        .advance(time::Duration::hours(24) - time::Duration::seconds(1));
    let mut bola = bola;
    bola.sign_in_again().await;
    assert_eq!(accept(&bola, &early).await.status(), 200, "23:59:59 old");
    app.clock.advance(time::Duration::seconds(1));
    let mut chidi = citizen_in(&app, "Chidi", "CAP").await;
    chidi.sign_in_again().await;
    refused(
        &app,
        accept(&chidi, &late),
        400,
        "invitation_unusable",
        "24 hours old",
    )
    .await;
}

async fn the_admin_api_checks_roles_and_input(app: TestApp) {
    let admin = admin(&app).await;
    let cases: Vec<(&str, Value, u16, &str)> = vec![
        (
            "registrar without regions",
            json!({"role": "registrar"}),
            400,
            "invalid_regions",
        ),
        (
            "registrar with an empty list",
            json!({"role": "registrar", "regions": []}),
            400,
            "invalid_regions",
        ),
        (
            "admin with a region",
            json!({"role": "admin", "regions": ["CAP"]}),
            400,
            "invalid_regions",
        ),
        (
            "auditor with a region",
            json!({"role": "auditor", "regions": ["NTH"]}),
            400,
            "invalid_regions",
        ),
        (
            "unknown region",
            json!({"role": "registrar", "regions": ["ZZZ"]}),
            400,
            "unknown_region",
        ),
        (
            "one unknown among known",
            json!({"role": "registrar", "regions": ["NTH", "NTH-XX"]}),
            400,
            "unknown_region",
        ),
        (
            "malformed region code",
            json!({"role": "registrar", "regions": ["north!"]}),
            400,
            "unknown_region",
        ),
        (
            "bad role",
            json!({"role": "superuser"}),
            400,
            "invalid_role",
        ),
        (
            "role in capitals",
            json!({"role": "ADMIN"}),
            400,
            "invalid_role",
        ),
        (
            "missing role",
            json!({"regions": ["NTH"]}),
            400,
            "invalid_request",
        ),
    ];
    for (case, body, status, code) in cases {
        refused(&app, admin.post(INVITATIONS, &body), status, code, case).await;
    }

    // Who may do what.
    let registrar = registrar(&app, "Rita", &["NTH"]).await;
    let auditor = auditor(&app).await;
    let citizen = citizen_in(&app, "Plain", "CAP").await;
    let nobody = new_browser(&app);
    let invite = json!({"role": "auditor"});
    for (who, browser) in [
        ("registrar", &registrar.app),
        ("auditor", &auditor.app),
        ("citizen", &citizen.app),
    ] {
        refused(
            &app,
            browser.post_json(INVITATIONS, &invite),
            403,
            "role_required",
            &format!("{who} invites"),
        )
        .await;
        refused(
            &app,
            browser.get("/api/v1/admin/staff"),
            403,
            "role_required",
            &format!("{who} lists staff"),
        )
        .await;
    }
    refused(
        &app,
        nobody.post_json(INVITATIONS, &invite),
        401,
        "not_signed_in",
        "no session invites",
    )
    .await;
    refused(
        &app,
        nobody.get("/api/v1/admin/staff"),
        401,
        "not_signed_in",
        "no session lists staff",
    )
    .await;
    refused(
        &app,
        nobody.get("/api/v1/staff/me"),
        401,
        "not_signed_in",
        "no session asks for roles",
    )
    .await;

    // The staff list.
    let list = admin.get_ok("/api/v1/admin/staff").await;
    let staff = list["staff"].as_array().unwrap();
    let find = |nid: &str, role: &str| {
        staff
            .iter()
            .find(|s| s["national_id"] == nid && s["role"] == role)
            .unwrap_or_else(|| panic!("{nid} {role} missing from {list}"))
            .clone()
    };
    assert_eq!(find(&admin.national_id, "admin")["region"], Value::Null);
    assert_eq!(find(&registrar.national_id, "registrar")["region"], "NTH");
    assert_eq!(find(&auditor.national_id, "auditor")["given_name"], "Audra");
    assert_eq!(staff.len(), 3, "{list}");
}

async fn sensitive_actions_need_a_passkey_sign_in_within_15_minutes(app: TestApp) {
    let mut admin = admin(&app).await;
    let mut registrar = registrar(&app, "Rita", &["CAP"]).await;
    let citizen = citizen_in(&app, "Kelechi", "CAP-H").await;
    let invite = json!({"role": "auditor"});
    let csv = register_csv(&[["R-1", "Ada", "Eze", "1980-01-01", "CAP", ""]]);

    app.clock.advance(time::Duration::minutes(15));
    admin.post_ok(INVITATIONS, &invite, 201).await;
    registrar
        .post_ok(
            &desk(&citizen.national_id, "suspend"),
            &json!({"reason": "check"}),
            200,
        )
        .await;

    app.clock
        .advance(time::Duration::minutes(1) + time::Duration::seconds(1));
    refused(
        &app,
        admin.post(INVITATIONS, &invite),
        403,
        "reauthentication_required",
        "invitation",
    )
    .await;
    refused(
        &app,
        upload(&admin, csv.clone()),
        403,
        "reauthentication_required",
        "register import",
    )
    .await;
    let nid = citizen.national_id.clone();
    for (action, body) in [
        ("reinstate", json!({"reason": "checked"})),
        ("revoke", json!({"reason": "fraud"})),
        ("death", json!({"date_of_death": "2026-01-01"})),
        ("reject", json!({"reason": "no"})),
        (
            "verify",
            json!({"evidence_type": "passport", "issuing_authority": "Civitas", "document_number": "P1"}),
        ),
    ] {
        refused(
            &app,
            registrar.post(&desk(&nid, action), &body),
            403,
            "reauthentication_required",
            action,
        )
        .await;
    }
    let case = "00000000-0000-4000-8000-000000000000";
    refused(
        &app,
        registrar.post(
            &format!("/api/v1/registrar/duplicates/{case}/dismiss"),
            &json!({"reason": "x"}),
        ),
        403,
        "reauthentication_required",
        "dismiss",
    )
    .await;
    // Reading is not sensitive.
    admin.get_ok("/api/v1/admin/staff").await;
    registrar.get_ok("/api/v1/registrar/verifications").await;
    assert_eq!(citizen_view(&registrar, &nid).await["status"], "suspended");

    // A new passkey sign-in allows them again.
    admin.sign_in_again().await;
    registrar.sign_in_again().await;
    admin.post_ok(INVITATIONS, &invite, 201).await;
    assert_eq!(upload(&admin, csv).await.status(), 201);
    registrar
        .post_ok(&desk(&nid, "reinstate"), &json!({"reason": "checked"}), 200)
        .await;
}

async fn the_command_line_prints_a_one_time_invitation_link(app: TestApp) {
    catch_up_with_system_clock(&app);
    let before = count(&app, Table::StaffInvitations).await;
    let out = civitas_with_env(
        &app,
        &[
            "admin",
            "invite",
            "--role",
            "registrar",
            "--region",
            "NTH",
            "--region",
            "STH-CS",
            "--database-url",
            &app.db_url,
        ],
        &[("CIVITAS_ISSUER", &app.address)],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let printed = stdout(&out);
    let url = printed.trim();
    assert_eq!(
        printed.lines().count(),
        1,
        "only the URL on stdout: {printed}"
    );
    assert!(
        url.starts_with(&format!("{}/staff/invitation#", app.address)),
        "{url}"
    );
    assert_eq!(count(&app, Table::StaffInvitations).await, before + 1);
    let invite = &audit_entries(&app, "staff.invite").await[0];
    assert_eq!(invite.actor, CLI_ACTOR);

    let person = citizen_in(&app, "Nneka", "CAP").await;
    verified_in_store(&app, &person).await;
    let granted = accept(&person, &token_from_url(url)).await;
    assert_eq!(granted.status(), 200);
    let granted: Value = granted.json().await.unwrap();
    assert_eq!(
        granted["roles"],
        json!([
            {"role": "registrar", "region": "NTH"},
            {"role": "registrar", "region": "STH-CS"},
        ])
    );
    assert_error(
        accept(&person, &token_from_url(url)).await,
        400,
        "invitation_unusable",
        "CLI link used twice",
    )
    .await;

    // Bad requests print a reason and create nothing.
    let before = counts(&app).await;
    for (case, args, says) in [
        (
            "registrar without region",
            vec!["--role", "registrar"],
            "region",
        ),
        (
            "admin with region",
            vec!["--role", "admin", "--region", "CAP"],
            "region",
        ),
        (
            "unknown region",
            vec!["--role", "registrar", "--region", "ZZZ"],
            "ZZZ",
        ),
        (
            "bad role",
            vec!["--role", "wizard"],
            "admin, registrar or auditor",
        ),
    ] {
        let mut all = vec!["admin", "invite"];
        all.extend(args);
        let out = civitas_with_env(&app, &all, &[("CIVITAS_ISSUER", &app.address)]);
        assert!(!out.status.success(), "case {case}: succeeded");
        assert!(
            stderr(&out).contains(says),
            "case {case}: stderr lacks {says:?}: {}",
            stderr(&out)
        );
        assert!(
            stdout(&out).trim().is_empty(),
            "case {case}: printed a link"
        );
    }
    assert_eq!(counts(&app).await, before);
}

/// The documented `civitas admin invite --role R --region C --issuer URL`
/// takes every setting after `invite`.
async fn the_issuer_flag_is_accepted_after_invite(app: TestApp) {
    let out = civitas(
        &app,
        &[
            "admin",
            "invite",
            "--role",
            "auditor",
            "--issuer",
            "https://id.example.gov",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).starts_with("https://id.example.gov/staff/invitation#"),
        "{}",
        stdout(&out)
    );
}

crate::on_both_backends!(
    the_first_start_creates_an_audited_admin_invitation,
    invitations_grant_roles_once_and_expire_after_a_day,
    the_admin_api_checks_roles_and_input,
    sensitive_actions_need_a_passkey_sign_in_within_15_minutes,
    the_command_line_prints_a_one_time_invitation_link,
    the_issuer_flag_is_accepted_after_invite,
);
