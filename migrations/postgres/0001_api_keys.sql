-- API keys: admin, scoped and partner keys. Only the SHA-256 of a key is stored.
-- Conventions (both backends): ids and JSON are TEXT, timestamps are epoch milliseconds
-- (BIGINT), booleans are 0/1 integers, money is integer minor units.
CREATE TABLE api_keys (
    id           TEXT PRIMARY KEY,
    prefix       TEXT NOT NULL,
    key_hash     TEXT NOT NULL UNIQUE,
    kind         TEXT NOT NULL CHECK (kind IN ('admin', 'scoped', 'partner')),
    scopes       TEXT NOT NULL DEFAULT '',
    partner_id   TEXT,
    label        TEXT,
    created_at   BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at   BIGINT
);
CREATE INDEX api_keys_prefix ON api_keys (prefix);
CREATE INDEX api_keys_partner ON api_keys (partner_id) WHERE partner_id IS NOT NULL;
