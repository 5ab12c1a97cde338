-- A pending push's payload can be replaced by a newer state while a delivery is in flight;
-- the version tells the deliverer whether what it sent is still the latest.
ALTER TABLE network_outbox ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
ALTER TABLE network_outbox ADD COLUMN source TEXT NOT NULL DEFAULT 'admin_invite';
-- One backfill runs at a time; a second request joins it.
CREATE UNIQUE INDEX backfill_one_running ON backfill_runs (status) WHERE status = 'running';
