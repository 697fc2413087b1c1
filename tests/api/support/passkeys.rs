//! Passkeys in tests: the software authenticator of `civitas-load`, and the
//! enrollment and sign-in steps over HTTP.

use civitas_load::steps;
use serde_json::{Value, json};

pub use civitas_load::authenticator::{SoftAuthenticator, Tweaks};

use super::app::TestApp;

/// The authenticator as the tests drive it: a ceremony it refuses fails the
/// test, naming the `DOMException` the browser would raise.
pub trait Device {
    /// Answers creation options with a new resident credential.
    fn create(&mut self, options: &Value) -> Value;
    /// Like [`Device::create`], with deliberate deviations.
    fn create_with(&mut self, options: &Value, tweaks: &Tweaks) -> Value;
    /// Answers request options with the newest usable credential.
    fn get(&mut self, options: &Value) -> Value;
    /// Like [`Device::get`], with deliberate deviations.
    fn get_with(&mut self, options: &Value, tweaks: &Tweaks) -> Value;
    /// Answers with credential `index`, whatever `allowCredentials` says.
    fn get_using(&mut self, index: usize, options: &Value, tweaks: &Tweaks) -> Value;
}

impl Device for SoftAuthenticator {
    fn create(&mut self, options: &Value) -> Value {
        self.create_with(options, &Tweaks::default())
    }

    fn create_with(&mut self, options: &Value, tweaks: &Tweaks) -> Value {
        self.try_create_with(options, tweaks)
            .unwrap_or_else(|err| panic!("soft authenticator refused to create: {err}"))
    }

    fn get(&mut self, options: &Value) -> Value {
        self.get_with(options, &Tweaks::default())
    }

    fn get_with(&mut self, options: &Value, tweaks: &Tweaks) -> Value {
        self.try_get_with(options, tweaks)
            .unwrap_or_else(|err| panic!("soft authenticator refused to sign: {err}"))
    }

    fn get_using(&mut self, index: usize, options: &Value, tweaks: &Tweaks) -> Value {
        self.try_get_using(index, options, tweaks)
            .unwrap_or_else(|err| panic!("soft authenticator refused to sign: {err}"))
    }
}

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
    post_ok(app, steps::ENROLLMENT_START, form, 200).await
}

pub async fn finish(
    app: &TestApp,
    path: &str,
    started: &Value,
    credential: Value,
) -> reqwest::Response {
    app.post_json(path, &steps::ceremony_answer(started, credential))
        .await
}

/// Enrolls `given` with a new passkey; returns the national ID number.
pub async fn enroll(app: &TestApp, auth: &mut SoftAuthenticator, given: &str) -> String {
    let started = start_enrollment(app, &person(given)).await;
    let credential = auth.create(&started["publicKey"]);
    let response = finish(app, steps::ENROLLMENT_FINISH, &started, credential).await;
    assert_eq!(response.status(), 201);
    let body: Value = response.json().await.unwrap();
    body["national_id"].as_str().unwrap().to_string()
}

pub async fn start_login(app: &TestApp) -> Value {
    post_ok(app, steps::LOGIN_START, &json!({}), 200).await
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
    finish(app, steps::LOGIN_FINISH, &started, credential).await
}

pub async fn me(app: &TestApp) -> reqwest::Response {
    app.get("/api/v1/me").await
}
