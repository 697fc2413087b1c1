-- Passkeys, WebAuthn ceremonies, browser sessions, and records kept for
-- registrar review (possible duplicates, possibly cloned authenticators).

ALTER TABLE citizens ADD COLUMN dedup_key TEXT NOT NULL DEFAULT '';
CREATE INDEX citizens_dedup_idx ON citizens (dedup_key);

CREATE TABLE passkeys (
    id              UUID PRIMARY KEY,
    citizen_id      UUID NOT NULL REFERENCES citizens (id),
    credential_id   BYTEA NOT NULL UNIQUE,
    passkey         TEXT NOT NULL,
    name            TEXT NOT NULL,
    backup_eligible BOOLEAN NOT NULL,
    backup_state    BOOLEAN NOT NULL,
    sign_count      BIGINT NOT NULL,
    created_at      BIGINT NOT NULL,
    last_used_at    BIGINT
);
CREATE INDEX passkeys_citizen_idx ON passkeys (citizen_id);

-- Ceremony ids are stored as SHA-256 hashes; rows are taken (deleted) before
-- verification so each ceremony finishes once.
CREATE TABLE ceremonies (
    id_hash    TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    state      TEXT NOT NULL,
    payload    TEXT NOT NULL,
    citizen_id UUID,
    expires_at BIGINT NOT NULL
);
CREATE INDEX ceremonies_expiry_idx ON ceremonies (expires_at);

CREATE TABLE sessions (
    id            UUID PRIMARY KEY,
    token_hash    TEXT NOT NULL UNIQUE,
    citizen_id    UUID NOT NULL REFERENCES citizens (id),
    passkey_id    UUID NOT NULL,
    user_verified BOOLEAN NOT NULL,
    auth_time     BIGINT NOT NULL,
    last_seen_at  BIGINT NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX sessions_citizen_idx ON sessions (citizen_id);

CREATE TABLE enrollment_duplicates (
    id                 UUID PRIMARY KEY,
    given_name         TEXT NOT NULL,
    family_name        TEXT NOT NULL,
    birth_date         DATE NOT NULL,
    region_code        TEXT NOT NULL,
    matched_citizen_id UUID NOT NULL REFERENCES citizens (id),
    attempted_at       BIGINT NOT NULL,
    resolved_at        BIGINT
);

CREATE TABLE credential_incidents (
    id             UUID PRIMARY KEY,
    passkey_id     UUID NOT NULL,
    citizen_id     UUID NOT NULL,
    kind           TEXT NOT NULL,
    stored_count   BIGINT NOT NULL,
    presented_count BIGINT NOT NULL,
    at             BIGINT NOT NULL
);
