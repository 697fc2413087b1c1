//! Attacks on the signing keys and the master key: a key that is no longer
//! published (or revoked in an emergency) still trusted, a new key signing
//! before relying parties can know it, concurrent rotations leaving an
//! algorithm without a key, and instances or commands running with another
//! master key.

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
use civitas::store::Table;
use serde_json::Value;

use crate::support::app::TestApp;
use crate::support::cli::{ServerProcess, free_port};
use crate::support::oidc::*;
use crate::support::registry::{
    TEST_MASTER_KEY, audit_entries, catch_up_with_system_clock, civitas, civitas_with_env, count,
    execute_sql, select_i64, stderr, stdout,
};

/// Another valid master key: what an instance set up apart would hold.
const OTHER_MASTER_KEY: &str = "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8";

/// How long an instance may keep trusting what it read of the keys.
const REFRESH: Duration = Duration::from_millis(1100);

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

    fn access_kid(&self) -> String {
        kid_of(self.access())
    }
}

fn kid_of(token: &str) -> String {
    jsonwebtoken::decode_header(token).unwrap().kid.unwrap()
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

async fn jwks_kids(app: &TestApp) -> Vec<String> {
    let jwks: Value = app.get("/jwks.json").await.json().await.unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
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

async fn refused_everywhere(app: &TestApp, signed: &Signed, case: &str) {
    let info = userinfo(app, signed.access()).await;
    assert_eq!(info.status(), 401, "case {case}: userinfo");
    let answer = introspect(app, &signed.rp, signed.access()).await;
    assert_eq!(
        answer,
        serde_json::json!({"active": false}),
        "case {case}: introspection"
    );
}

async fn a_token_of_a_key_unpublished_elsewhere_is_refused_within_a_second(app: TestApp) {
    let signed = signed_in(&app).await;
    accepted_everywhere(&app, &signed, "published").await;

    // Another instance (or whoever holds the database) takes the key out
    // of JWKS; this instance has seen and trusted it before.
    let kid = signed.access_kid();
    let sql = format!("UPDATE signing_keys SET unpublish_at = 1 WHERE kid = '{kid}'");
    assert_eq!(execute_sql(&app.store, &sql).await.unwrap(), 1);
    tokio::time::sleep(REFRESH).await;

    assert!(!jwks_kids(&app).await.contains(&kid));
    refused_everywhere(&app, &signed, "unpublished").await;
}

async fn a_key_planted_in_the_database_is_neither_published_nor_trusted(app: TestApp) {
    let signed = signed_in(&app).await;
    // The holder of the database adds a key of their own (they cannot seal
    // it under the master key), due to sign only in a year.
    let planted = civitas::oidc::signing::generate(Alg::ES256).unwrap();
    let blob = if crate::support::registry::is_sqlite(&app) {
        "X'00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'"
    } else {
        "'\\x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'::bytea"
    };
    let sql = format!(
        "INSERT INTO signing_keys (kid, alg, private_sealed, public_jwk, created_at, \
         activates_at, seal_version) VALUES ('{}', 'ES256', {blob}, '{}', {}, {}, 2)",
        planted.kid,
        planted.public_jwk,
        app.clock.unix(),
        app.clock.unix() + 365 * 86400
    );
    assert_eq!(execute_sql(&app.store, &sql).await.unwrap(), 1);
    // A real key of ours whose public key they swap for their own.
    let swapped = civitas::oidc::signing::generate(Alg::ES256).unwrap();
    let kid = signed.access_kid();
    let mut jwk = swapped.public_jwk.clone();
    jwk["kid"] = serde_json::json!(kid);
    let sql = format!("UPDATE signing_keys SET public_jwk = '{jwk}' WHERE kid = '{kid}'");
    assert_eq!(execute_sql(&app.store, &sql).await.unwrap(), 1);
    tokio::time::sleep(REFRESH).await;

    let published = jwks_kids(&app).await;
    assert!(
        !published.contains(&planted.kid),
        "the planted key is published"
    );
    assert!(!published.contains(&kid), "the swapped key is published");
    // Tokens they sign with either are refused.
    let claims = jwt_claims(signed.access());
    for (key_id, der) in [
        (planted.kid.as_str(), &planted.private_der),
        (kid.as_str(), &swapped.private_der),
    ] {
        let forged = civitas::oidc::signing::SigningKey::from_der(key_id, Alg::ES256, der)
            .unwrap()
            .sign("at+jwt", &claims)
            .unwrap();
        let forged = Signed {
            rp: signed.rp.clone(),
            tokens: serde_json::json!({ "access_token": forged }),
        };
        refused_everywhere(&app, &forged, key_id).await;
    }
}

async fn a_revoked_key_is_refused_within_a_second_and_its_successor_signs_at_once(app: TestApp) {
    let signed = signed_in(&app).await;
    accepted_everywhere(&app, &signed, "before revocation").await;
    let kid = signed.access_kid();
    let keys_before = rows(&app, "signing_keys").await;

    let out = civitas(&app, &["keys", "revoke", &kid]);
    assert!(out.status.success(), "keys revoke: {}", stderr(&out));
    let answer: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(answer["revoked"], kid.as_str(), "{answer}");
    tokio::time::sleep(REFRESH).await;

    refused_everywhere(&app, &signed, "revoked").await;
    assert!(!jwks_kids(&app).await.contains(&kid), "still in JWKS");

    // ES256 had one key: a new one signs at once, without the wait of a
    // rotation, and is published.
    assert_eq!(rows(&app, "signing_keys").await, keys_before + 1);
    let after = fresh_tokens(&app, &signed.rp).await;
    let new_kid = kid_of(after["access_token"].as_str().unwrap());
    assert_ne!(new_kid, kid);
    assert!(jwks_kids(&app).await.contains(&new_kid));
    let info = userinfo(&app, after["access_token"].as_str().unwrap()).await;
    assert_eq!(info.status(), 200);

    let revoked = audit_entries(&app, "keys.revoke").await;
    assert_eq!(revoked.len(), 1);
    assert_eq!(revoked[0].target, format!("signing_key:{kid}"));

    // Revoking it again, or a key that does not exist, changes nothing.
    for (case, target) in [("again", kid.as_str()), ("unknown", "no-such-kid")] {
        let keys = rows(&app, "signing_keys").await;
        let entries = count(&app, Table::AuditEntries).await;
        let out = civitas(&app, &["keys", "revoke", target]);
        assert!(!out.status.success(), "case {case}: revoke passed");
        assert!(
            stderr(&out).contains(target),
            "case {case}: {}",
            stderr(&out)
        );
        assert_eq!(rows(&app, "signing_keys").await, keys, "case {case}");
        assert_eq!(
            count(&app, Table::AuditEntries).await,
            entries,
            "case {case}"
        );
    }
}

async fn a_rotated_key_is_published_before_it_signs(app: TestApp) {
    // The command line dates the rotation by the system clock.
    catch_up_with_system_clock(&app);
    let signed = signed_in(&app).await;
    let old_kid = signed.access_kid();

    let before = jwks_kids(&app).await;
    let out = civitas(&app, &["keys", "rotate"]);
    assert!(out.status.success(), "keys rotate: {}", stderr(&out));
    tokio::time::sleep(REFRESH).await;
    let new_kids: Vec<String> = jwks_kids(&app)
        .await
        .into_iter()
        .filter(|k| !before.contains(k))
        .collect();
    assert_eq!(new_kids.len(), 3, "the new keys are published at once");

    // Nine minutes later the new keys are known to every cache, but the old
    // key still signs.
    app.clock.advance(time::Duration::minutes(9));
    let during = fresh_tokens(&app, &signed.rp).await;
    assert_eq!(
        kid_of(during["access_token"].as_str().unwrap()),
        old_kid,
        "a new key signed before the wait was over"
    );
    assert_eq!(kid_of(during["id_token"].as_str().unwrap()), old_kid);

    // After ten minutes the new key signs; the old one stays published.
    app.clock.advance(time::Duration::minutes(2));
    let after = fresh_tokens(&app, &signed.rp).await;
    let new_kid = kid_of(after["access_token"].as_str().unwrap());
    assert!(
        new_kids.contains(&new_kid),
        "{new_kid} not one of {new_kids:?}"
    );
    assert!(jwks_kids(&app).await.contains(&old_kid));
    let during = Signed {
        rp: signed.rp,
        tokens: during,
    };
    accepted_everywhere(&app, &during, "old key after rotation").await;
}

async fn revoking_during_a_rotation_keeps_exactly_one_key_signing(app: TestApp) {
    catch_up_with_system_clock(&app);
    let signed = signed_in(&app).await;
    let current = signed.access_kid();
    let es256 = |kid: &str| {
        format!("SELECT COUNT(*) FROM signing_keys WHERE kid = '{kid}' AND alg = 'ES256'")
    };

    // A rotation waits; the signing key is revoked meanwhile: the waiting
    // key signs at once, and no key is made.
    let out = civitas(&app, &["keys", "rotate"]);
    assert!(out.status.success(), "keys rotate: {}", stderr(&out));
    let rotated: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let mut waiting = String::new();
    for kid in rotated["new_kids"].as_array().unwrap() {
        let kid = kid.as_str().unwrap();
        if select_i64(&app.store, &es256(kid)).await == 1 {
            waiting = kid.to_string();
        }
    }
    let keys = rows(&app, "signing_keys").await;
    let out = civitas(&app, &["keys", "revoke", &current]);
    assert!(out.status.success(), "keys revoke: {}", stderr(&out));
    let answer: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    assert_eq!(answer["signing"], waiting.as_str(), "{answer}");
    assert_eq!(answer["generated"], false, "{answer}");
    assert_eq!(rows(&app, "signing_keys").await, keys);
    let now = fresh_tokens(&app, &signed.rp).await;
    assert_eq!(kid_of(now["access_token"].as_str().unwrap()), waiting);

    // Another rotation waits; this time the waiting key is revoked: the
    // signing key goes on signing after the wait.
    let out = civitas(&app, &["keys", "rotate"]);
    assert!(out.status.success(), "keys rotate: {}", stderr(&out));
    let rotated: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    for kid in rotated["new_kids"].as_array().unwrap() {
        let kid = kid.as_str().unwrap();
        if select_i64(&app.store, &es256(kid)).await == 1 {
            let out = civitas(&app, &["keys", "revoke", kid]);
            assert!(out.status.success(), "keys revoke: {}", stderr(&out));
            let answer: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
            assert_eq!(answer["signing"], waiting.as_str(), "{answer}");
        }
    }
    app.clock.advance(time::Duration::minutes(11));
    let later = fresh_tokens(&app, &signed.rp).await;
    assert_eq!(kid_of(later["access_token"].as_str().unwrap()), waiting);
    let live = select_i64(
        &app.store,
        "SELECT COUNT(*) FROM signing_keys WHERE alg = 'ES256' AND revoked_at IS NULL \
         AND retired_at IS NULL",
    )
    .await;
    assert_eq!(live, 1);
}

async fn concurrent_rotations_leave_one_key_per_algorithm(app: TestApp) {
    catch_up_with_system_clock(&app);
    let signed = signed_in(&app).await;
    // Operators rotate at the same moment, again and again: each round,
    // every algorithm must keep exactly one key that no later key retires.
    for round in 0..6 {
        let runs: Vec<_> = (0..4)
            .map(|_| {
                std::process::Command::new(env!("CARGO_BIN_EXE_civitas"))
                    .args(["keys", "rotate"])
                    .current_dir(std::env::temp_dir())
                    .env("CIVITAS_DATABASE_URL", &app.db_url)
                    .env("CIVITAS_MASTER_KEY", TEST_MASTER_KEY)
                    .env("CIVITAS_CONFIG", "/nonexistent/civitas.toml")
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for run in runs {
            let out = run.wait_with_output().unwrap();
            assert!(out.status.success(), "round {round}: {}", stderr(&out));
        }
        for alg in Alg::ALL {
            let sql = format!(
                "SELECT COUNT(*) FROM signing_keys WHERE alg = '{alg}' AND retired_at IS NULL"
            );
            let newest = select_i64(&app.store, &sql).await;
            assert_eq!(newest, 1, "round {round}: {alg} keys that nothing retires");
        }
    }
    // Tokens are signed now and after the wait, by one key each time.
    for wait in [0, 11] {
        app.clock.advance(time::Duration::minutes(wait));
        let tokens = fresh_tokens(&app, &signed.rp).await;
        assert_eq!(
            userinfo(&app, tokens["access_token"].as_str().unwrap())
                .await
                .status(),
            200
        );
    }
}

/// Runs `civitas serve` and waits for it to exit; fails if it becomes ready.
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
        vec!["keys", "revoke", "any-kid"],
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
    a_token_of_a_key_unpublished_elsewhere_is_refused_within_a_second,
    a_key_planted_in_the_database_is_neither_published_nor_trusted,
    a_revoked_key_is_refused_within_a_second_and_its_successor_signs_at_once,
    a_rotated_key_is_published_before_it_signs,
    revoking_during_a_rotation_keeps_exactly_one_key_signing,
    concurrent_rotations_leave_one_key_per_algorithm,
    an_instance_with_another_master_key_refuses_to_start,
    a_database_from_before_check_values_takes_only_its_own_key,
    commands_with_another_master_key_are_refused,
    private_keys_are_not_sealed_under_the_raw_master_key,
    a_key_sealed_the_old_way_is_resealed_at_start_up,
    subjects_and_code_hashes_known_before_stay_valid,
);
