-- The heartbeat's partner count (partners not revoked), kept by a trigger so that every
-- insert, revoke, reinstate and delete keeps it exact without a COUNT(*) over the whole roster.
-- Sixteen counter rows, chosen by a hash of the partner id, so concurrent creates do not all
-- queue on one row lock; the count is their sum.
CREATE TABLE partner_counts (
    shard BIGINT PRIMARY KEY,
    live  BIGINT NOT NULL DEFAULT 0
);
INSERT INTO partner_counts (shard, live) SELECT s, 0 FROM generate_series(0, 15) AS s;
UPDATE partner_counts SET live = (SELECT COUNT(*) FROM partners WHERE revoked_at IS NULL) WHERE shard = 0;

CREATE FUNCTION partners_live_count() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    delta BIGINT := 0;
    key   TEXT;
BEGIN
    IF TG_OP = 'INSERT' THEN
        key := NEW.id;
        IF NEW.revoked_at IS NULL THEN delta := 1; END IF;
    ELSIF TG_OP = 'DELETE' THEN
        key := OLD.id;
        IF OLD.revoked_at IS NULL THEN delta := -1; END IF;
    ELSE
        key := NEW.id;
        IF OLD.revoked_at IS NULL AND NEW.revoked_at IS NOT NULL THEN delta := -1;
        ELSIF OLD.revoked_at IS NOT NULL AND NEW.revoked_at IS NULL THEN delta := 1;
        END IF;
    END IF;
    IF delta <> 0 THEN
        UPDATE partner_counts SET live = live + delta WHERE shard = (hashtext(key) & 15);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER partners_live_count AFTER INSERT OR DELETE OR UPDATE OF revoked_at ON partners
FOR EACH ROW EXECUTE FUNCTION partners_live_count();
