//! The audit log: every staff action, lifecycle change, import, client change
//! and key rotation appends an entry in the same transaction as the change.
//! Entries are chained: each one's hash covers the previous entry's hash
//! and its own canonical content, so changing, removing or reordering any
//! entry breaks the chain from that entry on.
//!
//! The hash is an HMAC-SHA-256 under a key derived from the master key, so
//! that whoever holds only the database cannot re-chain entries they
//! changed. Logs begun before keying keep their plain SHA-256 hashes up to
//! the entry where the keyed part starts (`audit_head.keyed_from`); the
//! first keyed entry covers the last unkeyed hash, which freezes them too.
//! Checkpoints (`checkpoint`) anchor the log outside the database.

pub mod checkpoint;
pub mod verify;

use std::fmt;
use std::sync::Arc;

use ring::hmac;
use serde::Serialize;

use crate::secrets::MasterKey;

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

/// The key of the chain's HMAC, derived from the master key.
#[derive(Clone)]
pub struct AuditKey(Arc<hmac::Key>);

impl AuditKey {
    pub fn new(master: &MasterKey) -> Self {
        Self(Arc::new(hmac::Key::new(
            hmac::HMAC_SHA256,
            &master.derive("civitas audit chain v1"),
        )))
    }
}

impl fmt::Debug for AuditKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AuditKey(..)")
    }
}

/// What a hash is computed over: the previous hash, a newline and the
/// canonical content.
fn hashed_input(
    seq: i64,
    at: i64,
    actor: &str,
    action: &str,
    target: &str,
    details: &str,
    prev_hash: &str,
) -> Vec<u8> {
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
    let mut input = Vec::with_capacity(prev_hash.len() + 1 + body.len());
    input.extend_from_slice(prev_hash.as_bytes());
    input.push(b'\n');
    input.extend_from_slice(&body);
    input
}

/// SHA-256 (hex) over the previous hash and the entry's canonical content:
/// the hash of entries written before the chain was keyed.
pub fn entry_hash(
    seq: i64,
    at: i64,
    actor: &str,
    action: &str,
    target: &str,
    details: &str,
    prev_hash: &str,
) -> String {
    let input = hashed_input(seq, at, actor, action, target, details, prev_hash);
    crate::encoding::hex(ring::digest::digest(&ring::digest::SHA256, &input).as_ref())
}

/// HMAC-SHA-256 (hex) under `key` over the same input as [`entry_hash`].
#[allow(clippy::too_many_arguments)]
pub fn keyed_entry_hash(
    key: &AuditKey,
    seq: i64,
    at: i64,
    actor: &str,
    action: &str,
    target: &str,
    details: &str,
    prev_hash: &str,
) -> String {
    let input = hashed_input(seq, at, actor, action, target, details, prev_hash);
    crate::encoding::hex(hmac::sign(&key.0, &input).as_ref())
}

/// Seals an event as entry `seq`, chained to `prev_hash` with `key`.
pub fn seal(key: &AuditKey, event: &AuditEvent, seq: i64, prev_hash: String) -> AuditEntry {
    let mut entry = AuditEntry {
        seq,
        at: event.at,
        actor: event.actor.clone(),
        action: event.action.to_string(),
        target: event.target.clone(),
        details: event.details.to_string(),
        prev_hash,
        hash: String::new(),
    };
    entry.hash = entry.keyed_hash(key);
    entry
}

impl AuditEntry {
    /// The plain SHA-256 this entry's content has if it was written before
    /// the chain was keyed (or by someone without the key).
    pub fn unkeyed_hash(&self) -> String {
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

    /// The HMAC this entry's content has under `key`.
    pub fn keyed_hash(&self, key: &AuditKey) -> String {
        keyed_entry_hash(
            key,
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

    fn key() -> AuditKey {
        AuditKey::new(&MasterKey::from_bytes([7; 32]))
    }

    #[test]
    fn each_hash_covers_content_and_previous_hash() {
        let key = key();
        let first = seal(&key, &event("client.create"), 1, GENESIS_HASH.to_string());
        assert_eq!(first.hash.len(), 64);
        assert_eq!(first.keyed_hash(&key), first.hash);
        let second = seal(&key, &event("client.disable"), 2, first.hash.clone());
        assert_ne!(second.hash, first.hash);

        let mut changed = second.clone();
        changed.target = "client:other".into();
        assert_ne!(changed.keyed_hash(&key), second.hash);

        let mut rechained = second.clone();
        rechained.prev_hash = GENESIS_HASH.to_string();
        assert_ne!(rechained.keyed_hash(&key), second.hash);
    }

    #[test]
    fn the_keyed_hash_needs_the_master_key() {
        let entry = seal(&key(), &event("client.create"), 1, GENESIS_HASH.to_string());
        assert_ne!(entry.unkeyed_hash(), entry.hash);
        let other = AuditKey::new(&MasterKey::from_bytes([8; 32]));
        assert_ne!(entry.keyed_hash(&other), entry.hash);
        assert_eq!(format!("{:?}", key()), "AuditKey(..)");
    }

    #[test]
    fn field_boundaries_cannot_be_shifted() {
        let a = entry_hash(1, 1, "ab", "c", "t", "{}", GENESIS_HASH);
        let b = entry_hash(1, 1, "a", "bc", "t", "{}", GENESIS_HASH);
        assert_ne!(a, b);
        let a = keyed_entry_hash(&key(), 1, 1, "ab", "c", "t", "{}", GENESIS_HASH);
        let b = keyed_entry_hash(&key(), 1, 1, "a", "bc", "t", "{}", GENESIS_HASH);
        assert_ne!(a, b);
    }

    #[test]
    fn unkeyed_hashes_are_what_they_were() {
        // An entry hashed before keying, pinned: old logs must still verify.
        assert_eq!(
            entry_hash(1, 1_800_000_000, "system", "test", "x", "{}", GENESIS_HASH),
            UNKEYED_PIN
        );
    }

    const UNKEYED_PIN: &str = "0174ffd454f6bf5dc5a8c4e5c162de2b0e81608297c6fc7cb26b3c6c07506b7f";
}
