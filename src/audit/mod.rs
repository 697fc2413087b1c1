//! The audit log: every staff action, lifecycle change, import, client change
//! and key rotation appends an entry in the same transaction as the change.
//! Entries are chained: each one's SHA-256 covers the previous entry's hash
//! and its own canonical content, so changing, removing or reordering any
//! entry breaks the chain from that entry on.

pub mod verify;

use serde::Serialize;

/// The hash the first entry chains from.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Something that happened, before it is sealed into the chain.
#[derive(Debug, Clone)]
pub struct AuditEvent {
    /// Who: `citizen:<national id>` for staff, `cli:<user>` for operators,
    /// `system` for Civitas itself.
    pub actor: String,
    /// What, as a stable dotted name, e.g. `citizen.suspend`.
    pub action: &'static str,
    /// On what, e.g. `citizen:<national id>` or `client:<id>`.
    pub target: String,
    /// Particulars (reason, evidence type, row count …), as JSON.
    pub details: serde_json::Value,
    /// When, in Unix seconds.
    pub at: i64,
}

impl AuditEvent {
    pub fn new(
        actor: impl Into<String>,
        action: &'static str,
        target: impl Into<String>,
        details: serde_json::Value,
        at: i64,
    ) -> Self {
        Self {
            actor: actor.into(),
            action,
            target: target.into(),
            details,
            at,
        }
    }
}

/// The actor name of an operator running the command line.
pub fn cli_actor() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".to_string());
    format!("cli:{user}")
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, sqlx::FromRow)]
pub struct AuditEntry {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub target: String,
    /// JSON text, exactly as hashed.
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// The fields a hash covers, in a fixed order: serde_json writes struct
/// fields in declaration order, so this serialisation is canonical.
#[derive(Serialize)]
struct Canonical<'a> {
    seq: i64,
    at: i64,
    actor: &'a str,
    action: &'a str,
    target: &'a str,
    details: &'a str,
    prev_hash: &'a str,
}

/// SHA-256 (hex) over the previous hash and the entry's canonical content.
pub fn entry_hash(
    seq: i64,
    at: i64,
    actor: &str,
    action: &str,
    target: &str,
    details: &str,
    prev_hash: &str,
) -> String {
    let canonical = Canonical {
        seq,
        at,
        actor,
        action,
        target,
        details,
        prev_hash,
    };
    // Serialising a struct of strings and integers cannot fail.
    let body = serde_json::to_vec(&canonical).unwrap_or_default();
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    ctx.update(prev_hash.as_bytes());
    ctx.update(b"\n");
    ctx.update(&body);
    crate::encoding::hex(ctx.finish().as_ref())
}

/// Seals an event as entry `seq`, chained to `prev_hash`.
pub fn seal(event: &AuditEvent, seq: i64, prev_hash: String) -> AuditEntry {
    let details = event.details.to_string();
    let hash = entry_hash(
        seq,
        event.at,
        &event.actor,
        event.action,
        &event.target,
        &details,
        &prev_hash,
    );
    AuditEntry {
        seq,
        at: event.at,
        actor: event.actor.clone(),
        action: event.action.to_string(),
        target: event.target.clone(),
        details,
        prev_hash,
        hash,
    }
}

impl AuditEntry {
    /// The hash this entry's content should have.
    pub fn expected_hash(&self) -> String {
        entry_hash(
            self.seq,
            self.at,
            &self.actor,
            &self.action,
            &self.target,
            &self.details,
            &self.prev_hash,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(action: &'static str) -> AuditEvent {
        AuditEvent::new(
            "cli:root",
            action,
            "client:abc",
            serde_json::json!({"reason": "test"}),
            1_800_000_000,
        )
    }

    #[test]
    fn each_hash_covers_content_and_previous_hash() {
        let first = seal(&event("client.create"), 1, GENESIS_HASH.to_string());
        assert_eq!(first.hash.len(), 64);
        assert_eq!(first.expected_hash(), first.hash);
        let second = seal(&event("client.disable"), 2, first.hash.clone());
        assert_ne!(second.hash, first.hash);

        let mut changed = second.clone();
        changed.target = "client:other".into();
        assert_ne!(changed.expected_hash(), second.hash);

        let mut rechained = second.clone();
        rechained.prev_hash = GENESIS_HASH.to_string();
        assert_ne!(rechained.expected_hash(), second.hash);
    }

    #[test]
    fn field_boundaries_cannot_be_shifted() {
        let a = entry_hash(1, 1, "ab", "c", "t", "{}", GENESIS_HASH);
        let b = entry_hash(1, 1, "a", "bc", "t", "{}", GENESIS_HASH);
        assert_ne!(a, b);
    }
}
