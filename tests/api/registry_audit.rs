//! The hash-chained audit log: what is recorded, reading it with filters and
//! pages, `civitas audit verify`, and tampering caught.

use civitas::audit::{AuditEntry, AuditKey, GENESIS_HASH, keyed_entry_hash};
use civitas::secrets::MasterKey;
use civitas::staff::Role;
use civitas::store::Table;
use serde_json::{Value, json};

use crate::support::app::TestApp;
use crate::support::registry::*;

const AUDIT: &str = "/api/v1/admin/audit";

/// The entry's hash as the server computes it, with the test master key.
fn recomputed(e: &Value) -> String {
    let master = MasterKey::from_bytes(std::array::from_fn(|i| i as u8));
    keyed_entry_hash(
        &AuditKey::new(&master),
        e["seq"].as_i64().unwrap(),
        e["at"].as_i64().unwrap(),
        e["actor"].as_str().unwrap(),
        e["action"].as_str().unwrap(),
        e["target"].as_str().unwrap(),
        e["details"].as_str().unwrap(),
        e["prev_hash"].as_str().unwrap(),
    )
}

/// Every page of `query`, following `next_before_seq`.
async fn all_pages(reader: &Person, query: &str) -> Vec<Value> {
    let mut out = Vec::new();
    let mut before: Option<i64> = None;
    for _ in 0..100 {
        let path = match before {
            Some(seq) => format!("{AUDIT}?{query}&before_seq={seq}"),
            None => format!("{AUDIT}?{query}"),
        };
        let page = reader.get_ok(&path).await;
        out.extend(page["entries"].as_array().unwrap().iter().cloned());
        match page["next_before_seq"].as_i64() {
            Some(seq) => before = Some(seq),
            None => return out,
        }
    }
    panic!("paging did not end");
}

fn actions(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

async fn staff_actions_are_chained_and_read_back_filtered_and_paged(app: TestApp) {
    let admin = admin(&app).await;
    let created = admin
        .post_ok(
            "/api/v1/admin/invitations",
            &json!({"role": "auditor"}),
            201,
        )
        .await;
    let auditor = citizen_in(&app, "Audra", "CAP").await;
    let accepted = accept(&auditor, &token_from_url(created["url"].as_str().unwrap())).await;
    assert_eq!(accepted.status(), 200);
    let registrar = registrar(&app, "Rita", &["CAP"]).await;
    one_resident(&admin, ["R-1", "Ada", "Eze", "1980-01-01", "CAP", ""]).await;
    let citizen = citizen_in(&app, "Kelechi", "CAP-H").await;
    let target = format!("citizen:{}", citizen.national_id);
    registrar
        .post_ok(
            &desk(&citizen.national_id, "verify"),
            &json!({"evidence_type": "passport", "issuing_authority": "PO", "document_number": "A1"}),
            200,
        )
        .await;
    registrar
        .post_ok(
            &desk(&citizen.national_id, "suspend"),
            &json!({"reason": "x"}),
            200,
        )
        .await;

    // Newest first, one unbroken chain back to the genesis hash.
    let everything = auditor.get_ok(&format!("{AUDIT}?limit=1000")).await;
    let entries = everything["entries"].as_array().unwrap();
    assert_eq!(everything["next_before_seq"], Value::Null);
    assert_eq!(entries.len() as i64, count(&app, Table::AuditEntries).await);
    assert_eq!(
        actions(entries),
        vec![
            "citizen.suspend",
            "citizen.verify",
            "register.import",
            "staff.role_granted",
            "staff.invite",
            "staff.role_granted",
            "staff.invite",
            "staff.role_granted",
            "staff.invite",
            "staff.invite",
        ]
    );
    for (i, e) in entries.iter().enumerate() {
        assert_eq!(e["seq"], (entries.len() - i) as i64);
        assert_eq!(e["hash"], recomputed(e).as_str(), "entry {}", e["seq"]);
        let prev = entries
            .get(i + 1)
            .map_or(GENESIS_HASH, |p| p["hash"].as_str().unwrap());
        assert_eq!(e["prev_hash"], prev, "entry {}", e["seq"]);
        assert_eq!(e["at"], app.clock.unix());
    }
    assert_eq!(
        entries[0]["actor"],
        format!("citizen:{}", registrar.national_id)
    );
    assert_eq!(entries[0]["target"], target.as_str());

    // Filters.
    let suspend = auditor
        .get_ok(&format!("{AUDIT}?action=citizen.suspend"))
        .await;
    assert_eq!(
        actions(suspend["entries"].as_array().unwrap()),
        vec!["citizen.suspend"]
    );
    let by_target = auditor.get_ok(&format!("{AUDIT}?target={target}")).await;
    assert_eq!(
        actions(by_target["entries"].as_array().unwrap()),
        vec!["citizen.suspend", "citizen.verify"]
    );
    let admin_actor = format!("citizen:{}", admin.national_id);
    let by_admin = auditor
        .get_ok(&format!("{AUDIT}?actor={admin_actor}"))
        .await;
    assert_eq!(
        actions(by_admin["entries"].as_array().unwrap()),
        vec!["register.import", "staff.invite", "staff.role_granted"]
    );
    let both = auditor
        .get_ok(&format!("{AUDIT}?actor={admin_actor}&action=staff.invite"))
        .await;
    assert_eq!(both["entries"].as_array().unwrap().len(), 1);
    for (query, expected) in [
        ("from=2026-11-28", entries.len()),
        ("from=2026-11-29", 0),
        ("until=2026-11-28", entries.len()),
        ("until=2026-11-27", 0),
        ("from=2026-11-28&until=2026-11-28", entries.len()),
        ("action=", entries.len()),
        ("action=no.such.action", 0),
    ] {
        let page = auditor.get_ok(&format!("{AUDIT}?{query}")).await;
        assert_eq!(
            page["entries"].as_array().unwrap().len(),
            expected,
            "query {query}"
        );
    }

    // Pages of three, newest first, add up to the whole log.
    let first = auditor.get_ok(&format!("{AUDIT}?limit=3")).await;
    assert_eq!(first["entries"].as_array().unwrap().len(), 3);
    assert_eq!(first["next_before_seq"], first["entries"][2]["seq"]);
    assert_eq!(all_pages(&auditor, "limit=3").await, *entries);
    assert_eq!(
        all_pages(&auditor, "limit=1&action=staff.invite")
            .await
            .len(),
        4
    );

    // Bad queries and readers.
    for (case, query, code) in [
        ("from not a date", "from=28.11.2026", "invalid_date"),
        ("until not a day", "until=2026-02-30", "invalid_date"),
        (
            "before_seq not a number",
            "before_seq=abc",
            "invalid_request",
        ),
        ("limit not a number", "limit=many", "invalid_request"),
    ] {
        refused(
            &app,
            auditor.get(&format!("{AUDIT}?{query}")),
            400,
            code,
            case,
        )
        .await;
    }
    admin.get_ok(AUDIT).await;
    let bystander = citizen_in(&app, "Lola", "CAP-H").await;
    for (who, person) in [("registrar", &registrar), ("citizen", &bystander)] {
        refused(&app, person.get(AUDIT), 403, "role_required", who).await;
    }
    refused(
        &app,
        new_browser(&app).get(AUDIT),
        401,
        "not_signed_in",
        "no session",
    )
    .await;
}

async fn command_line_changes_are_audited_and_the_chain_verifies(app: TestApp) {
    let out = civitas(
        &app,
        &[
            "client",
            "create",
            "--name",
            "Land Registry",
            "--redirect-uri",
            "https://land.example/cb",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let created: Value = serde_json::from_str(stdout(&out).trim()).unwrap();
    let client_id = created["client_id"].as_str().unwrap().to_string();
    for args in [
        vec!["client", "rotate-secret", &client_id],
        vec!["client", "disable", &client_id],
        vec!["keys", "rotate"],
    ] {
        let out = civitas(&app, &args);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
    }
    for (action, target) in [
        ("client.create", format!("client:{client_id}")),
        ("client.rotate_secret", format!("client:{client_id}")),
        ("client.disable", format!("client:{client_id}")),
        ("keys.rotate", "signing_keys".to_string()),
    ] {
        let found = audit_entries(&app, action).await;
        assert_eq!(found.len(), 1, "{action}");
        assert_eq!(found[0].actor, CLI_ACTOR, "{action}");
        assert_eq!(found[0].target, target, "{action}");
    }
    let secret = created["client_secret"].as_str().unwrap();
    for e in all_audit_entries(&app).await {
        assert!(!e.details.contains(secret), "a client secret in the log");
    }
    // A failed command records nothing.
    let before = count(&app, Table::AuditEntries).await;
    let out = civitas(&app, &["client", "disable", "no-such-client"]);
    assert!(!out.status.success());
    assert_eq!(count(&app, Table::AuditEntries).await, before);

    let out = civitas(&app, &["audit", "verify"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains(&format!("audit log intact: {before} entries")),
        "{}",
        stdout(&out)
    );
}

async fn the_entry(app: &TestApp, seq: i64) -> AuditEntry {
    all_audit_entries(app)
        .await
        .into_iter()
        .find(|e| e.seq == seq)
        .unwrap()
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

async fn set_entry(app: &TestApp, e: &AuditEntry) {
    let sql = format!(
        "UPDATE audit_entries SET details = {}, target = {}, hash = {} WHERE seq = {}",
        quote(&e.details),
        quote(&e.target),
        quote(&e.hash),
        e.seq
    );
    assert_eq!(execute_sql(&app.store, &sql).await.unwrap(), 1);
}

fn verify_fails_naming(app: &TestApp, entry: &str, case: &str) {
    let out = civitas(app, &["audit", "verify"]);
    assert!(!out.status.success(), "case {case}: verify passed");
    assert!(
        stderr(&out).contains(entry),
        "case {case}: stderr does not name {entry}: {}",
        stderr(&out)
    );
}

fn verify_passes(app: &TestApp, case: &str) {
    let out = civitas(app, &["audit", "verify"]);
    assert!(out.status.success(), "case {case}: {}", stderr(&out));
}

async fn tampering_is_stopped_by_triggers_and_caught_by_verify(app: TestApp) {
    let registrar = registrar(&app, "Rita", &["CAP"]).await;
    let citizen = citizen_in(&app, "Kelechi", "CAP-H").await;
    registrar
        .post_ok(
            &desk(&citizen.national_id, "suspend"),
            &json!({"reason": "a"}),
            200,
        )
        .await;
    registrar
        .post_ok(
            &desk(&citizen.national_id, "reinstate"),
            &json!({"reason": "b"}),
            200,
        )
        .await;
    invitation_token(&app, Role::Auditor, &[]).await;
    let total = count(&app, Table::AuditEntries).await;
    assert!(total >= 5);
    verify_passes(&app, "untouched");

    // The application's own database user cannot change or remove entries.
    let update = execute_sql(
        &app.store,
        "UPDATE audit_entries SET details = '{}' WHERE seq = 2",
    )
    .await;
    assert!(update.is_err(), "a plain UPDATE changed an audit entry");
    assert!(
        update.unwrap_err().to_string().contains("append-only"),
        "the trigger explains itself"
    );
    let delete = execute_sql(&app.store, "DELETE FROM audit_entries WHERE seq = 3").await;
    assert!(delete.is_err(), "a plain DELETE removed an audit entry");
    assert_eq!(count(&app, Table::AuditEntries).await, total);

    // Someone who drops the triggers is caught by the chain.
    let drops: &[&str] = if is_sqlite(&app) {
        &[
            "DROP TRIGGER audit_entries_no_update",
            "DROP TRIGGER audit_entries_no_delete",
        ]
    } else {
        &["DROP TRIGGER audit_entries_no_change ON audit_entries"]
    };
    for sql in drops {
        execute_sql(&app.store, sql).await.unwrap();
    }
    let original = the_entry(&app, 2).await;

    let mut altered = original.clone();
    altered.details = r#"{"role":"auditor"}"#.to_string();
    set_entry(&app, &altered).await;
    verify_fails_naming(&app, "entry 2 ", "content changed");
    set_entry(&app, &original).await;
    verify_passes(&app, "restored");

    // Rewriting the hash as well, without the master key, is caught at
    // the entry itself.
    let mut forged = original.clone();
    forged.target = "role:auditor".to_string();
    forged.hash = forged.unkeyed_hash();
    set_entry(&app, &forged).await;
    verify_fails_naming(&app, "entry 2 ", "hash rewritten");
    set_entry(&app, &original).await;
    verify_passes(&app, "restored again");

    // Removing an entry from the middle.
    let removed = execute_sql(&app.store, "DELETE FROM audit_entries WHERE seq = 3")
        .await
        .unwrap();
    assert_eq!(removed, 1);
    verify_fails_naming(&app, "entry 3 ", "entry removed");
}

async fn the_newest_entry_removed_is_caught(app: TestApp) {
    let admin = admin(&app).await;
    admin
        .post_ok(
            "/api/v1/admin/invitations",
            &json!({"role": "auditor"}),
            201,
        )
        .await;
    let total = count(&app, Table::AuditEntries).await;
    let drop = if is_sqlite(&app) {
        "DROP TRIGGER audit_entries_no_delete"
    } else {
        "DROP TRIGGER audit_entries_no_change ON audit_entries"
    };
    execute_sql(&app.store, drop).await.unwrap();
    let sql = format!("DELETE FROM audit_entries WHERE seq = {total}");
    assert_eq!(execute_sql(&app.store, &sql).await.unwrap(), 1);
    verify_fails_naming(&app, &format!("entry {}", total - 1), "newest removed");
}

async fn concurrent_staff_actions_keep_one_chain(app: TestApp) {
    let admin = admin(&app).await;
    let before = count(&app, Table::AuditEntries).await;
    let body = json!({"role": "auditor"});
    let requests = (0..12).map(|_| admin.app.post_json("/api/v1/admin/invitations", &body));
    for response in futures::future::join_all(requests).await {
        let status = response.status();
        let text = response.text().await.unwrap();
        assert_eq!(status, 201, "{text}");
    }
    assert_eq!(count(&app, Table::AuditEntries).await, before + 12);
    let seqs: Vec<i64> = all_audit_entries(&app)
        .await
        .iter()
        .map(|e| e.seq)
        .collect();
    assert_eq!(seqs, (1..=before + 12).collect::<Vec<_>>());
    verify_passes(&app, "after concurrent appends");
}

crate::on_both_backends!(
    staff_actions_are_chained_and_read_back_filtered_and_paged,
    command_line_changes_are_audited_and_the_chain_verifies,
    tampering_is_stopped_by_triggers_and_caught_by_verify,
    the_newest_entry_removed_is_caught,
    concurrent_staff_actions_keep_one_chain,
);
