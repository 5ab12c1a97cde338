-- Every index costs each click write. Per-link counts are read per partner (clicks_partner_ts
-- serves them); customer ids are set on few clicks, so their index skips the rest.
DROP INDEX clicks_link;
DROP INDEX clicks_user;
CREATE INDEX clicks_user ON clicks (user_id, ts) WHERE user_id IS NOT NULL;
