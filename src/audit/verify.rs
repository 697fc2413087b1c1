//! Walking the chain: `civitas audit verify`.

use super::{AuditEntry, AuditKey, GENESIS_HASH};

/// Why the chain is broken at an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Break {
    #[error("entry {seq} is missing (the entry after {after} has sequence number {found})")]
    Missing { seq: i64, after: i64, found: i64 },
    #[error("entry {seq} does not chain to the entry before it (prev_hash differs)")]
    Unchained { seq: i64 },
    #[error("entry {seq} was changed after it was written (its hash does not match its content)")]
    Altered { seq: i64 },
    #[error(
        "the log ends at entry {last} but {head} entries were written: entries after {last} were removed"
    )]
    Truncated { last: i64, head: i64 },
    #[error("the log's last hash does not match the recorded head")]
    HeadMismatch,
    #[error(
        "the keyed part of the log is recorded to start at entry {keyed_from}, outside a log of {head} entries"
    )]
    Marker { keyed_from: i64, head: i64 },
}

/// Checks entries in sequence order, a page at a time: entries before
/// `keyed_from` by their plain SHA-256, the others by their HMAC.
pub struct Verifier<'k> {
    key: &'k AuditKey,
    keyed_from: i64,
    expected_seq: i64,
    prev_hash: String,
}

impl<'k> Verifier<'k> {
    /// A verifier of a log keyed with `key` from entry `keyed_from` on.
    pub fn new(key: &'k AuditKey, keyed_from: i64) -> Self {
        Self {
            key,
            keyed_from,
            expected_seq: 1,
            prev_hash: GENESIS_HASH.to_string(),
        }
    }

    /// The sequence number of the last entry checked (0 before any).
    pub fn last_seq(&self) -> i64 {
        self.expected_seq - 1
    }

    /// Checks the next entry.
    pub fn check(&mut self, entry: &AuditEntry) -> Result<(), Break> {
        if entry.seq != self.expected_seq {
            return Err(Break::Missing {
                seq: self.expected_seq,
                after: self.expected_seq - 1,
                found: entry.seq,
            });
        }
        if entry.prev_hash != self.prev_hash {
            return Err(Break::Unchained { seq: entry.seq });
        }
        let expected = if entry.seq >= self.keyed_from {
            entry.keyed_hash(self.key)
        } else {
            entry.unkeyed_hash()
        };
        if expected != entry.hash {
            return Err(Break::Altered { seq: entry.seq });
        }
        self.expected_seq += 1;
        self.prev_hash.clone_from(&entry.hash);
        Ok(())
    }

    /// Checks the end of the log against the recorded head.
    pub fn finish(&self, head_seq: i64, head_hash: &str) -> Result<(), Break> {
        if self.keyed_from < 1 || self.keyed_from > head_seq + 1 {
            return Err(Break::Marker {
                keyed_from: self.keyed_from,
                head: head_seq,
            });
        }
        let last = self.last_seq();
        if head_seq != last {
            return Err(Break::Truncated {
                last,
                head: head_seq,
            });
        }
        if head_hash != self.prev_hash {
            return Err(Break::HeadMismatch);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::{AuditEvent, seal};
    use super::*;
    use crate::secrets::MasterKey;

    fn key() -> AuditKey {
        AuditKey::new(&MasterKey::from_bytes([7; 32]))
    }

    /// `n` entries, keyed from `keyed_from` on (earlier ones hashed the old way).
    fn chain(key: &AuditKey, n: i64, keyed_from: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|seq| {
                let event = AuditEvent::new("system", "test", "x", serde_json::json!({}), seq);
                let mut e = seal(key, &event, seq, prev.clone());
                if seq < keyed_from {
                    e.hash = e.unkeyed_hash();
                }
                prev.clone_from(&e.hash);
                e
            })
            .collect()
    }

    fn verify(
        key: &AuditKey,
        keyed_from: i64,
        entries: &[AuditEntry],
        head: i64,
        head_hash: &str,
    ) -> Result<(), Break> {
        let mut v = Verifier::new(key, keyed_from);
        for e in entries {
            v.check(e)?;
        }
        v.finish(head, head_hash)
    }

    #[test]
    fn intact_chain_verifies() {
        let key = key();
        let c = chain(&key, 5, 1);
        assert_eq!(verify(&key, 1, &c, 5, &c[4].hash), Ok(()));
        assert_eq!(verify(&key, 1, &[], 0, GENESIS_HASH), Ok(()));
    }

    #[test]
    fn names_the_first_broken_entry() {
        let key = key();
        let mut c = chain(&key, 5, 1);
        c[2].details = "{\"changed\":true}".into();
        assert_eq!(
            verify(&key, 1, &c, 5, &c[4].hash.clone()),
            Err(Break::Altered { seq: 3 })
        );

        let mut c = chain(&key, 5, 1);
        c.remove(1);
        assert!(matches!(
            verify(&key, 1, &c, 5, &c[3].hash.clone()),
            Err(Break::Missing { seq: 2, .. })
        ));

        let c = chain(&key, 5, 1);
        assert_eq!(
            verify(&key, 1, &c[..3], 5, &c[4].hash),
            Err(Break::Truncated { last: 3, head: 5 })
        );

        // Rewriting an entry and its hash as the holder of the key would
        // still breaks the link to the next.
        let mut c = chain(&key, 5, 1);
        c[1].details = "{}".into();
        c[1].target = "y".into();
        c[1].hash = c[1].keyed_hash(&key);
        assert_eq!(
            verify(&key, 1, &c, 5, &c[4].hash.clone()),
            Err(Break::Unchained { seq: 3 })
        );
    }

    #[test]
    fn rechaining_without_the_key_is_caught_where_it_starts() {
        let key = key();
        let mut c = chain(&key, 5, 1);
        c[1].target = "y".into();
        let mut prev = c[0].hash.clone();
        for e in &mut c[1..] {
            e.prev_hash = prev;
            e.hash = e.unkeyed_hash();
            prev = e.hash.clone();
        }
        assert_eq!(
            verify(&key, 1, &c, 5, &c[4].hash.clone()),
            Err(Break::Altered { seq: 2 })
        );
        // So is a chain keyed with another master key.
        let other = AuditKey::new(&MasterKey::from_bytes([8; 32]));
        let c = chain(&other, 3, 1);
        assert_eq!(
            verify(&key, 1, &c, 3, &c[2].hash.clone()),
            Err(Break::Altered { seq: 1 })
        );
    }

    #[test]
    fn entries_before_keying_verify_and_are_frozen_by_the_first_keyed_one() {
        let key = key();
        let c = chain(&key, 5, 3);
        assert_eq!(verify(&key, 3, &c, 5, &c[4].hash), Ok(()));
        // Entries 1-2 are plain SHA-256: a keyed check would refuse them.
        assert_eq!(
            verify(&key, 1, &c, 5, &c[4].hash),
            Err(Break::Altered { seq: 1 })
        );
        // Rewriting an old entry and re-hashing the old part breaks the
        // link the first keyed entry holds.
        let mut forged = c.clone();
        forged[0].target = "y".into();
        forged[0].hash = forged[0].unkeyed_hash();
        forged[1].prev_hash = forged[0].hash.clone();
        forged[1].hash = forged[1].unkeyed_hash();
        assert_eq!(
            verify(&key, 3, &forged, 5, &forged[4].hash.clone()),
            Err(Break::Unchained { seq: 3 })
        );
        // The marker must lie within the log (or just after its end).
        assert_eq!(
            verify(&key, 6, &c, 5, &c[4].hash),
            Err(Break::Altered { seq: 3 })
        );
        assert_eq!(
            verify(&key, 0, &[], 0, GENESIS_HASH),
            Err(Break::Marker {
                keyed_from: 0,
                head: 0
            })
        );
        let old = chain(&key, 2, 3);
        assert_eq!(
            verify(&key, 7, &old, 2, &old[1].hash),
            Err(Break::Marker {
                keyed_from: 7,
                head: 2
            })
        );
    }
}
