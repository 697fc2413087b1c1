//! Liveness, readiness and metrics.

use crate::support::app::TestApp;

async fn health_and_readiness_answer_200(app: TestApp) {
    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    assert!(health.headers().contains_key("x-request-id"));
    let ready = app.get("/readyz").await;
    assert_eq!(ready.status(), 200);
    let body: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(body["status"], "ready");
}

async fn readiness_is_503_when_the_database_is_gone(app: TestApp) {
    app.store.close().await;
    let ready = app.get("/readyz").await;
    crate::support::app::assert_error(ready, 503, "not_ready", "closed pool").await;
    // Liveness does not depend on the database.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

async fn metrics_count_requests_by_route_and_status(app: TestApp) {
    app.get("/healthz").await;
    app.get("/api/v1/no-such-thing").await;
    let response = app.metrics().await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains(
            r#"civitas_http_requests_total{method="GET",route="/healthz",status="200"} 1"#
        ),
        "{text}"
    );
    assert!(
        text.contains(
            r#"civitas_http_requests_total{method="GET",route="unmatched",status="404"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("civitas_http_request_duration_seconds_bucket"));
    assert!(
        text.contains(r#"civitas_db_pool_connections{state="max"} 16"#),
        "{text}"
    );
}

async fn request_id_is_echoed_when_plain(app: TestApp) {
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "abc-123")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "abc-123");
    let response = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "bad id with spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(response.headers()["x-request-id"], "bad id with spaces");
}

async fn home_page_and_stylesheet_are_served(app: TestApp) {
    let home = app.get("/").await;
    assert_eq!(home.status(), 200);
    assert!(
        home.text()
            .await
            .unwrap()
            .contains("national digital identity")
    );
    let css = app.get("/static/civitas.css").await;
    assert_eq!(css.status(), 200);
    assert!(
        css.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/css")
    );
}

crate::on_both_backends!(
    health_and_readiness_answer_200,
    readiness_is_503_when_the_database_is_gone,
    metrics_count_requests_by_route_and_status,
    request_id_is_echoed_when_plain,
    home_page_and_stylesheet_are_served,
);
