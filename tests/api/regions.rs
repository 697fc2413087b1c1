//! `GET /api/v1/regions`.

use crate::support::app::TestApp;

async fn regions_are_listed_with_parents(app: TestApp) {
    let response = app.get("/api/v1/regions").await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = response.json().await.unwrap();
    let regions = body["regions"].as_array().unwrap();
    let sample = civitas::domain::region::parse_regions_csv(
        civitas::domain::region::SAMPLE_REGIONS_CSV.as_bytes(),
    )
    .unwrap();
    assert_eq!(regions.len(), sample.len());
    let harbour = regions.iter().find(|r| r["code"] == "CAP-H").unwrap();
    assert_eq!(harbour["name"], "Harbour");
    assert_eq!(harbour["parent"], "CAP");
    let capital = regions.iter().find(|r| r["code"] == "CAP").unwrap();
    assert!(capital["parent"].is_null());
}

crate::on_both_backends!(regions_are_listed_with_parents);
