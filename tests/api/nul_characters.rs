//! Text carrying a NUL character — which PostgreSQL can neither store nor
//! compare, so each of these was a 500 there — gets the same 4xx on both
//! databases, with a code and a message, and changes nothing. Found by the
//! Schemathesis run (`scripts/schemathesis/run`) against PostgreSQL.

use serde_json::json;

use crate::support::app::TestApp;
use crate::support::oidc::{RpOptions, authorize, oauth_error, pkce, register};
use crate::support::registry::*;

/// A client id with a NUL is an unknown client, wherever it is shown.
async fn a_client_id_with_a_nul_is_an_unknown_client(app: TestApp) {
    let rp = register(&app, RpOptions::default()).await;
    let secret = rp.secret.clone().unwrap();
    let http = reqwest::Client::new();
    let bad_id = format!("{}\0", rp.client_id);
    for endpoint in ["/token", "/introspect", "/revoke"] {
        let form = [
            ("grant_type", "refresh_token"),
            ("refresh_token", "r"),
            ("token", "t"),
            ("client_id", bad_id.as_str()),
            ("client_secret", secret.as_str()),
        ];
        let before = counts(&app).await;
        let response = http
            .post(app.url(endpoint))
            .form(&form)
            .send()
            .await
            .unwrap();
        oauth_error(
            response,
            401,
            "invalid_client",
            &format!("{endpoint}, form"),
        )
        .await;
        let response = http
            .post(app.url(endpoint))
            .basic_auth(format!("{}%00", rp.client_id), Some(&secret))
            .form(&[("token", "t"), ("grant_type", "refresh_token")])
            .send()
            .await
            .unwrap();
        oauth_error(
            response,
            401,
            "invalid_client",
            &format!("{endpoint}, Basic"),
        )
        .await;
        assert_eq!(counts(&app).await, before, "{endpoint}: rows changed");
    }
    let (_, challenge) = pkce();
    let response = authorize(&app, &rp, &challenge, &[("client_id", bad_id.as_str())]).await;
    assert_eq!(response.status(), 400, "/authorize");
    assert!(response.headers().get("location").is_none());
}

async fn withdrawing_an_app_id_with_a_nul_is_refused(app: TestApp) {
    let citizen = citizen_in(&app, "Wanda", "CAP-C").await;
    refused(
        &app,
        async {
            let url = citizen.app.url("/api/v1/me/apps/app%00");
            citizen.app.client.delete(url).send().await.unwrap()
        },
        400,
        "invalid_client_id",
        "client id with a NUL",
    )
    .await;
}

async fn audit_filters_with_a_nul_are_refused(app: TestApp) {
    let auditor = auditor(&app).await;
    for field in ["actor", "action", "target"] {
        refused(
            &app,
            auditor.get(&format!("/api/v1/admin/audit?{field}=cli%00")),
            400,
            "invalid_request",
            field,
        )
        .await;
    }
}

async fn unlocking_a_register_ref_with_a_nul_is_refused(app: TestApp) {
    let registrar = registrar(&app, "Rita", &["NTH"]).await;
    refused(
        &app,
        registrar.post(
            "/api/v1/registrar/register/R-001%00/unlock",
            &json!({"reason": "identity card seen"}),
        ),
        400,
        "invalid_register_ref",
        "register ref with a NUL",
    )
    .await;
}

async fn revoking_a_role_in_a_region_with_a_nul_is_refused(app: TestApp) {
    let admin = admin(&app).await;
    let registrar = registrar(&app, "Rita", &["CAP"]).await;
    refused(
        &app,
        admin.post(
            "/api/v1/admin/staff/revoke",
            &json!({"national_id": registrar.national_id, "role": "registrar", "region": "CAP\u{0}"}),
        ),
        400,
        "unknown_region",
        "region with a NUL",
    )
    .await;
}

async fn an_issuing_authority_with_a_nul_is_refused(app: TestApp) {
    let registrar = registrar(&app, "Rita", &["CAP"]).await;
    let citizen = citizen_in(&app, "Vera", "CAP-C").await;
    refused(
        &app,
        registrar.post(
            &format!("/api/v1/registrar/citizens/{}/verify", citizen.national_id),
            &json!({
                "evidence_type": "passport",
                "issuing_authority": "Civitas\u{0} Passport Office",
                "document_number": "P1234567",
            }),
        ),
        400,
        "invalid_issuing_authority",
        "issuing authority with a NUL",
    )
    .await;
    assert_eq!(citizen.me().await["assurance_level"], 1, "not verified");
}

crate::on_both_backends!(
    a_client_id_with_a_nul_is_an_unknown_client,
    withdrawing_an_app_id_with_a_nul_is_refused,
    audit_filters_with_a_nul_are_refused,
    unlocking_a_register_ref_with_a_nul_is_refused,
    revoking_a_role_in_a_region_with_a_nul_is_refused,
    an_issuing_authority_with_a_nul_is_refused,
);
