//! Steps of the passkey journeys, shared by the tests.

use serde_json::{Value, json};

use crate::authenticator::{SoftAuthenticator, Tweaks};
use crate::helpers::TestApp;

pub fn person(given: &str) -> Value {
    json!({
        "given_name": given,
        "family_name": "Okafor",
        "birth_date": "1990-04-12",
        "region": "CAP-H",
    })
}

/// POSTs and returns the JSON body, asserting the status.
pub async fn post_ok(app: &TestApp, path: &str, body: &Value, status: u16) -> Value {
    let response = app.post_json(path, body).await;
    let got = response.status().as_u16();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "{path}: {text}");
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

pub async fn start_enrollment(app: &TestApp, form: &Value) -> Value {
    post_ok(app, "/api/v1/enrollment/start", form, 200).await
}

pub async fn finish(
    app: &TestApp,
    path: &str,
    started: &Value,
    credential: Value,
) -> reqwest::Response {
    app.post_json(
        path,
        &json!({"ceremony_id": started["ceremony_id"], "credential": credential}),
    )
    .await
}

/// Enrolls `given` with a new passkey; returns the national ID number.
pub async fn enroll(app: &TestApp, auth: &mut SoftAuthenticator, given: &str) -> String {
    let started = start_enrollment(app, &person(given)).await;
    let credential = auth.create(&started["publicKey"]);
    let response = finish(app, "/api/v1/enrollment/finish", &started, credential).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["national_id"].as_str().unwrap().to_string()
}

pub async fn start_login(app: &TestApp) -> Value {
    post_ok(app, "/api/v1/login/start", &json!({}), 200).await
}

/// Signs in with the authenticator's newest credential (or `index`).
pub async fn login_with(
    app: &TestApp,
    auth: &mut SoftAuthenticator,
    index: Option<usize>,
    tweaks: &Tweaks,
) -> reqwest::Response {
    let started = start_login(app).await;
    let credential = match index {
        Some(i) => auth.get_using(i, &started["publicKey"], tweaks),
        None => auth.get_with(&started["publicKey"], tweaks),
    };
    finish(app, "/api/v1/login/finish", &started, credential).await
}

pub async fn me(app: &TestApp) -> reqwest::Response {
    app.get("/api/v1/me").await
}
