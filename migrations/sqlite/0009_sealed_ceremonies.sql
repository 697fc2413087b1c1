-- Ceremony state now travels with the client, sealed under a key derived
-- from the master key, so starting a ceremony writes nothing. What stays is
-- the mark of a finished ceremony: the hash of its challenge, recorded in
-- the transaction the ceremony completes, until it would have expired.
DROP TABLE ceremonies;

CREATE TABLE used_ceremonies (
    challenge_hash TEXT PRIMARY KEY,
    expires_at     INTEGER NOT NULL
);
CREATE INDEX used_ceremonies_expiry_idx ON used_ceremonies (expires_at);
