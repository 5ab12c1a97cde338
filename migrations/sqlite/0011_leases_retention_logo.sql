-- Offering syncs, backfill runs: a claim carries a lease and its holder, so only a lapsed claim
-- is taken over (never one another live replica holds), and a holder that lost its lease
-- learns it when it renews.
ALTER TABLE programs ADD COLUMN offering_lease_until BIGINT NOT NULL DEFAULT 0;
ALTER TABLE programs ADD COLUMN offering_lease_owner TEXT;
ALTER TABLE backfill_runs ADD COLUMN lease_owner TEXT;

-- The brand logo, in the database so every replica serves it (at most 2 MB).
CREATE TABLE brand_logo (
    id           BIGINT PRIMARY KEY CHECK (id = 1),
    content_type TEXT NOT NULL,
    version      BIGINT NOT NULL,
    bytes        BLOB NOT NULL
);

-- The daily cleanup deletes by age.
CREATE INDEX sessions_expiry ON sessions (expires_at);
CREATE INDEX magic_links_expiry ON magic_links (expires_at);
CREATE INDEX admin_sessions_expiry ON admin_sessions (expires_at);
CREATE INDEX mail_outbox_sent ON mail_outbox (status, sent_at);
CREATE INDEX job_slots_claimed ON job_slots (claimed_at);
