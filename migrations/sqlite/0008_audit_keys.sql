-- The audit chain is keyed from here on: entries from `keyed_from` on are
-- hashed with HMAC-SHA-256 under a key derived from the master key; the
-- entries written before keep their plain SHA-256 hashes.
ALTER TABLE audit_head ADD COLUMN keyed_from BIGINT NOT NULL DEFAULT 1;
UPDATE audit_head SET keyed_from = seq + 1;
