//! Walking the chain: `civitas audit verify`.

use super::{AuditEntry, GENESIS_HASH};

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
}

/// Checks entries in sequence order, a page at a time.
pub struct Verifier {
    expected_seq: i64,
    prev_hash: String,
}

impl Default for Verifier {
    fn default() -> Self {
        Self {
            expected_seq: 1,
            prev_hash: GENESIS_HASH.to_string(),
        }
    }
}

impl Verifier {
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
        if entry.expected_hash() != entry.hash {
            return Err(Break::Altered { seq: entry.seq });
        }
        self.expected_seq += 1;
        self.prev_hash.clone_from(&entry.hash);
        Ok(())
    }

    /// Checks the end of the log against the recorded head.
    pub fn finish(&self, head_seq: i64, head_hash: &str) -> Result<(), Break> {
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

    fn chain(n: i64) -> Vec<AuditEntry> {
        let mut prev = GENESIS_HASH.to_string();
        (1..=n)
            .map(|seq| {
                let e = seal(
                    &AuditEvent::new("system", "test", "x", serde_json::json!({}), seq),
                    seq,
                    prev.clone(),
                );
                prev.clone_from(&e.hash);
                e
            })
            .collect()
    }

    fn verify(entries: &[AuditEntry], head: i64, head_hash: &str) -> Result<(), Break> {
        let mut v = Verifier::default();
        for e in entries {
            v.check(e)?;
        }
        v.finish(head, head_hash)
    }

    #[test]
    fn intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify(&c, 5, &c[4].hash), Ok(()));
        assert_eq!(verify(&[], 0, GENESIS_HASH), Ok(()));
    }

    #[test]
    fn names_the_first_broken_entry() {
        let mut c = chain(5);
        c[2].details = "{\"changed\":true}".into();
        assert_eq!(
            verify(&c, 5, &c[4].hash.clone()),
            Err(Break::Altered { seq: 3 })
        );

        let mut c = chain(5);
        c.remove(1);
        assert!(matches!(
            verify(&c, 5, &c[3].hash.clone()),
            Err(Break::Missing { seq: 2, .. })
        ));

        let c = chain(5);
        assert_eq!(
            verify(&c[..3], 5, &c[4].hash),
            Err(Break::Truncated { last: 3, head: 5 })
        );

        // Rewriting an entry and its hash still breaks the link to the next.
        let mut c = chain(5);
        c[1].details = "{}".into();
        c[1].target = "y".into();
        c[1].hash = c[1].expected_hash();
        assert_eq!(
            verify(&c, 5, &c[4].hash.clone()),
            Err(Break::Unchained { seq: 3 })
        );
    }
}
