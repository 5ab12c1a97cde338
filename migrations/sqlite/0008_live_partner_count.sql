-- The heartbeat's partner count (partners not revoked), kept by triggers so that every insert,
-- revoke, reinstate and delete keeps it exact without a COUNT(*) over the whole roster.
-- SQLite serializes writes, so one counter row costs nothing extra.
CREATE TABLE partner_counts (
    shard BIGINT PRIMARY KEY,
    live  BIGINT NOT NULL
);
INSERT INTO partner_counts (shard, live) SELECT 0, COUNT(*) FROM partners WHERE revoked_at IS NULL;

CREATE TRIGGER partners_live_insert AFTER INSERT ON partners WHEN NEW.revoked_at IS NULL
BEGIN
    UPDATE partner_counts SET live = live + 1 WHERE shard = 0;
END;

CREATE TRIGGER partners_live_delete AFTER DELETE ON partners WHEN OLD.revoked_at IS NULL
BEGIN
    UPDATE partner_counts SET live = live - 1 WHERE shard = 0;
END;

CREATE TRIGGER partners_live_revoke AFTER UPDATE OF revoked_at ON partners
WHEN OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL
BEGIN
    UPDATE partner_counts SET live = live - 1 WHERE shard = 0;
END;

CREATE TRIGGER partners_live_reinstate AFTER UPDATE OF revoked_at ON partners
WHEN OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS NULL
BEGIN
    UPDATE partner_counts SET live = live + 1 WHERE shard = 0;
END;
