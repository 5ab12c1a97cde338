-- Clicks the database refused (a value it cannot store): set aside with the error so the rest
-- of their batch goes in and the writer never retries them forever.
CREATE TABLE click_dead_letters (
    id          TEXT PRIMARY KEY,
    payload     TEXT NOT NULL,
    error       TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- Approval is refused before a commission matures (its holdback); an admin may force it, and
-- that is recorded on the commission.
ALTER TABLE commissions ADD COLUMN approved_at BIGINT;
ALTER TABLE commissions ADD COLUMN approval_forced BIGINT NOT NULL DEFAULT 0;

-- A console session lives only as long as the key that opened it: an admin API key (key_id,
-- ended with the key) or the configured ADMIN_API_KEY (key_digest, its SHA-256: changing the
-- setting ends its sessions). Sessions from before carry neither and are no longer valid.
ALTER TABLE admin_sessions ADD COLUMN key_id TEXT;
ALTER TABLE admin_sessions ADD COLUMN key_digest TEXT;
CREATE INDEX admin_sessions_key ON admin_sessions (key_id) WHERE key_id IS NOT NULL;

-- Self-sign-up grants only the programs open to it (the default program is, others are not
-- unless the brand says so).
ALTER TABLE programs ADD COLUMN open_to_signup BIGINT NOT NULL DEFAULT 0;
UPDATE programs SET open_to_signup = 1 WHERE id = 'cmp_default';
