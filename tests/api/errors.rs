//! Bad requests get a 4xx with an error code, never a 5xx, and change nothing.

use crate::support::app::{TestApp, assert_error};

const VALIDATE: &str = "/api/v1/national-ids/validate";

async fn malformed_requests_get_4xx_with_codes(app: TestApp) {
    let before = app.citizen_count().await;
    let raw = |body: Vec<u8>, content_type: &'static str| {
        app.client
            .post(app.url(VALIDATE))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let cases: Vec<(&str, reqwest::Response, u16, &str)> = vec![
        (
            "malformed JSON",
            raw(b"{\"national_id\": ".to_vec(), "application/json")
                .await
                .unwrap(),
            400,
            "invalid_json",
        ),
        (
            "missing field",
            raw(b"{}".to_vec(), "application/json").await.unwrap(),
            400,
            "invalid_request",
        ),
        (
            "wrong field type",
            raw(b"{\"national_id\": 5}".to_vec(), "application/json")
                .await
                .unwrap(),
            400,
            "invalid_request",
        ),
        (
            "wrong content type",
            raw(b"national_id=1".to_vec(), "text/plain").await.unwrap(),
            415,
            "unsupported_media_type",
        ),
        (
            "oversized body",
            raw(
                format!("{{\"national_id\": \"{}\"}}", "9".repeat(70 * 1024)).into_bytes(),
                "application/json",
            )
            .await
            .unwrap(),
            413,
            "payload_too_large",
        ),
        (
            "unknown API route",
            app.get("/api/v1/does-not-exist").await,
            404,
            "not_found",
        ),
        (
            "wrong method",
            app.get(VALIDATE).await,
            405,
            "method_not_allowed",
        ),
    ];
    for (case, response, status, code) in cases {
        assert_error(response, status, code, case).await;
    }
    assert_eq!(app.citizen_count().await, before, "nothing stored");
}

async fn unknown_pages_get_an_html_404(app: TestApp) {
    let response = app.get("/no/such/page").await;
    assert_eq!(response.status(), 404);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(
        response
            .text()
            .await
            .unwrap()
            .contains("There is nothing at /no/such/page")
    );
}

async fn oversized_body_without_length_is_refused(app: TestApp) {
    // A chunked body has no Content-Length: the limit must hold while streaming.
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        (0..80).map(|_| Ok(vec![b' '; 1024])).collect();
    let body = reqwest::Body::wrap_stream(futures::stream::iter(chunks));
    let response = app
        .client
        .post(app.url(VALIDATE))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_error(response, 413, "payload_too_large", "chunked oversized body").await;
}

crate::on_both_backends!(
    malformed_requests_get_4xx_with_codes,
    unknown_pages_get_an_html_404,
    oversized_body_without_length_is_refused,
);
