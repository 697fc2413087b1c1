//! `civitas client ...` and `civitas keys rotate` against a running server's
//! database.

use serde_json::Value;

use crate::support::app::TestApp;
use crate::support::cli;
use crate::support::oidc::*;

/// The binary on the test database: (success, stdout, stderr).
fn civitas(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let out = cli::civitas(app, args);
    (out.status.success(), cli::stdout(&out), cli::stderr(&out))
}

async fn clients_are_managed_from_the_command_line(app: TestApp) {
    let (ok, out, err) = civitas(
        &app,
        &[
            "client",
            "create",
            "--name",
            "Land Registry",
            "--redirect-uri",
            "https://land.example/cb",
            "--allow-scope",
            "national_id",
            "--id-token-alg",
            "ES256",
        ],
    );
    assert!(ok, "{err}");
    let created: Value = serde_json::from_str(out.trim()).unwrap();
    let client_id = created["client_id"].as_str().unwrap().to_string();
    let secret = created["client_secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 43, "256-bit secret");

    let (ok, out, _) = civitas(&app, &["client", "show", &client_id]);
    assert!(ok);
    let shown: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(shown["name"], "Land Registry");
    assert_eq!(shown["id_token_alg"], "ES256");
    assert!(!out.contains(&secret), "the secret is never shown again");
    let (ok, out, _) = civitas(&app, &["client", "list"]);
    assert!(ok && out.contains(&client_id));

    // The secret works at the token endpoint; a rotated one replaces it.
    let rp = Rp {
        client_id: client_id.clone(),
        secret: Some(secret.clone()),
        redirect_uri: "https://land.example/cb".into(),
    };
    let _auth = signed_in_citizen(&app, "Aisha").await;
    let (verifier, challenge) = pkce();
    let first = code(&app, &rp, &challenge, &[]).await;
    assert_eq!(exchange(&app, &rp, &first, &verifier).await.status(), 200);
    let (ok, out, _) = civitas(&app, &["client", "rotate-secret", &client_id]);
    assert!(ok);
    let rotated: Value = serde_json::from_str(out.trim()).unwrap();
    let second = code(&app, &rp, &challenge, &[]).await;
    oauth_error(
        exchange(&app, &rp, &second, &verifier).await,
        401,
        "invalid_client",
        "old secret",
    )
    .await;
    let fresh = Rp {
        secret: Some(rotated["client_secret"].as_str().unwrap().to_string()),
        ..rp.clone()
    };
    let third = code(&app, &rp, &challenge, &[]).await;
    assert_eq!(
        exchange(&app, &fresh, &third, &verifier).await.status(),
        200
    );

    // A disabled client gets an error page, never a redirect.
    let (ok, _, _) = civitas(&app, &["client", "disable", &client_id]);
    assert!(ok);
    let response = authorize(&app, &rp, &challenge, &[]).await;
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());

    // Bad input is refused with a message.
    let (ok, _, err) = civitas(
        &app,
        &[
            "client",
            "create",
            "--name",
            "X",
            "--redirect-uri",
            "http://evil.example/cb",
        ],
    );
    assert!(!ok && err.contains("https"), "{err}");
    let (ok, _, err) = civitas(
        &app,
        &[
            "client",
            "create",
            "--name",
            "X",
            "--redirect-uri",
            "https://a.example/cb",
            "--allow-scope",
            "everything",
        ],
    );
    assert!(!ok && err.contains("no such scope"), "{err}");
}

async fn key_rotation_keeps_old_keys_published(app: TestApp) {
    // The command line dates the rotation by the system clock.
    crate::support::registry::catch_up_with_system_clock(&app);
    let rp = register(&app, RpOptions::default()).await;
    let _auth = signed_in_citizen(&app, "Bayo").await;
    let (verifier, challenge) = pkce();
    let code1 = code(&app, &rp, &challenge, &[]).await;
    let before: Value = exchange(&app, &rp, &code1, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let old_kid = jsonwebtoken::decode_header(before["id_token"].as_str().unwrap())
        .unwrap()
        .kid
        .unwrap();

    let (ok, out, err) = civitas(&app, &["keys", "rotate"]);
    assert!(ok, "{err}");
    let rotated: Value = serde_json::from_str(out.trim()).unwrap();
    assert_eq!(rotated["new_kids"].as_array().unwrap().len(), 3);

    let jwks: Value = app.get("/jwks.json").await.json().await.unwrap();
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(kids.len(), 6, "old and new keys are published");
    assert!(kids.contains(&old_kid.as_str()));

    // A token signed before the rotation still works.
    let info = reqwest::Client::new()
        .get(app.url("/userinfo"))
        .bearer_auth(before["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(info.status(), 200);

    // The new keys sign once they have been published for ten minutes.
    app.clock.advance(time::Duration::minutes(11));
    let code2 = code(&app, &rp, &challenge, &[]).await;
    let after: Value = exchange(&app, &rp, &code2, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let new_kid = jsonwebtoken::decode_header(after["id_token"].as_str().unwrap())
        .unwrap()
        .kid
        .unwrap();
    assert_ne!(new_kid, old_kid, "new tokens use the new key");

    // A day after the rotation (which the CLI dated by the system clock)
    // the retired keys leave JWKS.
    let since_rotation = civitas::clock::Clock::System.now() - app.clock.now();
    app.clock
        .advance(since_rotation + time::Duration::hours(25));
    let jwks: Value = app.get("/jwks.json").await.json().await.unwrap();
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 3);
}

crate::on_both_backends!(
    clients_are_managed_from_the_command_line,
    key_rotation_keeps_old_keys_published
);
