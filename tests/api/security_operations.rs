//! Attacks on what operators run and read: national ID numbers copied into
//! request logs, the metrics read by anyone on the internet, the master key
//! read from the process list.

use crate::support::app::{TEST_METRICS_TOKEN, TestApp, assert_error};
use crate::support::cli::{ServerProcess, TEST_MASTER_KEY, civitas_with_env, stderr};

/// A `civitas serve` process of the real binary on `app`'s database.
async fn serve(app: &TestApp, envs: &[(&str, &str)], capture: bool) -> (ServerProcess, String) {
    let dir = std::env::temp_dir().join(format!("civitas-ops-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut all = vec![
        ("CIVITAS_DATABASE_URL", app.db_url.clone()),
        ("CIVITAS_MASTER_KEY", TEST_MASTER_KEY.to_string()),
        ("CIVITAS_CONFIG", "/nonexistent/civitas.toml".to_string()),
    ];
    all.extend(envs.iter().map(|(k, v)| (*k, v.to_string())));
    let server = if capture {
        ServerProcess::start_capturing(&dir, &all).await
    } else {
        ServerProcess::start(&dir, &all).await
    };
    let base = format!("http://127.0.0.1:{}", server.port);
    (server, base)
}

async fn request_logs_do_not_carry_national_ids_from_paths(app: TestApp) {
    let (server, base) = serve(&app, &[("CIVITAS_LOG_FORMAT", "json")], true).await;
    let national_id = "482917365021";
    let client = reqwest::Client::new();
    for path in [
        format!("/api/v1/registrar/citizens/{national_id}"),
        format!("/api/v1/registrar/citizens/{national_id}/verify"),
        format!("/nothing/here/{national_id}"),
    ] {
        let response = client.get(format!("{base}{path}")).send().await.unwrap();
        assert!(response.status().is_client_error(), "{path}");
    }
    let (_, out) = server.stop_and_read();
    let requests: Vec<serde_json::Value> = out
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|l| l["message"] == "request")
        .collect();
    assert!(
        !out.contains(national_id),
        "a national ID number is in the log:\n{out}"
    );
    let routes: Vec<&str> = requests
        .iter()
        .filter_map(|l| l["route"].as_str())
        .collect();
    for route in ["/api/v1/registrar/citizens/{national_id}", "unmatched"] {
        assert!(
            routes.contains(&route),
            "no request logged as {route}: {routes:?}"
        );
    }
    assert!(
        requests.iter().all(|l| l.get("path").is_none()),
        "raw paths are logged:\n{out}"
    );
}

async fn metrics_are_not_served_without_the_operators_token(app: TestApp) {
    let client = reqwest::Client::new();
    let url = app.url("/metrics");
    for (case, authorization) in [
        ("no token", None),
        ("a wrong token", Some("Bearer not-the-token".to_string())),
        (
            "the token with more after it",
            Some(format!("Bearer {TEST_METRICS_TOKEN}x")),
        ),
        (
            "the token, not as a bearer",
            Some(TEST_METRICS_TOKEN.to_string()),
        ),
        (
            "the token as a password",
            Some(format!("Basic {TEST_METRICS_TOKEN}")),
        ),
    ] {
        let mut request = client.get(&url);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        let response = request.send().await.unwrap();
        assert!(
            response.headers().contains_key("www-authenticate"),
            "case {case}: WWW-Authenticate"
        );
        assert_error(response, 401, "invalid_token", case).await;
    }
    let scraped = app.metrics().await;
    assert_eq!(scraped.status(), 200);
    assert!(
        scraped
            .text()
            .await
            .unwrap()
            .contains("civitas_http_requests_total")
    );
}

async fn metrics_are_off_until_the_operator_sets_a_token(app: TestApp) {
    let client = reqwest::Client::new();
    let (server, base) = serve(&app, &[], false).await;
    let response = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_error(response, 404, "not_found", "no metrics token set").await;
    drop(server);

    let token = "an operator's metrics token";
    let (server, base) = serve(&app, &[("CIVITAS_METRICS_TOKEN", token)], false).await;
    let anonymous = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_error(anonymous, 401, "invalid_token", "token set, none sent").await;
    let scraped = client
        .get(format!("{base}/metrics"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(scraped.status(), 200, "scraped with the token");
    drop(server);
}

async fn a_master_key_on_the_command_line_is_warned_about(app: TestApp) {
    let from_flag = civitas_with_env(
        &app,
        &["client", "list", "--master-key", TEST_MASTER_KEY],
        &[],
    );
    assert!(from_flag.status.success(), "{}", stderr(&from_flag));
    let warning = stderr(&from_flag);
    for wanted in ["--master-key", "CIVITAS_MASTER_KEY", "--master-key-file"] {
        assert!(
            warning.contains(wanted),
            "{wanted} not in the warning: {warning}"
        );
    }
    assert!(
        !warning.contains(TEST_MASTER_KEY),
        "the key is not repeated: {warning}"
    );
    // From the environment (as `civitas_with_env` gives it): no warning.
    let from_env = civitas_with_env(&app, &["client", "list"], &[]);
    assert!(from_env.status.success(), "{}", stderr(&from_env));
    assert!(
        !stderr(&from_env).contains("--master-key"),
        "{}",
        stderr(&from_env)
    );
}

crate::on_both_backends!(
    request_logs_do_not_carry_national_ids_from_paths,
    metrics_are_not_served_without_the_operators_token,
    metrics_are_off_until_the_operator_sets_a_token,
    a_master_key_on_the_command_line_is_warned_about,
);
