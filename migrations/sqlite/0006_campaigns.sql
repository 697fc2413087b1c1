-- Enrollment campaigns and their counters. Every enrollment and every
-- lifecycle change updates the counters in its own transaction (the triggers
-- below), so dashboards read counters and never the citizens table.
--
-- A citizen counts as enrolled while active or suspended; revocation (also
-- by a merge) and death take them off the count on the day it happens.
-- Days are UTC days since the Unix epoch.

CREATE TABLE campaigns (
    id            BLOB PRIMARY KEY,
    name          TEXT NOT NULL,
    -- Cohort: at least this age on the deadline, i.e. born on or before
    -- born_by; both NULL when everyone in scope counts.
    min_age       INTEGER,
    born_by       TEXT,
    -- NULL: the target is the register rows in scope.
    target_number INTEGER,
    starts_on     TEXT NOT NULL,
    deadline      TEXT NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    updated_at    INTEGER NOT NULL
);

-- Every region in a campaign's scope: the chosen ones (root) and all their
-- sub-regions. path is the chain of codes from the top, '/NTH/NTH-HL/', so a
-- sub-tree is one LIKE. register_rows counts the register rows in the
-- region that fall in the cohort; imports keep it current.
CREATE TABLE campaign_regions (
    campaign_id   BLOB NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    region_code   TEXT NOT NULL REFERENCES regions (code),
    root          BOOLEAN NOT NULL,
    path          TEXT NOT NULL,
    register_rows INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, region_code)
);
CREATE INDEX campaign_regions_region_idx ON campaign_regions (region_code);

-- Net change of the enrolled count per campaign, region and day.
CREATE TABLE campaign_counts (
    campaign_id BLOB NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    region_code TEXT NOT NULL,
    day         INTEGER NOT NULL,
    enrolled    INTEGER NOT NULL,
    PRIMARY KEY (campaign_id, region_code, day)
);

-- Net change of the enrolled count per region and day, whatever the
-- campaigns; a new campaign without a cohort starts from these.
CREATE TABLE enrollment_counts (
    region_code TEXT NOT NULL,
    day         INTEGER NOT NULL,
    enrolled    INTEGER NOT NULL,
    PRIMARY KEY (region_code, day)
);

-- "Not yet enrolled" reads unclaimed register rows region by region.
CREATE INDEX register_entries_unclaimed_idx ON register_entries (region_code, register_ref)
    WHERE citizen_id IS NULL;

CREATE TRIGGER citizens_counted_insert AFTER INSERT ON citizens
WHEN NEW.status IN ('active', 'suspended')
BEGIN
    INSERT INTO enrollment_counts (region_code, day, enrolled)
        VALUES (NEW.region_code, NEW.created_at / 86400, 1)
        ON CONFLICT (region_code, day) DO UPDATE SET enrolled = enrolled + excluded.enrolled;
    INSERT INTO campaign_counts (campaign_id, region_code, day, enrolled)
        SELECT cr.campaign_id, NEW.region_code, NEW.created_at / 86400, 1
        FROM campaign_regions cr JOIN campaigns c ON c.id = cr.campaign_id
        WHERE cr.region_code = NEW.region_code
          AND (c.born_by IS NULL OR NEW.birth_date <= c.born_by)
        ON CONFLICT (campaign_id, region_code, day) DO UPDATE SET enrolled = enrolled + excluded.enrolled;
END;

-- Leaving the count (or moving region or birth date while counted).
CREATE TRIGGER citizens_uncounted_update AFTER UPDATE OF status, region_code, birth_date ON citizens
WHEN OLD.status IN ('active', 'suspended')
 AND (NEW.status NOT IN ('active', 'suspended')
      OR OLD.region_code <> NEW.region_code OR OLD.birth_date <> NEW.birth_date)
BEGIN
    INSERT INTO enrollment_counts (region_code, day, enrolled)
        VALUES (OLD.region_code, NEW.updated_at / 86400, -1)
        ON CONFLICT (region_code, day) DO UPDATE SET enrolled = enrolled + excluded.enrolled;
    INSERT INTO campaign_counts (campaign_id, region_code, day, enrolled)
        SELECT cr.campaign_id, OLD.region_code, NEW.updated_at / 86400, -1
        FROM campaign_regions cr JOIN campaigns c ON c.id = cr.campaign_id
        WHERE cr.region_code = OLD.region_code
          AND (c.born_by IS NULL OR OLD.birth_date <= c.born_by)
        ON CONFLICT (campaign_id, region_code, day) DO UPDATE SET enrolled = enrolled + excluded.enrolled;
END;

-- Joining the count on an update (or moving while counted).
CREATE TRIGGER citizens_counted_update AFTER UPDATE OF status, region_code, birth_date ON citizens
WHEN NEW.status IN ('active', 'suspended')
 AND (OLD.status NOT IN ('active', 'suspended')
      OR OLD.region_code <> NEW.region_code OR OLD.birth_date <> NEW.birth_date)
BEGIN
    INSERT INTO enrollment_counts (region_code, day, enrolled)
        VALUES (NEW.region_code, NEW.updated_at / 86400, 1)
        ON CONFLICT (region_code, day) DO UPDATE SET enrolled = enrolled + excluded.enrolled;
    INSERT INTO campaign_counts (campaign_id, region_code, day, enrolled)
        SELECT cr.campaign_id, NEW.region_code, NEW.updated_at / 86400, 1
        FROM campaign_regions cr JOIN campaigns c ON c.id = cr.campaign_id
        WHERE cr.region_code = NEW.region_code
          AND (c.born_by IS NULL OR NEW.birth_date <= c.born_by)
        ON CONFLICT (campaign_id, region_code, day) DO UPDATE SET enrolled = enrolled + excluded.enrolled;
END;

-- Citizens enrolled before this migration start the region counters.
INSERT INTO enrollment_counts (region_code, day, enrolled)
    SELECT region_code, created_at / 86400, COUNT(*) FROM citizens
    WHERE status IN ('active', 'suspended') GROUP BY region_code, created_at / 86400;
