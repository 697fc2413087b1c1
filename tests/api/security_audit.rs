//! Attacks on the audit log by whoever holds the database: rewriting
//! entries and re-hashing the chain, and emptying the table.

use civitas::audit::{AuditEntry, GENESIS_HASH, entry_hash};
use civitas::staff::Role;
use civitas::store::Table;
use serde_json::json;

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
    entries_written_before_keying_still_verify_and_are_frozen,
    truncating_the_audit_log_is_refused,
);
