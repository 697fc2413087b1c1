//! Two `civitas serve` processes on one PostgreSQL database behave as one
//! service: a ceremony started on one finishes on the other.

use serde_json::{Value, json};

use civitas_load::steps;

use crate::support::app::browser_client;
use crate::support::cli::{ServerProcess, TEST_MASTER_KEY, free_port};
use crate::support::db::{Backend, TestDb, skipped};
use crate::support::passkeys::{Device, SoftAuthenticator, person};

async fn post(client: &reqwest::Client, url: String, body: &Value) -> (u16, Value) {
    let response = client.post(url).json(body).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn postgres_ceremonies_finish_on_another_instance() {
    if skipped(Backend::Postgres) {
        return;
    }
    let db = TestDb::create(Backend::Postgres).await;
    let dir = std::env::temp_dir().join(format!("civitas-instances-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    // Both instances sit behind one public address (the issuer) and hold
    // the master key the database was set up with.
    let issuer = format!("http://localhost:{}", free_port());
    let envs = [
        ("CIVITAS_DATABASE_URL", db.url.clone()),
        ("CIVITAS_ISSUER", issuer.clone()),
        ("CIVITAS_MASTER_KEY", TEST_MASTER_KEY.to_string()),
    ];
    let one = ServerProcess::start(&dir, &envs).await;
    let two = ServerProcess::start(&dir, &envs).await;
    let at = |server: &ServerProcess, path: &str| format!("http://localhost:{}{path}", server.port);
    let client = browser_client(&issuer);
    let mut auth = SoftAuthenticator::new(&issuer);

    let (status, started) = post(
        &client,
        at(&one, "/api/v1/enrollment/start"),
        &person("Uche"),
    )
    .await;
    assert_eq!(status, 200);
    let credential = auth.create(&started["publicKey"]);
    let body = steps::ceremony_answer(&started, credential);
    let (status, enrolled) = post(&client, at(&two, "/api/v1/enrollment/finish"), &body).await;
    assert_eq!(status, 201, "{enrolled}");
    // The same ceremony cannot be finished again on the first instance.
    let (status, again) = post(&client, at(&one, "/api/v1/enrollment/finish"), &body).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("unknown_ceremony"))
    );

    let (status, login) = post(&client, at(&two, "/api/v1/login/start"), &json!({})).await;
    assert_eq!(status, 200);
    let assertion = auth.get(&login["publicKey"]);
    let body = steps::ceremony_answer(&login, assertion);
    let (status, signed_in) = post(&client, at(&one, "/api/v1/login/finish"), &body).await;
    assert_eq!(status, 200, "{signed_in}");
    assert_eq!(signed_in["national_id"], enrolled["national_id"]);

    assert!(one.stop());
    assert!(two.stop());
    std::fs::remove_dir_all(&dir).unwrap();
    db.drop_db().await;
}
