-- Audit keys, signing keys, and the master key that goes with the database.

-- The audit chain is keyed from here on: entries from `keyed_from` on are
-- hashed with HMAC-SHA-256 under a key derived from the master key; the
-- entries written before keep their plain SHA-256 hashes.
ALTER TABLE audit_head ADD COLUMN keyed_from BIGINT NOT NULL DEFAULT 1;
UPDATE audit_head SET keyed_from = seq + 1;

-- Private keys are sealed under a key derived from the master key from
-- seal version 2 on, the seal covering the kid and the public key (so a key
-- put here without the master key is never published); rows sealed under
-- the raw master key (version 1) are resealed at start-up
-- (`keyring::reseal_keys`).
ALTER TABLE signing_keys ADD COLUMN seal_version SMALLINT NOT NULL DEFAULT 1;

-- The master key's check value (it reveals nothing of the key): the first
-- process writes it, every later one compares and stops on a mismatch.
CREATE TABLE master_key_checks (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    check_value TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- A signing key is published from its creation and signs from
-- `activates_at`: a rotated key waits (10 minutes by default) so that the
-- JWKS caches of relying parties have it before it signs. A revoked key
-- leaves JWKS and stops signing at once.
ALTER TABLE signing_keys ADD COLUMN activates_at BIGINT NOT NULL DEFAULT 0;
UPDATE signing_keys SET activates_at = created_at;
ALTER TABLE signing_keys ADD COLUMN revoked_at BIGINT;

-- Every rotation and revocation locks this row first, so they run one at a
-- time whichever instance or command line runs them.
CREATE TABLE signing_key_lock (
    id      INTEGER PRIMARY KEY CHECK (id = 1),
    changes BIGINT NOT NULL
);
INSERT INTO signing_key_lock (id, changes) VALUES (1, 0);
