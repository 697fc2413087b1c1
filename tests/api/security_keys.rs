//! Attacks on the master key: instances or commands running with another
//! master key, and private keys sealed under the raw master key.

use std::time::Duration;

use civitas::domain::client::{Client, SubjectType};
use civitas::domain::{
    AssuranceLevel, Citizen, CitizenId, CitizenStatus, NationalId, PersonName, RegionCode,
};
use civitas::oidc::claims::subject;
use civitas::oidc::signing::Alg;
use civitas::registry::RegistryKeys;
use civitas::registry::activation::ActivationCode;
use civitas::secrets::MasterKey;
use serde_json::Value;

use crate::support::app::TestApp;
use crate::support::cli::{ServerProcess, free_port};
use crate::support::oidc::*;
use crate::support::registry::{
    TEST_MASTER_KEY, civitas, civitas_with_env, execute_sql, select_i64, stderr, stdout,
};

/// Another valid master key: what an instance set up apart would hold.
const OTHER_MASTER_KEY: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";

async fn rows(app: &TestApp, table: &str) -> i64 {
    select_i64(&app.store, &format!("SELECT COUNT(*) FROM {table}")).await
}

/// An ES256 app with a signed-in citizen's fresh tokens.
struct Signed {
    rp: Rp,
    tokens: Value,
}

impl Signed {
    fn access(&self) -> &str {
        self.tokens["access_token"].as_str().unwrap()
    }
}

async fn signed_in(app: &TestApp) -> Signed {
    let rp = register(
        app,
        RpOptions {
            alg: Alg::ES256,
            ..RpOptions::default()
        },
    )
    .await;
    let _auth = signed_in_citizen(app, "Ngozi").await;
    Signed {
        tokens: fresh_tokens(app, &rp).await,
        rp,
    }
}

/// Authorizes again and exchanges the code: tokens signed now.
async fn fresh_tokens(app: &TestApp, rp: &Rp) -> Value {
    let (verifier, challenge) = pkce();
    let code = code(app, rp, &challenge, &[]).await;
    let response = exchange(app, rp, &code, &verifier).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, 200, "token: {text}");
    serde_json::from_str(&text).unwrap()
}

async fn introspect(app: &TestApp, rp: &Rp, token: &str) -> Value {
    reqwest::Client::new()
        .post(app.url("/introspect"))
        .basic_auth(&rp.client_id, rp.secret.as_ref())
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

async fn accepted_everywhere(app: &TestApp, signed: &Signed, case: &str) {
    let info = userinfo(app, signed.access()).await;
    assert_eq!(info.status(), 200, "case {case}: userinfo");
    let answer = introspect(app, &signed.rp, signed.access()).await;
    assert_eq!(
        answer["active"], true,
        "case {case}: introspection {answer}"
    );
}

async fn serve_until_exit(db_url: &str, master_key: &str) -> (bool, String) {
    let dir = std::env::temp_dir().join(format!("civitas-mismatch-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let port = free_port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_civitas"))
        .current_dir(&dir)
        .env("CIVITAS_LISTEN", format!("127.0.0.1:{port}"))
        .env("CIVITAS_DATABASE_URL", db_url)
        .env("CIVITAS_MASTER_KEY", master_key)
        .env("CIVITAS_CONFIG", "/nonexistent/civitas.toml")
        .env("NO_COLOR", "1")
        .arg("serve")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let client = reqwest::Client::new();
    for _ in 0..300 {
        if child.try_wait().unwrap().is_some() {
            let out = child.wait_with_output().unwrap();
            std::fs::remove_dir_all(&dir).unwrap();
            let printed = format!("{}{}", stdout(&out), stderr(&out));
            return (out.status.success(), printed);
        }
        if let Ok(r) = client
            .get(format!("http://127.0.0.1:{port}/readyz"))
            .send()
            .await
            && r.status() == 200
        {
            let _ = child.kill();
            let _ = child.wait();
            std::fs::remove_dir_all(&dir).unwrap();
            panic!("an instance with another master key reported ready");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let _ = child.kill();
    panic!("civitas serve neither exited nor became ready");
}

async fn an_instance_with_another_master_key_refuses_to_start(app: TestApp) {
    let (ok, printed) = serve_until_exit(&app.db_url, OTHER_MASTER_KEY).await;
    assert!(!ok, "exited successfully: {printed}");
    assert!(
        printed.contains("master key does not match"),
        "does not name the problem: {printed}"
    );
    // The instance with the right key keeps working; one with it starts.
    assert_eq!(app.get("/readyz").await.status(), 200);
    let same = ServerProcess::start(
        &std::env::temp_dir(),
        &[
            ("CIVITAS_DATABASE_URL", app.db_url.clone()),
            ("CIVITAS_MASTER_KEY", TEST_MASTER_KEY.to_string()),
            ("CIVITAS_CONFIG", "/nonexistent/civitas.toml".to_string()),
        ],
    )
    .await;
    assert!(same.stop());
}

async fn commands_with_another_master_key_are_refused(app: TestApp) {
    let register = std::env::temp_dir().join(format!("register-{}.csv", uuid::Uuid::new_v4()));
    std::fs::write(
        &register,
        "register_ref,given_name,family_name,birth_date,region\nR-1,Ada,Eze,1980-01-01,CAP\n",
    )
    .unwrap();
    let register = register.to_str().unwrap().to_string();
    let tables = [
        "signing_keys",
        "audit_entries",
        "register_entries",
        "clients",
        "citizens",
    ];
    for args in [
        vec!["keys", "rotate"],
        vec!["audit", "verify"],
        vec!["audit", "checkpoint"],
        vec!["register", "import", &register],
        vec!["demo", "--people", "100"],
        vec![
            "client",
            "create",
            "--name",
            "Land Registry",
            "--redirect-uri",
            "https://land.example/cb",
        ],
    ] {
        let mut before = Vec::new();
        for t in tables {
            before.push(rows(&app, t).await);
        }
        let out = civitas_with_env(&app, &args, &[("CIVITAS_MASTER_KEY", OTHER_MASTER_KEY)]);
        assert!(
            !out.status.success(),
            "{args:?} ran with another master key"
        );
        assert!(
            stderr(&out).contains("master key does not match"),
            "{args:?}: {}",
            stderr(&out)
        );
        let mut after = Vec::new();
        for t in tables {
            after.push(rows(&app, t).await);
        }
        assert_eq!(after, before, "{args:?} changed rows");
    }
    std::fs::remove_file(&register).unwrap();
}

async fn a_database_from_before_check_values_takes_only_its_own_key(app: TestApp) {
    // No check value yet, as after the upgrade: the first process to come
    // must prove its key by opening the signing keys.
    execute_sql(&app.store, "DELETE FROM master_key_checks")
        .await
        .unwrap();
    let (ok, printed) = serve_until_exit(&app.db_url, OTHER_MASTER_KEY).await;
    assert!(!ok, "exited successfully: {printed}");
    assert!(printed.contains("master key does not match"), "{printed}");
    assert_eq!(rows(&app, "master_key_checks").await, 0);

    let out = civitas(&app, &["audit", "verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(rows(&app, "master_key_checks").await, 1);
    let out = civitas_with_env(
        &app,
        &["audit", "verify"],
        &[("CIVITAS_MASTER_KEY", OTHER_MASTER_KEY)],
    );
    assert!(stderr(&out).contains("master key does not match"));
}

fn raw_master_key() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

/// Opens `sealed` (nonce || ciphertext || tag) with AES-256-GCM under the
/// raw master key, as private keys were sealed before.
fn opens_with_raw_master_key(sealed: &[u8], kid: &str) -> bool {
    use aws_lc_rs::aead;
    let key = aead::RandomizedNonceKey::new(&aead::AES_256_GCM, &raw_master_key()).unwrap();
    let (nonce, ciphertext) = sealed.split_at(aead::NONCE_LEN);
    let nonce = aead::Nonce::try_assume_unique_for_key(nonce).unwrap();
    let mut buf = ciphertext.to_vec();
    key.open_in_place(nonce, aead::Aad::from(kid.as_bytes()), &mut buf)
        .is_ok()
}

async fn private_keys_are_not_sealed_under_the_raw_master_key(app: TestApp) {
    let keys = app
        .store
        .published_signing_keys(app.clock.unix())
        .await
        .unwrap();
    assert_eq!(keys.len(), 3);
    for key in &keys {
        assert!(
            !opens_with_raw_master_key(&key.private_sealed, &key.kid),
            "{} ({}) is sealed under the raw master key",
            key.kid,
            key.alg
        );
    }
    // They still sign.
    let signed = signed_in(&app).await;
    accepted_everywhere(&app, &signed, "resealed keys").await;
}

async fn a_key_sealed_the_old_way_is_resealed_at_start_up(app: TestApp) {
    // A key from before: sealed under the raw master key, version 1.
    let new = civitas::oidc::signing::generate(Alg::ES256).unwrap();
    let sealed = {
        use aws_lc_rs::aead;
        let key = aead::RandomizedNonceKey::new(&aead::AES_256_GCM, &raw_master_key()).unwrap();
        let mut buf = new.private_der.clone();
        let nonce = key
            .seal_in_place_append_tag(aead::Aad::from(new.kid.as_bytes()), &mut buf)
            .unwrap();
        [nonce.as_ref(), &buf[..]].concat()
    };
    let hex: String = sealed.iter().map(|b| format!("{b:02x}")).collect();
    let blob = if crate::support::registry::is_sqlite(&app) {
        format!("X'{hex}'")
    } else {
        format!("'\\x{hex}'::bytea")
    };
    let sql = format!(
        "INSERT INTO signing_keys (kid, alg, private_sealed, public_jwk, created_at, retired_at, \
         unpublish_at, seal_version) VALUES ('{}', 'ES256', {blob}, '{}', 1, 2, 4102444800, 1)",
        new.kid, new.public_jwk
    );
    assert_eq!(execute_sql(&app.store, &sql).await.unwrap(), 1);
    // Any command that opens the database with the master key reseals it.
    let out = civitas(&app, &["audit", "verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let row = app
        .store
        .published_signing_keys(app.clock.unix())
        .await
        .unwrap()
        .into_iter()
        .find(|k| k.kid == new.kid)
        .unwrap();
    assert!(!opens_with_raw_master_key(&row.private_sealed, &row.kid));
    let version = select_i64(
        &app.store,
        &format!(
            "SELECT CAST(seal_version AS BIGINT) FROM signing_keys WHERE kid = '{}'",
            new.kid
        ),
    )
    .await;
    assert_eq!(version, 2);
}

/// What apps and letters already hold must not change when the master
/// key's uses change: these values were computed before.
async fn subjects_and_code_hashes_known_before_stay_valid(app: TestApp) {
    let master = MasterKey::from_bytes(raw_master_key());
    let client = Client {
        id: "pinned-client".into(),
        name: "Tax Office".into(),
        secret_hash: None,
        redirect_uris: vec!["https://tax.example/callback".into()],
        post_logout_redirect_uris: vec![],
        subject_type: SubjectType::Pairwise,
        extra_scopes: vec![],
        id_token_alg: "RS256".into(),
        disabled: false,
        created_at: 0,
    };
    let now = time::OffsetDateTime::UNIX_EPOCH;
    let citizen = Citizen {
        id: CitizenId("0b4a4f57-2c64-4c1e-9a6e-3f8b2d1c7e55".parse().unwrap()),
        national_id: NationalId::generate(),
        status: CitizenStatus::Active,
        assurance_level: AssuranceLevel::SelfAsserted,
        given_name: PersonName::parse("Amara").unwrap(),
        family_name: PersonName::parse("Okafor").unwrap(),
        birth_date: time::macros::date!(1990 - 04 - 12),
        region: RegionCode::parse("CAP-H").unwrap(),
        created_at: now,
        updated_at: now,
    };
    let pairwise = master.derive("civitas pairwise subject v1");
    assert_eq!(subject(&pairwise, &client, &citizen), PINNED_SUBJECT);
    let pinned_code = ActivationCode::parse(PINNED_CODE).unwrap();
    assert_eq!(
        RegistryKeys::new(&master).activation_hash(&pinned_code),
        PINNED_CODE_HASH
    );

    // The server derives them the same way: the `sub` an app sees, and the
    // hash kept of a letter's code.
    let rp = register(&app, RpOptions::default()).await;
    let mut auth = crate::support::passkeys::SoftAuthenticator::new(&app.address);
    let national_id = crate::support::passkeys::enroll(&app, &mut auth, "Amara").await;
    let (verifier, challenge) = pkce();
    let code = code(&app, &rp, &challenge, &[]).await;
    let tokens: Value = exchange(&app, &rp, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    let citizen = app
        .store
        .find_citizen_by_national_id(&NationalId::parse(&national_id).unwrap())
        .await
        .unwrap()
        .unwrap();
    let client = app.store.find_client(&rp.client_id).await.unwrap().unwrap();
    assert_eq!(
        jwt_claims(tokens["id_token"].as_str().unwrap())["sub"],
        subject(&pairwise, &client, &citizen)
    );
    let admin = crate::support::registry::admin(&app).await;
    let letter = crate::support::registry::one_resident(
        &admin,
        ["R-9", "Ada", "Eze", "1980-01-01", "CAP", ""],
    )
    .await;
    let hash =
        RegistryKeys::new(&master).activation_hash(&ActivationCode::parse(&letter.code).unwrap());
    let stored = select_i64(
        &app.store,
        &format!("SELECT COUNT(*) FROM register_entries WHERE code_hash = '{hash}'"),
    )
    .await;
    assert_eq!(
        stored, 1,
        "the letter's code is not kept as its pinned hash"
    );
}

/// Computed with the code as it was before sealing got its own key.
const PINNED_SUBJECT: &str = "j8OuxuXXihJb_uvbpBLelXU0HJWvbH1IwlV5w8Dv82g";
const PINNED_CODE: &str = "RJ34-TCKC-Z3GK-3";
const PINNED_CODE_HASH: &str = "ce4c8961105e2484de6b7a7100e219a1e74a60ad6369431a56cbd40ab519f4ad";

crate::on_both_backends!(
    an_instance_with_another_master_key_refuses_to_start,
    a_database_from_before_check_values_takes_only_its_own_key,
    commands_with_another_master_key_are_refused,
    private_keys_are_not_sealed_under_the_raw_master_key,
    a_key_sealed_the_old_way_is_resealed_at_start_up,
    subjects_and_code_hashes_known_before_stay_valid,
);
