//! The identity lifecycle: suspension, reinstatement, revocation and death,
//! and what each does to sessions, passkey sign-in and OpenID tokens.

use civitas::store::Table;
use serde_json::{Value, json};

use crate::support::app::{TestApp, assert_error};
use crate::support::oidc::{Rp, RpOptions, code, exchange, pkce, register, token, userinfo};
use crate::support::passkeys::Tweaks;
use crate::support::passkeys::login_with;
use crate::support::registry::*;

/// Tokens an app holds for `citizen`.
struct Tokens {
    rp: Rp,
    access: String,
    refresh: String,
}

async fn tokens_for(citizen: &Person, rp: Rp) -> Tokens {
    let (verifier, challenge) = pkce();
    let code = code(
        &citizen.app,
        &rp,
        &challenge,
        &[("scope", "openid profile offline_access")],
    )
    .await;
    let response = exchange(&citizen.app, &rp, &code, &verifier).await;
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    Tokens {
        rp,
        access: body["access_token"].as_str().unwrap().to_string(),
        refresh: body["refresh_token"].as_str().unwrap().to_string(),
    }
}

async fn refresh(app: &TestApp, t: &Tokens) -> reqwest::Response {
    token(
        app,
        &t.rp,
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", &t.refresh),
        ],
    )
    .await
}

async fn introspect(app: &TestApp, t: &Tokens) -> Value {
    reqwest::Client::new()
        .post(app.url("/introspect"))
        .basic_auth(&t.rp.client_id, t.rp.secret.as_deref())
        .form(&[("token", t.access.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn oauth_error_code(response: reqwest::Response) -> (u16, String) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    (
        status,
        body["error"].as_str().unwrap_or_default().to_string(),
    )
}

/// Asserts that `citizen` has no way in: no session, no passkey sign-in
/// (with `code`), no refresh, no active access token.
async fn locked_out(app: &TestApp, citizen: &mut Person, t: &Tokens, code: &str, case: &str) {
    assert_error(
        citizen.get("/api/v1/me").await,
        401,
        "not_signed_in",
        &format!("{case}: session"),
    )
    .await;
    let login = login_with(&citizen.app, &mut citizen.auth, None, &Tweaks::default()).await;
    assert_error(login, 403, code, &format!("{case}: passkey sign-in")).await;
    assert_eq!(
        oauth_error_code(refresh(app, t).await).await,
        (400, "invalid_grant".to_string()),
        "{case}: refresh"
    );
    assert_eq!(
        introspect(app, t).await["active"],
        false,
        "{case}: introspection"
    );
    assert_eq!(
        userinfo(app, &t.access).await.status(),
        401,
        "{case}: userinfo"
    );
}

async fn suspension_ends_access_and_reinstatement_restores_sign_in_only(app: TestApp) {
    let registrar = registrar(&app, "Rita", &["CAP"]).await;
    let mut citizen = citizen_in(&app, "Kelechi", "CAP-H").await;
    let rp = register(&app, RpOptions::default()).await;
    let t = tokens_for(&citizen, rp).await;
    assert_eq!(introspect(&app, &t).await["active"], true);
    let grants = count(&app, Table::Grants).await;
    assert!(grants >= 1);

    let view = registrar
        .post_ok(
            &desk(&citizen.national_id, "suspend"),
            &json!({"reason": "reported stolen device"}),
            200,
        )
        .await;
    assert_eq!(view["status"], "suspended");
    assert_eq!(
        count(&app, Table::Grants).await,
        grants - 1,
        "grant revoked"
    );
    let audit = &audit_entries(&app, "citizen.suspend").await[0];
    assert_eq!(audit.actor, format!("citizen:{}", registrar.national_id));
    assert_eq!(audit.target, format!("citizen:{}", citizen.national_id));
    assert!(audit.details.contains("reported stolen device"));
    locked_out(&app, &mut citizen, &t, "citizen_suspended", "suspended").await;

    // Reinstated: passkey sign-in works again; the old session and tokens
    // stay ended.
    let view = registrar
        .post_ok(
            &desk(&citizen.national_id, "reinstate"),
            &json!({"reason": "device recovered"}),
            200,
        )
        .await;
    assert_eq!(view["status"], "active");
    assert_eq!(audit_entries(&app, "citizen.reinstate").await.len(), 1);
    assert_error(
        citizen.get("/api/v1/me").await,
        401,
        "not_signed_in",
        "old session after reinstatement",
    )
    .await;
    assert_eq!(
        oauth_error_code(refresh(&app, &t).await).await,
        (400, "invalid_grant".to_string()),
        "old refresh token after reinstatement"
    );
    assert_eq!(introspect(&app, &t).await["active"], false);
    citizen.sign_in_again().await;
    assert_eq!(citizen.me().await["status"], "active");
}

async fn a_suspension_while_signed_in_ends_that_very_session(app: TestApp) {
    // The session row itself is gone, not only refused while suspended: a
    // copy of the cookie is useless after reinstatement.
    let registrar = registrar(&app, "Rita", &["CAP"]).await;
    let citizen = citizen_in(&app, "Kelechi", "CAP-H").await;
    let sessions = count(&app, Table::Sessions).await;
    registrar
        .post_ok(
            &desk(&citizen.national_id, "suspend"),
            &json!({"reason": "x"}),
            200,
        )
        .await;
    assert_eq!(count(&app, Table::Sessions).await, sessions - 1);
    registrar
        .post_ok(
            &desk(&citizen.national_id, "reinstate"),
            &json!({"reason": "y"}),
            200,
        )
        .await;
    assert_error(
        citizen.get("/api/v1/me").await,
        401,
        "not_signed_in",
        "cookie after reinstatement",
    )
    .await;
}

async fn revocation_and_death_are_final(app: TestApp) {
    let registrar = registrar(&app, "Rita", &["CAP"]).await;
    let rp = register(&app, RpOptions::default()).await;

    let mut revoked = citizen_in(&app, "Kelechi", "CAP-H").await;
    let t = tokens_for(&revoked, rp.clone()).await;
    let view = registrar
        .post_ok(
            &desk(&revoked.national_id, "revoke"),
            &json!({"reason": "fraud"}),
            200,
        )
        .await;
    assert_eq!(view["status"], "revoked");
    locked_out(&app, &mut revoked, &t, "citizen_revoked", "revoked").await;
    for (action, body) in [
        ("reinstate", json!({"reason": "mistake"})),
        ("suspend", json!({"reason": "x"})),
        ("revoke", json!({"reason": "again"})),
        ("death", json!({"date_of_death": "2026-01-01"})),
    ] {
        refused(
            &app,
            registrar.post(&desk(&revoked.national_id, action), &body),
            409,
            "invalid_transition",
            &format!("{action} a revoked citizen"),
        )
        .await;
    }

    let mut deceased = citizen_in(&app, "Lola", "CAP-C").await;
    let t = tokens_for(&deceased, rp).await;
    let path = desk(&deceased.national_id, "death");
    for (case, body) in [
        ("no date", json!({})),
        ("not a date", json!({"date_of_death": "yesterday"})),
        ("in the future", json!({"date_of_death": "2026-11-29"})),
        ("before birth", json!({"date_of_death": "1990-04-11"})),
    ] {
        refused(
            &app,
            registrar.post(&path, &body),
            400,
            "invalid_date_of_death",
            case,
        )
        .await;
    }
    let view = registrar
        .post_ok(&path, &json!({"date_of_death": "2026-11-27"}), 200)
        .await;
    assert_eq!(view["status"], "deceased");
    let audit = &audit_entries(&app, "citizen.record_death").await[0];
    assert!(audit.details.contains("2026-11-27"), "{}", audit.details);
    locked_out(&app, &mut deceased, &t, "citizen_deceased", "deceased").await;
    for action in ["reinstate", "suspend", "revoke"] {
        refused(
            &app,
            registrar.post(
                &desk(&deceased.national_id, action),
                &json!({"reason": "x"}),
            ),
            409,
            "invalid_transition",
            &format!("{action} a deceased citizen"),
        )
        .await;
    }
    // A death on the day of birth is possible.
    let infant = citizen_in(&app, "Ayo", "CAP-C").await;
    registrar
        .post_ok(
            &desk(&infant.national_id, "death"),
            &json!({"date_of_death": "1990-04-12"}),
            200,
        )
        .await;
}

async fn invalid_transitions_and_missing_reasons_change_nothing(app: TestApp) {
    let registrar = registrar(&app, "Rita", &["CAP"]).await;
    let citizen = citizen_in(&app, "Kelechi", "CAP-H").await;
    let nid = citizen.national_id.clone();
    refused(
        &app,
        registrar.post(&desk(&nid, "reinstate"), &json!({"reason": "x"})),
        409,
        "invalid_transition",
        "reinstate an active citizen",
    )
    .await;
    for action in ["suspend", "revoke", "reinstate"] {
        for (case, body) in [
            ("no reason", json!({})),
            ("null reason", json!({"reason": null})),
            ("blank reason", json!({"reason": " \t "})),
            (
                "reason over 500 characters",
                json!({"reason": "é".repeat(501)}),
            ),
        ] {
            refused(
                &app,
                registrar.post(&desk(&nid, action), &body),
                400,
                "reason_required",
                &format!("{action}: {case}"),
            )
            .await;
        }
    }
    refused(
        &app,
        registrar.post(&desk(&nid, "suspend"), &json!({"reason": 5})),
        400,
        "invalid_request",
        "reason not text",
    )
    .await;
    // 500 characters are enough.
    registrar
        .post_ok(
            &desk(&nid, "suspend"),
            &json!({"reason": "é".repeat(500)}),
            200,
        )
        .await;
    refused(
        &app,
        registrar.post(&desk(&nid, "suspend"), &json!({"reason": "again"})),
        409,
        "invalid_transition",
        "suspend a suspended citizen",
    )
    .await;
    assert_eq!(citizen_view(&registrar, &nid).await["status"], "suspended");
}

crate::on_both_backends!(
    suspension_ends_access_and_reinstatement_restores_sign_in_only,
    a_suspension_while_signed_in_ends_that_very_session,
    revocation_and_death_are_final,
    invalid_transitions_and_missing_reasons_change_nothing,
);
