-- Registry operations: staff roles and invitations, the population register
-- with activation codes, registrar queues and proofing records, lifecycle
-- links, guessing throttles, and the head of the hash-chained audit log.

-- Staff roles are held by citizens. A registrar row names one region (its
-- sub-regions included); admin and auditor rows have region_code ''.
CREATE TABLE staff_roles (
    citizen_id  UUID NOT NULL REFERENCES citizens (id),
    role        TEXT NOT NULL CHECK (role IN ('admin', 'registrar', 'auditor')),
    region_code TEXT NOT NULL DEFAULT '',
    granted_at  BIGINT NOT NULL,
    PRIMARY KEY (citizen_id, role, region_code)
);

-- One-time invitations to a role; the token is stored only as its SHA-256.
CREATE TABLE staff_invitations (
    token_hash TEXT PRIMARY KEY,
    role       TEXT NOT NULL CHECK (role IN ('admin', 'registrar', 'auditor')),
    regions    TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at    BIGINT,
    used_by    UUID
);

-- The population register. Activation codes are kept only as a keyed hash
-- (not unique: at a billion rows two 60-bit codes may collide, and the birth
-- date tells them apart).
CREATE TABLE register_entries (
    register_ref TEXT PRIMARY KEY,
    given_name   TEXT NOT NULL,
    family_name  TEXT NOT NULL,
    birth_date   DATE NOT NULL,
    region_code  TEXT NOT NULL REFERENCES regions (code),
    phone        TEXT,
    code_hash    TEXT NOT NULL,
    import_id    UUID NOT NULL,
    import_line  BIGINT NOT NULL,
    citizen_id   UUID,
    claimed_at   BIGINT
);
CREATE INDEX register_entries_code_idx ON register_entries (code_hash);
CREATE INDEX register_entries_region_idx ON register_entries (region_code);

CREATE TABLE register_imports (
    id          UUID PRIMARY KEY,
    source      TEXT NOT NULL,
    row_count   BIGINT NOT NULL,
    imported_by TEXT NOT NULL,
    imported_at BIGINT NOT NULL
);

ALTER TABLE citizens ADD COLUMN register_ref TEXT;
CREATE UNIQUE INDEX citizens_register_ref_idx ON citizens (register_ref);
ALTER TABLE citizens ADD COLUMN merged_into UUID;

-- A duplicate case may hold a second citizen (enrolled from the register
-- while a self-enrolled record already matched), which a merge revokes.
ALTER TABLE enrollment_duplicates ADD COLUMN duplicate_citizen_id UUID;
ALTER TABLE enrollment_duplicates ADD COLUMN resolution TEXT;
ALTER TABLE enrollment_duplicates ADD COLUMN resolved_by UUID;
CREATE INDEX enrollment_duplicates_open_idx ON enrollment_duplicates (attempted_at)
    WHERE resolved_at IS NULL;

-- Level-1 citizens asking a registrar to verify them; one open request each.
CREATE TABLE verification_requests (
    id           UUID PRIMARY KEY,
    citizen_id   UUID NOT NULL REFERENCES citizens (id),
    requested_at BIGINT NOT NULL,
    resolved_at  BIGINT,
    outcome      TEXT,
    resolved_by  UUID
);
CREATE UNIQUE INDEX verification_requests_open_idx ON verification_requests (citizen_id)
    WHERE resolved_at IS NULL;

-- NIST SP 800-63A proofing records: what evidence a registrar saw.
CREATE TABLE proofing_records (
    id                UUID PRIMARY KEY,
    citizen_id        UUID NOT NULL REFERENCES citizens (id),
    evidence_type     TEXT NOT NULL,
    issuing_authority TEXT NOT NULL,
    document_hash     TEXT NOT NULL,
    method            TEXT NOT NULL,
    registrar_id      UUID NOT NULL REFERENCES citizens (id),
    at                BIGINT NOT NULL
);
CREATE INDEX proofing_records_citizen_idx ON proofing_records (citizen_id);

-- Failure counters for guessing throttles, one fixed window per key.
CREATE TABLE throttles (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    failures     INTEGER NOT NULL
);

-- The audit log's head: the last sequence number and hash. Appending updates
-- this row first, which serialises concurrent appends across instances.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_head (id, seq, hash)
    VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
CREATE INDEX audit_entries_actor_idx ON audit_entries (actor, seq);
CREATE INDEX audit_entries_target_idx ON audit_entries (target, seq);
CREATE INDEX audit_entries_action_idx ON audit_entries (action, seq);

-- The application only appends; changing or removing an entry needs someone
-- to drop this trigger first, and the hash chain shows what they did.
CREATE FUNCTION audit_entries_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit entries are append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_entries_no_change BEFORE UPDATE OR DELETE ON audit_entries
    FOR EACH ROW EXECUTE FUNCTION audit_entries_append_only();
