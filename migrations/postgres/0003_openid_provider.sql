-- OpenID Provider: clients, signing keys, authorization requests and codes,
-- grants with their refresh tokens, consents and the access history.
-- Every secret (client secret, code, refresh token, request id) is stored
-- as its SHA-256; private keys only sealed with the master key.

CREATE TABLE clients (
    id                        TEXT PRIMARY KEY,
    name                      TEXT NOT NULL,
    secret_hash               TEXT,
    redirect_uris             TEXT NOT NULL,
    post_logout_redirect_uris TEXT NOT NULL,
    subject_type              TEXT NOT NULL CHECK (subject_type IN ('pairwise', 'public')),
    extra_scopes              TEXT NOT NULL,
    id_token_alg              TEXT NOT NULL CHECK (id_token_alg IN ('RS256', 'ES256', 'EdDSA')),
    disabled                  BOOLEAN NOT NULL DEFAULT FALSE,
    created_at                BIGINT NOT NULL
);

CREATE TABLE signing_keys (
    kid            TEXT PRIMARY KEY,
    alg            TEXT NOT NULL,
    private_sealed BYTEA NOT NULL,
    public_jwk     TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    -- Set when a newer key takes over; the key stays published until
    -- every token it signed has expired.
    retired_at     BIGINT,
    unpublish_at   BIGINT
);
CREATE INDEX signing_keys_alg_idx ON signing_keys (alg, created_at);

CREATE TABLE authorization_requests (
    id_hash    TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL REFERENCES clients (id),
    citizen_id UUID NOT NULL REFERENCES citizens (id),
    params     TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

CREATE TABLE grants (
    id          UUID PRIMARY KEY,
    citizen_id  UUID NOT NULL REFERENCES citizens (id),
    client_id   TEXT NOT NULL REFERENCES clients (id),
    scope       TEXT NOT NULL,
    session_id  UUID NOT NULL,
    auth_time   BIGINT NOT NULL,
    acr         TEXT NOT NULL,
    amr         TEXT NOT NULL,
    nonce       TEXT,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT
);
CREATE INDEX grants_citizen_client_idx ON grants (citizen_id, client_id);

CREATE TABLE authorization_codes (
    code_hash      TEXT PRIMARY KEY,
    grant_id       UUID NOT NULL REFERENCES grants (id),
    client_id      TEXT NOT NULL,
    redirect_uri   TEXT NOT NULL,
    code_challenge TEXT NOT NULL,
    expires_at     BIGINT NOT NULL,
    used_at        BIGINT
);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    grant_id   UUID NOT NULL REFERENCES grants (id),
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT
);
CREATE INDEX refresh_tokens_grant_idx ON refresh_tokens (grant_id);

CREATE TABLE consents (
    citizen_id UUID NOT NULL REFERENCES citizens (id),
    client_id  TEXT NOT NULL REFERENCES clients (id),
    scope      TEXT NOT NULL,
    granted_at BIGINT NOT NULL,
    PRIMARY KEY (citizen_id, client_id, scope)
);

CREATE TABLE sign_ins (
    id         UUID PRIMARY KEY,
    citizen_id UUID NOT NULL REFERENCES citizens (id),
    client_id  TEXT NOT NULL REFERENCES clients (id),
    at         BIGINT NOT NULL,
    claims     TEXT NOT NULL
);
CREATE INDEX sign_ins_citizen_idx ON sign_ins (citizen_id, at);
