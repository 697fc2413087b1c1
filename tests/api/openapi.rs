//! `openapi.yaml` describes exactly the JSON endpoints the server has.

use std::collections::BTreeSet;

use crate::support::app::TestApp;

const METHODS: [&str; 6] = ["get", "post", "put", "patch", "delete", "options"];

fn documented() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml"))
        .expect("openapi.yaml is missing");
    let doc: serde_json::Value = serde_yaml_ng::from_str(&text).expect("openapi.yaml is not YAML");
    assert!(
        doc["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1")),
        "openapi.yaml must be OpenAPI 3.1"
    );
    let paths = doc["paths"].as_object().expect("openapi.yaml has no paths");
    let mut out = BTreeSet::new();
    for (path, item) in paths {
        let item = item.as_object().expect("path item is not a map");
        for method in item.keys().filter(|k| METHODS.contains(&k.as_str())) {
            let op = &item[method];
            assert!(
                op["responses"].is_object(),
                "{method} {path} documents no responses"
            );
            assert!(op["summary"].is_string(), "{method} {path} has no summary");
            out.insert((method.clone(), path.clone()));
        }
    }
    out
}

#[test]
fn openapi_matches_the_routes() {
    let routes: BTreeSet<_> = civitas::http::api_routes()
        .endpoints()
        .into_iter()
        .collect();
    let documented = documented();
    let undocumented: Vec<_> = routes.difference(&documented).collect();
    let missing: Vec<_> = documented.difference(&routes).collect();
    assert!(
        undocumented.is_empty(),
        "routes not in openapi.yaml: {undocumented:?}"
    );
    assert!(
        missing.is_empty(),
        "openapi.yaml documents routes that do not exist: {missing:?}"
    );
}

/// Every documented endpoint is really served (not the fallback 404).
async fn documented_routes_are_served(app: TestApp) {
    for (method, path) in documented() {
        if path.contains('{') {
            continue;
        }
        let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let response = app
            .client
            .request(method.clone(), app.url(&path))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body = response.text().await.unwrap_or_default();
        assert!(
            !(status == 404 && body.contains("There is nothing at")) && status != 405,
            "{method} {path} is documented but not served ({status})"
        );
    }
}

crate::on_both_backends!(documented_routes_are_served);
