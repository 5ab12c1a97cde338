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
