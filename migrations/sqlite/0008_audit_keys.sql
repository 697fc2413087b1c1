-- Audit keys, signing keys, and the master key that goes with the database.

-- The audit chain is keyed from here on: entries from `keyed_from` on are
-- hashed with HMAC-SHA-256 under a key derived from the master key; the
-- entries written before keep their plain SHA-256 hashes.
ALTER TABLE audit_head ADD COLUMN keyed_from BIGINT NOT NULL DEFAULT 1;
UPDATE audit_head SET keyed_from = seq + 1;

-- Private keys are sealed under a key derived from the master key from
-- seal version 2 on; rows sealed under the raw master key (version 1) are
-- resealed at start-up (`keyring::reseal_keys`).
ALTER TABLE signing_keys ADD COLUMN seal_version SMALLINT NOT NULL DEFAULT 1;

-- The master key's check value (it reveals nothing of the key): the first
-- process writes it, every later one compares and stops on a mismatch.
CREATE TABLE master_key_checks (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    check_value TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);
