//! Attacks through the browser: framing a page to trick a click
//! (clickjacking), running script injected into a page, sending a form's
//! data to another site, a content type sniffed into script, the session
//! cookie planted by a sibling host or sent over plain HTTP.

use std::collections::HashMap;

use reqwest::header::HeaderMap;
use serde_json::json;

use crate::support::app::{HttpsApp, TestApp};
use crate::support::oidc::*;
use crate::support::passkeys::{SoftAuthenticator, me};
use crate::support::registry::browser_at;

/// The directives of a `Content-Security-Policy`, by name.
fn csp(case: &str, headers: &HeaderMap) -> HashMap<String, Vec<String>> {
    let value = headers
        .get("content-security-policy")
        .unwrap_or_else(|| panic!("case {case}: no Content-Security-Policy in {headers:?}"))
        .to_str()
        .unwrap();
    value
        .split(';')
        .filter_map(|d| {
            let mut words = d.split_whitespace().map(str::to_string);
            let name = words.next()?;
            Some((name, words.collect()))
        })
        .collect()
}

fn header<'a>(case: &str, headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("case {case}: no {name} in {headers:?}"))
        .to_str()
        .unwrap()
}

/// The headers every response carries, whatever it is.
fn assert_hardened(case: &str, headers: &HeaderMap) {
    let policy = csp(case, headers);
    let directive = |name: &str| {
        policy
            .get(name)
            .unwrap_or_else(|| panic!("case {case}: no {name} in the CSP {policy:?}"))
            .clone()
    };
    assert_eq!(
        directive("script-src"),
        ["'self'"],
        "case {case}: script-src"
    );
    assert_eq!(
        directive("frame-ancestors"),
        ["'none'"],
        "case {case}: frame-ancestors"
    );
    assert_eq!(directive("base-uri"), ["'none'"], "case {case}: base-uri");
    assert_eq!(
        directive("object-src"),
        ["'none'"],
        "case {case}: object-src"
    );
    assert_eq!(
        directive("form-action").first().map(String::as_str),
        Some("'self'"),
        "case {case}: form-action"
    );
    assert!(
        !policy.values().flatten().any(|s| s.contains("unsafe")),
        "case {case}: nothing unsafe in {policy:?}"
    );
    assert_eq!(
        header(case, headers, "x-content-type-options"),
        "nosniff",
        "case {case}"
    );
    let referrer = header(case, headers, "referrer-policy");
    assert!(
        matches!(referrer, "no-referrer" | "same-origin"),
        "case {case}: Referrer-Policy {referrer}"
    );
    let permissions = header(case, headers, "permissions-policy");
    for feature in ["camera", "microphone", "geolocation", "payment", "usb"] {
        assert!(
            permissions.contains(&format!("{feature}=()")),
            "case {case}: {feature} not denied in {permissions}"
        );
    }
    assert!(
        !permissions.contains("publickey-credentials"),
        "case {case}: passkeys must stay allowed: {permissions}"
    );
}

async fn every_response_refuses_framing_sniffing_and_inline_script(app: TestApp) {
    let national_id = json!({"national_id": "123456789012"});
    let mut responses = vec![
        ("a page", app.get("/").await),
        ("the sign-in page", app.get("/login").await),
        ("a script", app.get("/static/civitas.js").await),
        ("JSON", app.get("/api/v1/regions").await),
        ("a probe", app.get("/healthz").await),
        ("a 404 page", app.get("/no/such/page").await),
        ("a 404 JSON error", app.get("/api/v1/no-such-thing").await),
        (
            "a 400 JSON error",
            app.post_json("/api/v1/national-ids/validate", &json!({"x": 1}))
                .await,
        ),
        (
            "a 401 JSON error",
            app.get("/api/v1/registrar/verifications").await,
        ),
        (
            "an error page",
            app.get("/authorize?client_id=nobody").await,
        ),
    ];
    // A client network that goes over its national ID limit (60 a minute).
    let hammering = browser_at(&app, "198.51.100.77");
    let mut limited = None;
    for _ in 0..200 {
        let response = hammering
            .post_json("/api/v1/national-ids/validate", &national_id)
            .await;
        if response.status() == 429 {
            limited = Some(response);
            break;
        }
    }
    responses.push(("a 429", limited.expect("the rate limit never answered 429")));
    for (case, response) in &responses {
        assert_hardened(case, response.headers());
        assert!(
            !response.headers().contains_key("strict-transport-security"),
            "case {case}: no HSTS with an http:// issuer"
        );
    }
}

async fn the_consent_page_cannot_be_framed(app: TestApp) {
    let _auth = signed_in_citizen(&app, "Xavier").await;
    let rp = register(&app, RpOptions::default()).await;
    let (_, challenge) = pkce();
    let response = authorize(&app, &rp, &challenge, &[]).await;
    assert_eq!(response.status(), 200, "the consent page is shown");
    let headers = response.headers().clone();
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("/authorize/consent")
    );
    assert_hardened("the consent page", &headers);
    assert_eq!(csp("consent", &headers)["frame-ancestors"], ["'none'"]);
    assert_eq!(header("consent", &headers, "x-frame-options"), "DENY");
}

async fn forms_may_send_data_only_to_civitas_and_the_consent_answer_to_the_apps_origin(
    app: TestApp,
) {
    let _auth = signed_in_citizen(&app, "Xavier").await;
    let rp = register(&app, RpOptions::default()).await;
    let (_, challenge) = pkce();
    let consent = authorize(&app, &rp, &challenge, &[]).await;
    assert_eq!(consent.status(), 200, "the consent page is shown");
    // The answer is redirected to the app's redirect URI, which the
    // consent page's policy must allow; no other site.
    assert_eq!(
        csp("consent page", consent.headers())["form-action"],
        ["'self'", "https://app.example"],
    );
    for (case, path) in [
        ("home", "/"),
        ("sign-in", "/login"),
        ("account", "/account"),
        ("enrollment", "/enroll"),
    ] {
        let response = app.get(path).await;
        assert_eq!(
            csp(case, response.headers())["form-action"],
            ["'self'"],
            "case {case}"
        );
    }
}

async fn the_session_cookie_cannot_be_planted_by_a_sibling_host_or_sent_in_clear(https: HttpsApp) {
    let app = &https.app;
    let mut auth = SoftAuthenticator::new(&https.issuer);
    let started = crate::support::passkeys::start_enrollment(
        app,
        &crate::support::passkeys::person("Xavier"),
    )
    .await;
    let credential = crate::support::passkeys::Device::create(&mut auth, &started["publicKey"]);
    let enrolled = crate::support::passkeys::finish(
        app,
        civitas_load::steps::ENROLLMENT_FINISH,
        &started,
        credential,
    )
    .await;
    assert_eq!(enrolled.status(), 201);
    let set_cookie = header("enrollment", enrolled.headers(), "set-cookie").to_string();
    let (pair, attributes) = set_cookie.split_once(';').unwrap();
    let (name, token) = pair.split_once('=').unwrap();
    assert_eq!(name, "__Host-civitas_session", "{set_cookie}");
    let attributes: Vec<String> = attributes
        .split(';')
        .map(|a| a.trim().to_ascii_lowercase())
        .collect();
    for wanted in ["secure", "httponly", "samesite=lax", "path=/"] {
        assert!(
            attributes.iter().any(|a| a == wanted),
            "{wanted} missing in {set_cookie}"
        );
    }
    assert!(
        !attributes.iter().any(|a| a.starts_with("domain")),
        "no Domain in {set_cookie}"
    );
    // The prefixed cookie is the one Civitas reads.
    let signed_in = reqwest::Client::new()
        .get(app.url("/api/v1/me"))
        .header("cookie", format!("{name}={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_in.status(), 200, "signed in with {name}");
    // A cookie of the old name (a sibling host may set it) is ignored.
    let planted = reqwest::Client::new()
        .get(app.url("/api/v1/me"))
        .header("cookie", format!("civitas_session={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(planted.status(), 401, "the unprefixed name is not read");
    // Signing out removes the prefixed cookie.
    let out = app
        .client
        .post(app.url("/api/v1/logout"))
        .header("cookie", format!("{name}={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), 204);
    let removal = header("logout", out.headers(), "set-cookie");
    assert!(
        removal.starts_with("__Host-civitas_session=;") && removal.contains("Secure"),
        "{removal}"
    );
    assert_eq!(me(app).await.status(), 401);
}

async fn browsers_are_told_to_use_https_only_for_an_https_issuer(https: HttpsApp) {
    let app = &https.app;
    for (case, path) in [
        ("a page", "/"),
        ("JSON", "/api/v1/regions"),
        ("a 404", "/nope"),
    ] {
        let response = app.get(path).await;
        assert_hardened(case, response.headers());
        let hsts = header(case, response.headers(), "strict-transport-security");
        let max_age: u64 = hsts
            .split(';')
            .find_map(|d| d.trim().strip_prefix("max-age="))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("case {case}: no max-age in {hsts}"));
        assert!(
            max_age >= 31_536_000,
            "case {case}: a year at least: {hsts}"
        );
    }
}

crate::on_both_backends!(
    every_response_refuses_framing_sniffing_and_inline_script,
    the_consent_page_cannot_be_framed,
    forms_may_send_data_only_to_civitas_and_the_consent_answer_to_the_apps_origin,
    the_session_cookie_cannot_be_planted_by_a_sibling_host_or_sent_in_clear,
    browsers_are_told_to_use_https_only_for_an_https_issuer,
);
