-- Enrollment campaigns and their counters. Every enrollment and every
-- lifecycle change updates the counters in its own transaction (the triggers
-- below), so dashboards read counters and never the citizens table.
--
-- A citizen counts as enrolled while active or suspended; revocation (also
-- by a merge) and death take them off the count on the day it happens.
-- Days are UTC days since the Unix epoch.

CREATE TABLE campaigns (
    id            UUID PRIMARY KEY,
    name          TEXT NOT NULL,
    -- Cohort: at least this age on the deadline, i.e. born on or before
    -- born_by; both NULL when everyone in scope counts.
    min_age       INTEGER,
    born_by       DATE,
    -- NULL: the target is the register rows in scope.
    target_number BIGINT,
    starts_on     DATE NOT NULL,
    deadline      DATE NOT NULL,
    created_by    TEXT NOT NULL,
    created_at    BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);

-- Every region in a campaign's scope: the chosen ones (root) and all their
-- sub-regions. path is the chain of codes from the top, '/NTH/NTH-HL/', so a
-- sub-tree is one LIKE. register_rows counts the register rows in the
-- region that fall in the cohort; imports keep it current.
CREATE TABLE campaign_regions (
    campaign_id   UUID NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    region_code   TEXT NOT NULL REFERENCES regions (code),
    root          BOOLEAN NOT NULL,
    path          TEXT NOT NULL,
    register_rows BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (campaign_id, region_code)
);
CREATE INDEX campaign_regions_region_idx ON campaign_regions (region_code);

-- Net change of the enrolled count per campaign, region and day.
CREATE TABLE campaign_counts (
    campaign_id UUID NOT NULL REFERENCES campaigns (id) ON DELETE CASCADE,
    region_code TEXT NOT NULL,
    day         BIGINT NOT NULL,
    enrolled    BIGINT NOT NULL,
    PRIMARY KEY (campaign_id, region_code, day)
);

-- Net change of the enrolled count per region and day, whatever the
-- campaigns; a new campaign without a cohort starts from these.
CREATE TABLE enrollment_counts (
    region_code TEXT NOT NULL,
    day         BIGINT NOT NULL,
    enrolled    BIGINT NOT NULL,
    PRIMARY KEY (region_code, day)
);

-- "Not yet enrolled" reads unclaimed register rows region by region.
CREATE INDEX register_entries_unclaimed_idx ON register_entries (region_code, register_ref)
    WHERE citizen_id IS NULL;

CREATE FUNCTION count_enrollment(region TEXT, born DATE, at BIGINT, delta BIGINT)
RETURNS void AS $$
BEGIN
    INSERT INTO enrollment_counts (region_code, day, enrolled)
        VALUES (region, at / 86400, delta)
        ON CONFLICT (region_code, day)
        DO UPDATE SET enrolled = enrollment_counts.enrolled + EXCLUDED.enrolled;
    INSERT INTO campaign_counts (campaign_id, region_code, day, enrolled)
        SELECT cr.campaign_id, region, at / 86400, delta
        FROM campaign_regions cr JOIN campaigns c ON c.id = cr.campaign_id
        WHERE cr.region_code = region AND (c.born_by IS NULL OR born <= c.born_by)
        ON CONFLICT (campaign_id, region_code, day)
        DO UPDATE SET enrolled = campaign_counts.enrolled + EXCLUDED.enrolled;
END;
$$ LANGUAGE plpgsql;

CREATE FUNCTION citizens_counted() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.status IN ('active', 'suspended') THEN
        PERFORM count_enrollment(OLD.region_code, OLD.birth_date, NEW.updated_at, -1);
    END IF;
    IF NEW.status IN ('active', 'suspended') THEN
        PERFORM count_enrollment(NEW.region_code, NEW.birth_date,
            CASE WHEN TG_OP = 'INSERT' THEN NEW.created_at ELSE NEW.updated_at END, 1);
    END IF;
    RETURN NULL;
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER citizens_counted_insert AFTER INSERT ON citizens
    FOR EACH ROW EXECUTE FUNCTION citizens_counted();
CREATE TRIGGER citizens_counted_update AFTER UPDATE OF status, region_code, birth_date ON citizens
    FOR EACH ROW
    WHEN ((OLD.status IN ('active', 'suspended')) <> (NEW.status IN ('active', 'suspended'))
          OR OLD.region_code <> NEW.region_code OR OLD.birth_date <> NEW.birth_date)
    EXECUTE FUNCTION citizens_counted();

-- Citizens enrolled before this migration start the region counters.
INSERT INTO enrollment_counts (region_code, day, enrolled)
    SELECT region_code, created_at / 86400, COUNT(*) FROM citizens
    WHERE status IN ('active', 'suspended') GROUP BY region_code, created_at / 86400;
