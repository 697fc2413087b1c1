//! Attacks on the audit log by whoever holds the database: rewriting
//! entries and re-hashing the chain, emptying the table, and rewriting the
//! whole log after a checkpoint was published.

use civitas::audit::{AuditEntry, GENESIS_HASH, entry_hash};
use civitas::oidc::signing::{Alg, generate};
use civitas::staff::Role;
use civitas::store::Table;
use serde_json::{Value, json};

use crate::support::app::TestApp;
use crate::support::registry::*;

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// Some history: staff made, a citizen suspended and reinstated.
async fn history(app: &TestApp) {
    let registrar = registrar(app, "Rita", &["CAP"]).await;
    let citizen = citizen_in(app, "Kelechi", "CAP-H").await;
    for (action, reason) in [("suspend", "a"), ("reinstate", "b")] {
        registrar
            .post_ok(
                &desk(&citizen.national_id, action),
                &json!({"reason": reason}),
                200,
            )
            .await;
    }
    invitation_token(app, Role::Auditor, &[]).await;
}

/// What the holder of the database does first: switch off the triggers
/// that keep entries append-only.
async fn disable_append_only(app: &TestApp) {
    let statements: &[&str] = if is_sqlite(app) {
        &[
            "DROP TRIGGER audit_entries_no_update",
            "DROP TRIGGER audit_entries_no_delete",
        ]
    } else {
        &["ALTER TABLE audit_entries DISABLE TRIGGER audit_entries_no_change"]
    };
    for sql in statements {
        execute_sql(&app.store, sql).await.unwrap();
    }
}

/// Replaces every entry from `from` on with `entries` (same sequence
/// numbers) and points the head at the last one.
async fn write_back(app: &TestApp, entries: &[AuditEntry], from: i64) {
    for e in entries.iter().filter(|e| e.seq >= from) {
        let sql = format!(
            "UPDATE audit_entries SET actor = {}, action = {}, target = {}, details = {}, \
             prev_hash = {}, hash = {} WHERE seq = {}",
            quote(&e.actor),
            quote(&e.action),
            quote(&e.target),
            quote(&e.details),
            quote(&e.prev_hash),
            quote(&e.hash),
            e.seq
        );
        assert_eq!(execute_sql(&app.store, &sql).await.unwrap(), 1);
    }
    let last = entries.last().unwrap();
    let sql = format!(
        "UPDATE audit_head SET seq = {}, hash = {} WHERE id = 1",
        last.seq,
        quote(&last.hash)
    );
    assert_eq!(execute_sql(&app.store, &sql).await.unwrap(), 1);
}

/// Re-chains `entries` from `from` on with plain SHA-256, as anyone can.
fn rehash(entries: &mut [AuditEntry], from: i64) {
    let mut prev = GENESIS_HASH.to_string();
    for e in entries.iter_mut() {
        if e.seq >= from {
            e.prev_hash = prev.clone();
            e.hash = entry_hash(
                e.seq,
                e.at,
                &e.actor,
                &e.action,
                &e.target,
                &e.details,
                &e.prev_hash,
            );
        }
        prev.clone_from(&e.hash);
    }
}

/// The registrar's reason for suspending, changed to something else.
fn forge_reason(entries: &mut [AuditEntry]) -> i64 {
    let e = entries
        .iter_mut()
        .find(|e| e.action == "citizen.suspend")
        .expect("a suspension in the log");
    assert!(e.details.contains("\"a\""), "{}", e.details);
    e.details = e.details.replace("\"a\"", "\"court order 17\"");
    e.seq
}

fn verify(app: &TestApp, args: &[&str]) -> (bool, String, String) {
    let mut all = vec!["audit", "verify"];
    all.extend_from_slice(args);
    let out = civitas(app, &all);
    (out.status.success(), stdout(&out), stderr(&out))
}

fn checkpoint(app: &TestApp) -> std::path::PathBuf {
    let out = civitas(app, &["audit", "checkpoint"]);
    assert!(out.status.success(), "audit checkpoint: {}", stderr(&out));
    let jws = stdout(&out).trim().to_string();
    let file = std::env::temp_dir().join(format!("checkpoint-{}.jwt", uuid::Uuid::new_v4()));
    std::fs::write(&file, &jws).unwrap();
    file
}

async fn a_log_rehashed_with_sha256_is_caught_by_verify(app: TestApp) {
    history(&app).await;
    let (ok, _, err) = verify(&app, &[]);
    assert!(ok, "untouched: {err}");

    disable_append_only(&app).await;
    let mut entries = all_audit_entries(&app).await;
    let forged = forge_reason(&mut entries);
    rehash(&mut entries, forged);
    write_back(&app, &entries, forged).await;

    let (ok, out, err) = verify(&app, &[]);
    assert!(!ok, "verify passed a rewritten log: {out}");
    assert!(
        err.contains(&format!("entry {forged} ")),
        "does not name entry {forged}: {err}"
    );
}

async fn a_log_rewritten_whole_after_a_checkpoint_is_caught_by_it(app: TestApp) {
    history(&app).await;
    let file = checkpoint(&app);
    let path = file.to_str().unwrap();
    let jws = std::fs::read_to_string(&file).unwrap();

    // A compact JWS over the count and the head, signed with a published
    // ES256 key.
    let header = jsonwebtoken::decode_header(&jws).unwrap();
    assert_eq!(header.alg, jsonwebtoken::Algorithm::ES256);
    assert_eq!(header.typ.as_deref(), Some("audit-checkpoint+jwt"));
    let jwks: Value = app.get("/jwks.json").await.json().await.unwrap();
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .any(|k| k["kid"] == header.kid.as_deref().unwrap() && k["alg"] == "ES256")
    );
    let claims = crate::support::oidc::jwt_claims(&jws);
    let entries = all_audit_entries(&app).await;
    let total = count(&app, Table::AuditEntries).await;
    assert_eq!(claims["seq"], total, "{claims}");
    assert_eq!(claims["hash"], entries.last().unwrap().hash.as_str());
    assert!(
        claims["iat"].is_i64() && claims["iss"].is_string(),
        "{claims}"
    );

    let (ok, out, err) = verify(&app, &["--checkpoint", path]);
    assert!(ok, "untouched: {err}");
    assert!(out.contains("checkpoint"), "{out}");

    // The log goes on after the checkpoint and still extends it.
    invitation_token(&app, Role::Auditor, &[]).await;
    let (ok, _, err) = verify(&app, &["--checkpoint", path]);
    assert!(ok, "appended after the checkpoint: {err}");

    // The holder of the database rewrites history and re-hashes every
    // entry, moving the start of the keyed part past the end, so that the
    // log looks as if it had all been written before keying.
    disable_append_only(&app).await;
    let mut entries = all_audit_entries(&app).await;
    forge_reason(&mut entries);
    rehash(&mut entries, 1);
    write_back(&app, &entries, 1).await;
    let sql = "UPDATE audit_head SET keyed_from = seq + 1 WHERE id = 1";
    assert_eq!(execute_sql(&app.store, sql).await.unwrap(), 1);

    let (ok, out, err) = verify(&app, &["--checkpoint", path]);
    assert!(!ok, "a rewritten log passed the checkpoint: {out}");
    assert!(
        err.contains("does not extend the checkpoint"),
        "does not say why: {err}"
    );
    std::fs::remove_file(&file).unwrap();
}

async fn a_log_cut_short_after_a_checkpoint_is_caught_by_it(app: TestApp) {
    history(&app).await;
    let file = checkpoint(&app);
    let path = file.to_str().unwrap();
    let total = count(&app, Table::AuditEntries).await;

    disable_append_only(&app).await;
    let sql = format!("DELETE FROM audit_entries WHERE seq >= {}", total - 1);
    assert_eq!(execute_sql(&app.store, &sql).await.unwrap(), 2);
    let entries = all_audit_entries(&app).await;
    write_back(&app, &entries, total).await;

    let (ok, out, err) = verify(&app, &["--checkpoint", path]);
    assert!(!ok, "a shortened log passed the checkpoint: {out}");
    assert!(err.contains("does not extend the checkpoint"), "{err}");
    std::fs::remove_file(&file).unwrap();
}

async fn a_forged_checkpoint_is_refused(app: TestApp) {
    history(&app).await;
    let file = checkpoint(&app);
    let jws = std::fs::read_to_string(&file).unwrap();
    let parts: Vec<&str> = jws.split('.').collect();
    assert_eq!(parts.len(), 3);
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;

    // Claims changed under the same signature.
    let mut claims = crate::support::oidc::jwt_claims(&jws);
    claims["seq"] = json!(1);
    let changed = format!(
        "{}.{}.{}",
        parts[0],
        b64.encode(claims.to_string()),
        parts[2]
    );
    // Signed by a key this database never had, under a kid it has.
    let stranger = generate(Alg::ES256).unwrap();
    let key = civitas::oidc::signing::SigningKey::from_der(
        jsonwebtoken::decode_header(&jws)
            .unwrap()
            .kid
            .as_deref()
            .unwrap(),
        Alg::ES256,
        &stranger.private_der,
    )
    .unwrap();
    let foreign = key
        .sign(
            "audit-checkpoint+jwt",
            &crate::support::oidc::jwt_claims(&jws),
        )
        .unwrap();
    // Signed by a key nobody knows.
    let unknown = civitas::oidc::signing::SigningKey::from_der(
        &stranger.kid,
        Alg::ES256,
        &stranger.private_der,
    )
    .unwrap()
    .sign(
        "audit-checkpoint+jwt",
        &crate::support::oidc::jwt_claims(&jws),
    )
    .unwrap();
    // Signed by a key planted in the database (not sealed under the master
    // key).
    let planted = generate(Alg::ES256).unwrap();
    let blob = if is_sqlite(&app) {
        "X'00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'"
    } else {
        "'\\x00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff'::bytea"
    };
    let sql = format!(
        "INSERT INTO signing_keys (kid, alg, private_sealed, public_jwk, created_at, \
         retired_at, unpublish_at) VALUES ('{}', 'ES256', {blob}, '{}', 1, 1, 1)",
        planted.kid, planted.public_jwk
    );
    assert_eq!(execute_sql(&app.store, &sql).await.unwrap(), 1);
    let by_planted = civitas::oidc::signing::SigningKey::from_der(
        &planted.kid,
        Alg::ES256,
        &planted.private_der,
    )
    .unwrap()
    .sign(
        "audit-checkpoint+jwt",
        &crate::support::oidc::jwt_claims(&jws),
    )
    .unwrap();
    // A token of ours that is not a checkpoint.
    let rp = crate::support::oidc::register(&app, Default::default()).await;
    let _auth = crate::support::oidc::signed_in_citizen(&app, "Bola").await;
    let (verifier, challenge) = crate::support::oidc::pkce();
    let code = crate::support::oidc::code(&app, &rp, &challenge, &[]).await;
    let tokens: Value = crate::support::oidc::exchange(&app, &rp, &code, &verifier)
        .await
        .json()
        .await
        .unwrap();
    for (case, text, says) in [
        ("claims changed", changed.as_str(), "signature"),
        ("another key under our kid", foreign.as_str(), "signature"),
        ("unknown kid", unknown.as_str(), "no signing key"),
        (
            "a planted key",
            by_planted.as_str(),
            "not sealed under this master key",
        ),
        (
            "an ID token",
            tokens["id_token"].as_str().unwrap(),
            "not an audit checkpoint",
        ),
        ("not a JWS", "hello", "not an audit checkpoint"),
        ("empty", "", "not an audit checkpoint"),
    ] {
        std::fs::write(&file, text).unwrap();
        let (ok, out, err) = verify(&app, &["--checkpoint", file.to_str().unwrap()]);
        assert!(!ok, "case {case}: verify passed: {out}");
        assert!(err.contains(says), "case {case}: {err}");
    }
    std::fs::remove_file(&file).unwrap();
    let (ok, _, err) = verify(&app, &["--checkpoint", "/nonexistent/checkpoint.jwt"]);
    assert!(!ok && err.contains("/nonexistent/checkpoint.jwt"), "{err}");
}

async fn entries_written_before_keying_still_verify_and_are_frozen(app: TestApp) {
    // A log from before keying: three entries chained with SHA-256 alone,
    // the keyed part starting after them.
    disable_append_only(&app).await;
    execute_sql(&app.store, "DELETE FROM audit_entries")
        .await
        .unwrap();
    let mut old = Vec::new();
    let mut prev = GENESIS_HASH.to_string();
    for seq in 1..=3 {
        let details = json!({"n": seq}).to_string();
        let hash = entry_hash(
            seq,
            1_700_000_000,
            "system",
            "test.old",
            "x",
            &details,
            &prev,
        );
        old.push(AuditEntry {
            seq,
            at: 1_700_000_000,
            actor: "system".into(),
            action: "test.old".into(),
            target: "x".into(),
            details,
            prev_hash: prev.clone(),
            hash: hash.clone(),
        });
        prev = hash;
    }
    for e in &old {
        let sql = format!(
            "INSERT INTO audit_entries (seq, at, actor, action, target, details, prev_hash, hash) \
             VALUES ({}, {}, {}, {}, {}, {}, {}, {})",
            e.seq,
            e.at,
            quote(&e.actor),
            quote(&e.action),
            quote(&e.target),
            quote(&e.details),
            quote(&e.prev_hash),
            quote(&e.hash)
        );
        execute_sql(&app.store, &sql).await.unwrap();
    }
    let sql = format!(
        "UPDATE audit_head SET seq = 3, hash = {}, keyed_from = 4",
        quote(&prev)
    );
    assert_eq!(execute_sql(&app.store, &sql).await.unwrap(), 1);

    history(&app).await;
    let (ok, out, err) = verify(&app, &[]);
    assert!(ok, "old and new entries: {err}");
    assert!(out.contains("keyed from entry 4"), "{out}");

    // Rewriting an old entry and re-hashing the old part breaks the link
    // the first keyed entry holds.
    let mut entries = all_audit_entries(&app).await;
    entries[1].details = json!({"n": 20}).to_string();
    let keyed: Vec<AuditEntry> = entries.split_off(3);
    rehash(&mut entries, 2);
    entries.extend(keyed);
    write_back(&app, &entries[..3], 2).await;
    let last = entries.last().unwrap();
    let sql = format!(
        "UPDATE audit_head SET seq = {}, hash = {}",
        last.seq,
        quote(&last.hash)
    );
    execute_sql(&app.store, &sql).await.unwrap();
    let (ok, out, err) = verify(&app, &[]);
    assert!(!ok, "a rewritten old part passed: {out}");
    assert!(err.contains("entry 4 "), "{err}");
}

async fn truncating_the_audit_log_is_refused(app: TestApp) {
    history(&app).await;
    let total = count(&app, Table::AuditEntries).await;
    let statements: &[&str] = if is_sqlite(&app) {
        // SQLite has no TRUNCATE; an unqualified DELETE is its equivalent.
        &["DELETE FROM audit_entries"]
    } else {
        &[
            "TRUNCATE audit_entries",
            "TRUNCATE audit_head",
            "TRUNCATE audit_entries, audit_head",
        ]
    };
    for sql in statements {
        let refused = execute_sql(&app.store, sql).await;
        assert!(refused.is_err(), "{sql} was allowed");
        assert!(
            refused.unwrap_err().to_string().contains("append-only"),
            "{sql}: the refusal explains itself"
        );
    }
    assert_eq!(count(&app, Table::AuditEntries).await, total);
    let (ok, _, err) = verify(&app, &[]);
    assert!(ok, "{err}");
}

crate::on_both_backends!(
    a_log_rehashed_with_sha256_is_caught_by_verify,
    a_log_rewritten_whole_after_a_checkpoint_is_caught_by_it,
    a_log_cut_short_after_a_checkpoint_is_caught_by_it,
    a_forged_checkpoint_is_refused,
    entries_written_before_keying_still_verify_and_are_frozen,
    truncating_the_audit_log_is_refused,
);
