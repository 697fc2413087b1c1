-- Passkeys, WebAuthn ceremonies, browser sessions, and records kept for
-- registrar review (possible duplicates, possibly cloned authenticators).

ALTER TABLE citizens ADD COLUMN dedup_key TEXT NOT NULL DEFAULT '';
CREATE INDEX citizens_dedup_idx ON citizens (dedup_key);

CREATE TABLE passkeys (
    id              BLOB PRIMARY KEY,
    citizen_id      BLOB NOT NULL REFERENCES citizens (id),
    credential_id   BLOB NOT NULL UNIQUE,
    passkey         TEXT NOT NULL,
    name            TEXT NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backup_state    BOOLEAN NOT NULL,
    sign_count      INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    last_used_at    INTEGER
);
CREATE INDEX passkeys_citizen_idx ON passkeys (citizen_id);

-- Ceremony ids are stored as SHA-256 hashes; rows are taken (deleted) before
-- verification so each ceremony finishes once.
CREATE TABLE ceremonies (
    id_hash    TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    state      TEXT NOT NULL,
    payload    TEXT NOT NULL,
    citizen_id BLOB,
    expires_at INTEGER NOT NULL
);
CREATE INDEX ceremonies_expiry_idx ON ceremonies (expires_at);

CREATE TABLE sessions (
    id            BLOB PRIMARY KEY,
    token_hash    TEXT NOT NULL UNIQUE,
    citizen_id    BLOB NOT NULL REFERENCES citizens (id),
    passkey_id    BLOB NOT NULL,
    user_verified BOOLEAN NOT NULL,
    auth_time     INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL,
    expires_at    INTEGER NOT NULL
);
CREATE INDEX sessions_citizen_idx ON sessions (citizen_id);

CREATE TABLE enrollment_duplicates (
    id                 BLOB PRIMARY KEY,
    given_name         TEXT NOT NULL,
    family_name        TEXT NOT NULL,
    birth_date         TEXT NOT NULL,
    region_code        TEXT NOT NULL,
    matched_citizen_id BLOB NOT NULL REFERENCES citizens (id),
    attempted_at       INTEGER NOT NULL,
    resolved_at        INTEGER
);

CREATE TABLE credential_incidents (
    id             BLOB PRIMARY KEY,
    passkey_id     BLOB NOT NULL,
    citizen_id     BLOB NOT NULL,
    kind           TEXT NOT NULL,
    stored_count   INTEGER NOT NULL,
    presented_count INTEGER NOT NULL,
    at             INTEGER NOT NULL
);
