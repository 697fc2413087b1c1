-- Registry core: regions, citizens, audit entries.
-- Timestamps are seconds since the Unix epoch (UTC).

CREATE TABLE regions (
    code        TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    parent_code TEXT REFERENCES regions (code)
);
CREATE INDEX regions_parent_idx ON regions (parent_code);

CREATE TABLE citizens (
    id              BLOB PRIMARY KEY,
    national_id     TEXT NOT NULL UNIQUE CHECK (length(national_id) = 12),
    status          TEXT NOT NULL CHECK (status IN ('active', 'suspended', 'revoked', 'deceased')),
    assurance_level INTEGER NOT NULL CHECK (assurance_level IN (1, 2)),
    given_name      TEXT NOT NULL,
    family_name     TEXT NOT NULL,
    birth_date      TEXT NOT NULL,
    region_code     TEXT NOT NULL REFERENCES regions (code),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX citizens_region_idx ON citizens (region_code);

-- Append-only; each entry's hash covers the previous entry's hash.
CREATE TABLE audit_entries (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor      TEXT NOT NULL,
    action     TEXT NOT NULL,
    target     TEXT NOT NULL,
    details    TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL UNIQUE
);
