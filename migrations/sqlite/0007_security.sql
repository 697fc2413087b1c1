-- Security hardening.

-- Refused self-enrollments that match a citizen open at most one case per
-- matched person; repeats add nothing (the oldest open attempt stays).
UPDATE enrollment_duplicates SET resolved_at = attempted_at, resolution = 'repeated'
WHERE resolved_at IS NULL AND duplicate_citizen_id IS NULL
  AND EXISTS (
    SELECT 1 FROM enrollment_duplicates o
    WHERE o.matched_citizen_id = enrollment_duplicates.matched_citizen_id
      AND o.resolved_at IS NULL AND o.duplicate_citizen_id IS NULL
      AND (o.attempted_at < enrollment_duplicates.attempted_at
           OR (o.attempted_at = enrollment_duplicates.attempted_at
               AND o.id < enrollment_duplicates.id)));
CREATE UNIQUE INDEX enrollment_duplicates_one_open_attempt
    ON enrollment_duplicates (matched_citizen_id)
    WHERE resolved_at IS NULL AND duplicate_citizen_id IS NULL;

-- Activation codes: wrong dates of birth counted for good (a code locks
-- after ten, until a registrar unlocks it) and an expiry. Codes imported
-- before expire 180 days after their import.
ALTER TABLE register_entries ADD COLUMN wrong_birth_dates INTEGER NOT NULL DEFAULT 0;
ALTER TABLE register_entries ADD COLUMN locked_at INTEGER;
ALTER TABLE register_entries ADD COLUMN code_expires_at INTEGER;
UPDATE register_entries SET code_expires_at = (
    SELECT i.imported_at + 180 * 86400 FROM register_imports i
    WHERE i.id = register_entries.import_id);

-- Duplicate-check keys are confusable skeletons from version 2 on; older
-- keys are recomputed at start-up (registry::rekey_citizens).
ALTER TABLE citizens ADD COLUMN dedup_version INTEGER NOT NULL DEFAULT 1;
CREATE INDEX citizens_dedup_stale_idx ON citizens (id) WHERE dedup_version < 2;

-- One row per identity key being enrolled: taking its row lock serialises
-- the duplicate check of parallel enrollments of one person.
CREATE TABLE identity_locks (
    dedup_key TEXT PRIMARY KEY
);

-- A passkey that reported a signature counter going backwards is disabled
-- until a registrar has reviewed it.
ALTER TABLE passkeys ADD COLUMN disabled_at INTEGER;

-- Resource servers allowed to introspect another client's tokens.
CREATE TABLE client_introspectors (
    client_id          TEXT NOT NULL REFERENCES clients (id),
    resource_server_id TEXT NOT NULL REFERENCES clients (id),
    PRIMARY KEY (client_id, resource_server_id)
);

-- An invitation may name the one citizen who can accept it. Bootstrap
-- invitations (made while nobody holds the admin role) are the only ones a
-- self-asserted citizen may accept for admin; one is live at a time.
ALTER TABLE staff_invitations ADD COLUMN for_national_id TEXT;
ALTER TABLE staff_invitations ADD COLUMN bootstrap BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE staff_invitations SET bootstrap = TRUE WHERE created_by = 'system';

-- One identity document verifies one living citizen.
CREATE INDEX proofing_records_document_idx ON proofing_records (document_hash);
