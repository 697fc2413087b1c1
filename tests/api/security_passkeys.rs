//! Attacks with copied authenticators: a passkey whose signature counter
//! went backwards must stop working until a registrar has looked at it, and
//! a slower parallel sign-in must not move the stored counter back.

use civitas::domain::NationalId;
use serde_json::json;

use crate::support::app::{TestApp, assert_error};
use crate::support::passkeys::{SoftAuthenticator, Tweaks, enroll, login_with};
use crate::support::registry::{audit_entries, citizen_view, registrar};

fn counter(n: u32) -> Tweaks {
    Tweaks {
        counter: Some(n),
        ..Tweaks::default()
    }
}

async fn a_copied_passkey_is_disabled_until_a_registrar_enables_it(app: TestApp) {
    let mut auth = SoftAuthenticator::new(&app.address);
    let national_id = enroll(&app, &mut auth, "Bola").await;
    assert_eq!(
        login_with(&app, &mut auth, None, &counter(5))
            .await
            .status(),
        200
    );
    // The copy, behind the original, reports an older counter.
    assert_error(
        login_with(&app, &mut auth, None, &counter(3)).await,
        403,
        "possible_cloned_authenticator",
        "a counter going backwards",
    )
    .await;
    // From now on the passkey does not sign in, whatever it reports.
    assert_error(
        login_with(&app, &mut auth, None, &counter(9)).await,
        403,
        "passkey_disabled",
        "the flagged passkey, counter ahead",
    )
    .await;
    // A registrar of the citizen's region reviews it and enables it.
    let registrar = registrar(&app, "Rita", &["CAP"]).await;
    let view = citizen_view(&registrar, &national_id).await;
    let passkey = view["passkeys"][0].clone();
    assert!(passkey["disabled_at"].is_i64(), "{view}");
    let enable = format!(
        "/api/v1/registrar/citizens/{national_id}/passkeys/{}/enable",
        passkey["id"].as_str().unwrap()
    );
    let enabled = registrar
        .post_ok(
            &enable,
            &json!({"reason": "the citizen showed both devices"}),
            200,
        )
        .await;
    assert!(enabled["passkeys"][0]["disabled_at"].is_null());
    assert_eq!(audit_entries(&app, "passkey.enable").await.len(), 1);
    assert_eq!(
        login_with(&app, &mut auth, None, &counter(10))
            .await
            .status(),
        200
    );
    assert!(NationalId::parse(&national_id).is_ok());
}

async fn a_slower_parallel_sign_in_never_moves_the_counter_back(app: TestApp) {
    let mut auth = SoftAuthenticator::new(&app.address);
    enroll(&app, &mut auth, "Bola").await;
    let credential_id = auth.credentials()[0].id.clone();
    let stored = app
        .store
        .find_passkey_by_credential(&credential_id)
        .await
        .unwrap()
        .unwrap();
    // Two sign-ins read counter 0; the one that saw 7 stores first, then
    // the one that saw 6.
    for presented in [7, 6] {
        let mut row = stored.clone();
        row.sign_count = presented;
        let mut tx = app.store.begin().await.unwrap();
        tx.record_passkey_use(&row).await.unwrap();
        tx.commit().await.unwrap();
    }
    let after = app
        .store
        .find_passkey_by_credential(&credential_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after.sign_count, 7);
}

crate::on_both_backends!(
    a_copied_passkey_is_disabled_until_a_registrar_enables_it,
    a_slower_parallel_sign_in_never_moves_the_counter_back,
);
