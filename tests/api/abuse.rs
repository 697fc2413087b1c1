//! Abuse resistance through HTTP: rate limits answer 429 with Retry-After
//! and spare everyone else; anonymous ceremony starts write nothing; sealed
//! ceremonies cannot be altered, carried to another issuer or finished
//! twice, even on two instances; a full instance sheds load with 503 at
//! once while its probes stay up; a pool with no free connection answers
//! 503 database_unavailable.

use std::time::Duration;

use civitas::config::{Issuer, LimitSettings};
use civitas::store::Table;
use civitas_load::steps;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::app::{TestApp, assert_error};
use crate::support::oidc::{RpOptions, register};
use crate::support::passkeys::{
    Device, SoftAuthenticator, Tweaks, enroll, finish, login_with, person, start_enrollment,
    start_login,
};
use crate::support::registry::{browser_at, snapshot};

/// The `Retry-After` of a refused answer, in seconds.
fn retry_after(response: &reqwest::Response) -> u64 {
    response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// Another instance on `app`'s database with these limits.
async fn with_limits(app: &TestApp, limits: LimitSettings) -> TestApp {
    app.instance(|s| s.limits = limits).await
}

/// A well-formed national ID validated: 200 unless refused.
async fn validate(app: &TestApp) -> reqwest::Response {
    let id = civitas::domain::national_id::NationalId::generate();
    app.post_json(
        "/api/v1/national-ids/validate",
        &json!({"national_id": id.as_digits()}),
    )
    .await
}

async fn a_network_over_its_limit_gets_429_and_others_are_served(app: TestApp) {
    let limited = with_limits(
        &app,
        LimitSettings {
            national_id: 3,
            other: 2,
            ..LimitSettings::default()
        },
    )
    .await;
    let bot = browser_at(&limited, "198.51.100.7");
    for _ in 0..3 {
        assert_eq!(validate(&bot).await.status(), 200);
    }
    let refused = validate(&bot).await;
    let wait = retry_after(&refused);
    assert!((1..=20).contains(&wait), "Retry-After {wait}");
    assert_error(refused, 429, "rate_limited", "fourth validation").await;
    // Another client is not held back.
    let citizen = browser_at(&limited, "198.51.100.8");
    assert_eq!(validate(&citizen).await.status(), 200);

    // Pages answer a page.
    let reader = browser_at(&limited, "203.0.113.5");
    for _ in 0..2 {
        assert_eq!(reader.get("/").await.status(), 200);
    }
    let page = reader.get("/").await;
    assert_eq!(page.status(), 429);
    assert!(page.headers().contains_key("retry-after"));
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );

    // Probes are never limited, and metrics count what was refused.
    for _ in 0..5 {
        assert_eq!(reader.get("/healthz").await.status(), 200);
    }
    let metrics = reader.metrics().await.text().await.unwrap();
    for line in [
        r#"civitas_requests_refused_total{class="national_id",kind="limited"} 1"#,
        r#"civitas_requests_refused_total{class="other",kind="limited"} 1"#,
    ] {
        assert!(metrics.contains(line), "{line} in\n{metrics}");
    }
}

async fn one_networks_flood_does_not_spend_the_instance_wide_budget(app: TestApp) {
    let limited = with_limits(
        &app,
        LimitSettings {
            national_id: 1,
            global_per_second: 2,
            ..LimitSettings::default()
        },
    )
    .await;
    let bot = browser_at(&limited, "198.51.100.9");
    assert_eq!(validate(&bot).await.status(), 200);
    // Refused by its own network's limit, never by the global cap.
    for n in 2..=10 {
        assert_error(
            validate(&bot).await,
            429,
            "rate_limited",
            &format!("bot #{n}"),
        )
        .await;
    }
    // The bot spent one of the instance's two requests: a citizen elsewhere
    // is served.
    let citizen = browser_at(&limited, "203.0.113.9");
    assert_eq!(validate(&citizen).await.status(), 200);
}

async fn token_request(app: &TestApp, client_id: &str, secret: &str) -> reqwest::Response {
    app.client
        .post(app.url("/token"))
        .basic_auth(client_id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", "no-such-code"),
            ("code_verifier", &"v".repeat(43)),
            ("redirect_uri", "https://app.example/callback"),
        ])
        .send()
        .await
        .unwrap()
}

async fn wrong_secrets_from_one_network_do_not_lock_the_app_out(app: TestApp) {
    let limited = with_limits(
        &app,
        LimitSettings {
            app: 100,
            failed_app_cost: 50,
            ..LimitSettings::default()
        },
    )
    .await;
    let rp = register(&limited, RpOptions::default()).await;
    let attacker = browser_at(&limited, "192.0.2.66");
    // Each failed authentication counts as 50 of the 100 per minute.
    for _ in 0..2 {
        let response = token_request(&attacker, &rp.client_id, "guess").await;
        assert_eq!(response.status(), 401);
    }
    let refused = token_request(&attacker, &rp.client_id, "guess").await;
    assert!(retry_after(&refused) >= 1);
    assert_error(refused, 429, "rate_limited", "third wrong secret").await;

    // The app's own servers, elsewhere, still reach the token endpoint:
    // their (unknown) code is refused as a code, not as a flood.
    let servers = browser_at(&limited, "203.0.113.20");
    let secret = rp.secret.as_deref().unwrap();
    for _ in 0..5 {
        let response = token_request(&servers, &rp.client_id, secret).await;
        assert_eq!(response.status(), 400);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_grant");
    }
}

async fn a_wrong_secret_flood_does_not_spend_the_instance_wide_budget(app: TestApp) {
    let limited = with_limits(
        &app,
        LimitSettings {
            app: 50,
            failed_app_cost: 50,
            global_per_second: 2,
            ..LimitSettings::default()
        },
    )
    .await;
    let rp = register(&limited, RpOptions::default()).await;
    let attacker = browser_at(&limited, "192.0.2.77");
    assert_eq!(
        token_request(&attacker, &rp.client_id, "guess")
            .await
            .status(),
        401
    );
    // Refused by the app's limit on the attacker's network, never by the
    // global cap.
    for n in 2..=10 {
        let response = token_request(&attacker, &rp.client_id, "guess").await;
        assert_error(response, 429, "rate_limited", &format!("guess #{n}")).await;
    }
    // The app itself, elsewhere, is served (its code is unknown: 400).
    let app_server = browser_at(&limited, "203.0.113.77");
    let secret = rp.secret.as_deref().unwrap();
    let response = token_request(&app_server, &rp.client_id, secret).await;
    assert_error(response, 400, "invalid_grant", "the app's own request").await;
}

async fn sign_ins_are_limited_per_citizen_from_any_network(app: TestApp) {
    let limited = with_limits(
        &app,
        LimitSettings {
            citizen_sign_in: 2,
            ..LimitSettings::default()
        },
    )
    .await;
    let mut auth = SoftAuthenticator::new(&limited.address);
    enroll(&limited, &mut auth, "Ngozi").await;
    for network in ["192.0.2.1", "192.0.2.2"] {
        let browser = browser_at(&limited, network);
        let response = login_with(&browser, &mut auth, None, &Tweaks::default()).await;
        assert_eq!(response.status(), 200);
    }
    let elsewhere = browser_at(&limited, "192.0.2.3");
    let sessions = app.store.count_rows(Table::Sessions).await.unwrap();
    let refused = login_with(&elsewhere, &mut auth, None, &Tweaks::default()).await;
    assert_error(refused, 429, "rate_limited", "third sign-in").await;
    assert_eq!(
        app.store.count_rows(Table::Sessions).await.unwrap(),
        sessions
    );
}

async fn anonymous_ceremony_starts_write_nothing(app: TestApp) {
    let before = snapshot(&app).await;
    for i in 0..30 {
        let browser = browser_at(&app, &format!("192.0.2.{i}"));
        start_login(&browser).await;
        start_enrollment(&browser, &person(&format!("Flood{}", (b'a' + i) as char))).await;
    }
    assert_eq!(snapshot(&app).await, before, "starts wrote rows");
}

/// `text` with one character changed, in the middle.
fn altered(text: &str) -> String {
    let mut bytes = text.as_bytes().to_vec();
    let at = bytes.len() / 2;
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    String::from_utf8(bytes).unwrap()
}

async fn a_sealed_ceremony_cannot_be_altered_or_taken_to_another_issuer(app: TestApp) {
    let mut auth = SoftAuthenticator::new(&app.address);
    let started = start_enrollment(&app, &person("Amaka")).await;
    let credential = auth.create(&started["publicKey"]);
    let before = snapshot(&app).await;
    let mut tampered = started.clone();
    tampered["ceremony_id"] = json!(altered(started["ceremony_id"].as_str().unwrap()));
    let response = finish(
        &app,
        steps::ENROLLMENT_FINISH,
        &tampered,
        credential.clone(),
    )
    .await;
    assert_error(response, 400, "unknown_ceremony", "altered ceremony").await;

    // A ceremony sealed by a deployment with another issuer (even with the
    // same master key) is not this one's.
    let other = app.instance(|_| {}).await;
    let foreign = start_login(&other).await;
    let assertion = auth.get(&foreign["publicKey"]);
    let body = json!({"ceremony_id": foreign["ceremony_id"], "credential": assertion});
    let response = app.post_json(steps::LOGIN_FINISH, &body).await;
    assert_error(
        response,
        400,
        "unknown_ceremony",
        "another issuer's ceremony",
    )
    .await;
    assert_eq!(snapshot(&app).await, before);

    // The genuine one still works, once.
    let response = finish(&app, steps::ENROLLMENT_FINISH, &started, credential).await;
    assert_eq!(response.status(), 201);
}

async fn parallel_finishes_on_two_instances_yield_one_result(app: TestApp) {
    let issuer = app.address.clone();
    let second = app
        .instance(|s| s.issuer = Issuer::parse(&issuer).unwrap())
        .await;
    let mut auth = SoftAuthenticator::new(&issuer);

    let started = start_enrollment(&app, &person("Obinna")).await;
    let body = steps::ceremony_answer(&started, auth.create(&started["publicKey"]));
    let (a, b) = tokio::join!(
        app.post_json(steps::ENROLLMENT_FINISH, &body),
        second.post_json(steps::ENROLLMENT_FINISH, &body),
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [201, 400], "enrollment finished twice");
    assert_eq!(app.citizen_count().await, 1);
    assert_eq!(app.store.count_rows(Table::Sessions).await.unwrap(), 1);

    let login = start_login(&second).await;
    let body = steps::ceremony_answer(&login, auth.get(&login["publicKey"]));
    let (a, b) = tokio::join!(
        app.post_json(steps::LOGIN_FINISH, &body),
        second.post_json(steps::LOGIN_FINISH, &body),
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 400], "sign-in finished twice");
    assert_eq!(app.store.count_rows(Table::Sessions).await.unwrap(), 2);
    // And once more, later, on either: refused.
    let again = second.post_json(steps::LOGIN_FINISH, &body).await;
    assert_error(again, 400, "unknown_ceremony", "replayed sign-in").await;
}

/// Opens a connection and sends a request whose body never arrives whole.
async fn slow_body(address: &str) -> tokio::net::TcpStream {
    let port = address.rsplit(':').next().unwrap();
    let mut stream = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .unwrap();
    let head = format!(
        "POST /api/v1/national-ids/validate HTTP/1.1\r\nHost: localhost:{port}\r\n\
         Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"national_id\""
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
}

async fn a_full_instance_sheds_load_at_once_and_its_probes_stay_up(app: TestApp) {
    let full = app
        .instance(|s| {
            s.overload.max_in_flight = 1;
            s.overload.queue_timeout = Duration::from_millis(200);
            s.overload.body_timeout = Duration::from_secs(2);
        })
        .await;
    let mut slow = slow_body(&full.address).await;
    tokio::time::sleep(Duration::from_millis(100)).await;

    let refused = full.get("/api/v1/regions").await;
    assert!(retry_after(&refused) >= 1);
    assert_error(refused, 503, "overloaded", "no room in flight").await;
    assert_eq!(full.get("/healthz").await.status(), 200);
    assert_eq!(full.get("/readyz").await.status(), 200);

    // The slow body is cut off, with 408, and the room is free again.
    let mut answer = vec![0; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), slow.read(&mut answer))
        .await
        .expect("no answer to the slow body")
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    assert_eq!(full.get("/api/v1/regions").await.status(), 200);
}

/// Holds the write lock of the database (SQLite) or of the throttle table
/// (PostgreSQL) until the returned connection commits.
async fn hold_writes(app: &TestApp) -> Box<dyn std::any::Any + Send> {
    if app.db_url.starts_with("sqlite:") {
        use sqlx::Connection;
        let mut conn = sqlx::SqliteConnection::connect(&app.db_url).await.unwrap();
        sqlx::query("BEGIN IMMEDIATE")
            .execute(&mut conn)
            .await
            .unwrap();
        Box::new(conn)
    } else {
        use sqlx::Connection;
        let mut conn = sqlx::PgConnection::connect(&app.db_url).await.unwrap();
        sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
        sqlx::query("LOCK TABLE throttles IN ACCESS EXCLUSIVE MODE")
            .execute(&mut conn)
            .await
            .unwrap();
        Box::new(conn)
    }
}

async fn a_pool_with_no_free_connection_answers_503_database_unavailable(app: TestApp) {
    let small = app
        .instance(|s| {
            s.database.max_connections = Some(1);
            s.database.acquire_timeout = Duration::from_millis(300);
        })
        .await;
    let lock = hold_writes(&app).await;
    // An activation-code attempt counts itself first: it waits for the
    // lock, holding the pool's only connection; a second one finds no
    // connection free.
    let attempt = |address: &'static str| {
        let client = browser_at(&small, address);
        async move {
            let code = civitas::registry::activation::ActivationCode::generate().to_string();
            client
                .post_json(
                    "/api/v1/enrollment/start",
                    &json!({"activation_code": code, "birth_date": "1990-01-01"}),
                )
                .await
        }
    };
    let waiting = tokio::spawn(attempt("192.0.2.9"));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let refused = attempt("192.0.2.10").await;
    assert!(retry_after(&refused) >= 1);
    assert_error(refused, 503, "database_unavailable", "no free connection").await;
    // Readiness has its own connection.
    assert_eq!(small.get("/readyz").await.status(), 200);
    drop(lock);
    let status = waiting.await.unwrap().status();
    assert!(
        status.as_u16() < 500,
        "the waiting request answered {status}"
    );
}

crate::on_both_backends!(
    a_network_over_its_limit_gets_429_and_others_are_served,
    one_networks_flood_does_not_spend_the_instance_wide_budget,
    wrong_secrets_from_one_network_do_not_lock_the_app_out,
    a_wrong_secret_flood_does_not_spend_the_instance_wide_budget,
    sign_ins_are_limited_per_citizen_from_any_network,
    anonymous_ceremony_starts_write_nothing,
    a_sealed_ceremony_cannot_be_altered_or_taken_to_another_issuer,
    parallel_finishes_on_two_instances_yield_one_result,
    a_full_instance_sheds_load_at_once_and_its_probes_stay_up,
    a_pool_with_no_free_connection_answers_503_database_unavailable,
);
