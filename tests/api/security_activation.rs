//! Attacks on activation codes: guessing a resident's date of birth (one at
//! a time, in parallel, over months), using a code that has expired, and
//! hiding behind the many addresses of one IPv6 network.

use civitas::store::Table;
use serde_json::Value;

use crate::support::app::{TestApp, assert_error};
use crate::support::registry::*;

const ADAEZE: [&str; 6] = ["R-001", "Adaeze", "Nwosu", "1985-02-14", "NTH-LK", ""];
const EMEKA: [&str; 6] = ["R-002", "Emeka", "Obi", "1972-11-30", "CAP", ""];

/// The wrong date of birth number `n` (1 to 28 work as days of March).
fn wrong_date(n: usize) -> String {
    format!("1985-03-{:02}", 1 + n % 28)
}

async fn ten_wrong_birth_dates_lock_a_code_for_good_until_a_registrar_unlocks_it(app: TestApp) {
    let admin = admin(&app).await;
    let letters = import_ok(&admin, &register_csv(&[ADAEZE, EMEKA])).await;
    let code = letters[0].code.clone();
    // Each guess from another network, so only the code's own count holds
    // the guesser back.
    for n in 0..10 {
        let guesser = browser_at(&app, &format!("198.51.100.{n}"));
        refused(
            &app,
            start_with_code(&guesser, &code, &wrong_date(n)),
            400,
            "activation_code_not_found",
            &format!("wrong date {n}"),
        )
        .await;
    }
    // Now even the right date is refused, and stays refused a year later.
    let resident = browser_at(&app, "203.0.113.9");
    refused(
        &app,
        start_with_code(&resident, &code, "1985-02-14"),
        403,
        "activation_code_locked",
        "the right date after ten wrong ones",
    )
    .await;
    app.clock.advance(time::Duration::days(100));
    refused(
        &app,
        start_with_code(&resident, &code, "1985-02-14"),
        403,
        "activation_code_locked",
        "a hundred days later",
    )
    .await;
    // Another code is not affected.
    enroll_with_code(&app, &letters[1].code, "1972-11-30").await;

    // The resident shows an identity document at the desk.
    let registrar = registrar(&app, "Rita", &["NTH"]).await;
    let unlock = "/api/v1/registrar/register/R-001/unlock";
    refused(
        &app,
        registrar.post(unlock, &serde_json::json!({})),
        400,
        "reason_required",
        "no reason",
    )
    .await;
    registrar
        .post_ok(
            unlock,
            &serde_json::json!({"reason": "passport seen at the desk"}),
            204,
        )
        .await;
    let unlocked = &audit_entries(&app, "register.unlock_code").await[0];
    assert_eq!(unlocked.target, "register:R-001");
    refused(
        &app,
        registrar.post(unlock, &serde_json::json!({"reason": "again"})),
        409,
        "not_locked",
        "unlocked twice",
    )
    .await;
    let adaeze = enroll_with_code(&app, &code, "1985-02-14").await;
    assert_eq!(adaeze.me().await["given_name"], "Adaeze");
}

async fn thirty_parallel_wrong_birth_dates_get_ten_tries(app: TestApp) {
    let admin = admin(&app).await;
    let letter = one_resident(&admin, ADAEZE).await;
    let tries = (0..30).map(|n| {
        let guesser = browser_at(&app, &format!("192.0.2.{n}"));
        let code = letter.code.clone();
        async move {
            let response = start_with_code(&guesser, &code, &wrong_date(n)).await;
            let status = response.status().as_u16();
            let body: Value = response.json().await.unwrap_or(Value::Null);
            (
                status,
                body["error"].as_str().unwrap_or_default().to_string(),
            )
        }
    });
    let answers = futures::future::join_all(tries).await;
    let tried = answers
        .iter()
        .filter(|(status, code)| *status == 400 && code == "activation_code_not_found")
        .count();
    let held = answers
        .iter()
        .filter(|(status, code)| *status == 403 && code == "activation_code_locked")
        .count();
    assert_eq!(
        (tried, held),
        (10, 20),
        "ten dates were tried, the other twenty held back: {answers:?}"
    );
    let entry = app
        .store
        .find_register_entry("R-001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(entry.wrong_birth_dates, 10);
}

async fn an_expired_activation_code_does_not_enroll(app: TestApp) {
    let admin = admin(&app).await;
    let letter = one_resident(&admin, ADAEZE).await;
    // Codes last 180 days by default, and the letter says until when.
    let expires = app.clock.now().date() + time::Duration::days(180);
    assert_eq!(
        letter.expires_on,
        civitas::domain::citizen::iso_date::format(expires)
    );
    app.clock.advance(time::Duration::days(181));
    let before = counts(&app).await;
    let browser = new_browser(&app);
    assert_error(
        start_with_code(&browser, &letter.code, "1985-02-14").await,
        400,
        "activation_code_expired",
        "a code past its expiry",
    )
    .await;
    assert_eq!(counts(&app).await, before);
    assert_eq!(count(&app, Table::Citizens).await, 1, "only the admin");
}

async fn one_ipv6_network_is_counted_as_one_client(app: TestApp) {
    let admin = admin(&app).await;
    let letter = one_resident(&admin, ADAEZE).await;
    // Twenty misses from twenty addresses of one /64 ...
    for n in 0..20 {
        let guesser = browser_at(&app, &format!("2001:db8:7:1::{n:x}"));
        let unknown = civitas::registry::activation::ActivationCode::generate().to_string();
        refused(
            &app,
            start_with_code(&guesser, &unknown, "1985-02-14"),
            400,
            "activation_code_not_found",
            &format!("miss {n}"),
        )
        .await;
    }
    // ... hold back the whole /64, whatever address it uses next.
    let next = browser_at(&app, "2001:db8:7:1:ffff:ffff:ffff:ffff");
    let held = start_with_code(&next, &letter.code, "1985-02-14").await;
    assert!(held.headers().contains_key("retry-after"));
    assert_error(held, 429, "too_many_attempts", "another address of the /64").await;
    // Another /64 is another client.
    let neighbour = browser_at(&app, "2001:db8:7:2::1");
    assert_eq!(
        start_with_code(&neighbour, &letter.code, "1985-02-14")
            .await
            .status(),
        200
    );
}

async fn letters_do_not_run_as_spreadsheet_formulas(app: TestApp) {
    let admin = admin(&app).await;
    let letters = import_ok(
        &admin,
        &register_csv(&[[
            "R-777",
            "=1+2",
            "@SUM(A1)",
            "1990-01-01",
            "CAP",
            "+2348012345678",
        ]]),
    )
    .await;
    assert_eq!(letters[0].given_name, "'=1+2");
    assert_eq!(letters[0].family_name, "'@SUM(A1)");
    assert_eq!(
        letters[0].phone, "+2348012345678",
        "a checked phone number stays"
    );
}

crate::on_both_backends!(
    ten_wrong_birth_dates_lock_a_code_for_good_until_a_registrar_unlocks_it,
    thirty_parallel_wrong_birth_dates_get_ten_tries,
    an_expired_activation_code_does_not_enroll,
    one_ipv6_network_is_counted_as_one_client,
    letters_do_not_run_as_spreadsheet_formulas,
);
