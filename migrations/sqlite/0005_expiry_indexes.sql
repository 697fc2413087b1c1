-- Rows nobody can use any more are swept by every instance once a minute;
-- these indexes let the sweep find them without reading whole tables.
CREATE INDEX sessions_expiry_idx ON sessions (expires_at);
CREATE INDEX authorization_requests_expiry_idx ON authorization_requests (expires_at);
CREATE INDEX throttles_window_idx ON throttles (window_start);
