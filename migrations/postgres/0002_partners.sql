-- Programs (campaigns), partners and what hangs off them: commission snapshots, magic
-- links, sessions, the durable mail outbox and instance settings.
-- A partner's granted programs are a space-separated list on its row (program_ids): the
-- partner read is the hottest query and must stay one primary-key lookup.
-- Commission values are stored exactly as integers scaled by 10^4: a percent of 12.5 is
-- 125000, a fixed amount of 5.00 (major units) is 50000.

CREATE TABLE programs (
    id                      TEXT PRIMARY KEY,
    name                    TEXT NOT NULL,
    destination_url         TEXT NOT NULL,
    commission_type         TEXT NOT NULL CHECK (commission_type IN ('percent', 'fixed')),
    commission_value        BIGINT NOT NULL,
    currency                TEXT NOT NULL,
    holdback_days           BIGINT NOT NULL DEFAULT 0,
    attribution_window_days BIGINT NOT NULL DEFAULT 60,
    share_on_network        BIGINT NOT NULL DEFAULT 0,
    marketplace_description TEXT,
    network_offering_id     TEXT,
    network_offering_synced BIGINT NOT NULL DEFAULT 1,
    created_at              BIGINT NOT NULL,
    updated_at              BIGINT NOT NULL
);
-- The destination is filled with the public URL at first start-up.
INSERT INTO programs (id, name, destination_url, commission_type, commission_value, currency, created_at, updated_at)
VALUES ('cmp_default', 'Default program', '', 'percent', 100000, 'USD', 0, 0);

CREATE TABLE partners (
    id                        TEXT PRIMARY KEY,
    email                     TEXT NOT NULL UNIQUE,
    name                      TEXT NOT NULL,
    stripe_connect_account_id TEXT,
    metadata                  TEXT NOT NULL DEFAULT '{}',
    program_ids               TEXT NOT NULL DEFAULT '',
    profile                   TEXT,
    source                    TEXT NOT NULL,
    campaign_grant_source     TEXT NOT NULL DEFAULT 'admin',
    pending_review            BIGINT NOT NULL DEFAULT 0,
    email_verified_at         BIGINT,
    created_at                BIGINT NOT NULL,
    updated_at                BIGINT NOT NULL,
    activated_at              BIGINT,
    revoked_at                BIGINT,
    revoke_reason             TEXT,
    network_creator_id        TEXT,
    network_pre_existing      BIGINT,
    network_affiliations      BIGINT,
    network_synced_at         BIGINT
);
CREATE INDEX partners_page ON partners (created_at DESC, id DESC);

CREATE TABLE partner_commissions (
    partner_id       TEXT PRIMARY KEY REFERENCES partners (id) ON DELETE CASCADE,
    commission_type  TEXT NOT NULL CHECK (commission_type IN ('percent', 'fixed')),
    commission_value BIGINT NOT NULL,
    recurring        BIGINT NOT NULL DEFAULT 0,
    holdback_days    BIGINT,
    source           TEXT NOT NULL,
    snapshotted_at   BIGINT NOT NULL
);

CREATE TABLE magic_links (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    partner_id  TEXT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    purpose     TEXT NOT NULL,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);
CREATE INDEX magic_links_partner ON magic_links (partner_id);

CREATE TABLE sessions (
    id          TEXT PRIMARY KEY,
    token_hash  TEXT NOT NULL UNIQUE,
    partner_id  TEXT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    ended_at    BIGINT
);
CREATE INDEX sessions_partner ON sessions (partner_id);

CREATE TABLE mail_outbox (
    id              TEXT PRIMARY KEY,
    to_addr         TEXT NOT NULL,
    subject         TEXT NOT NULL,
    text_body       TEXT NOT NULL,
    html_body       TEXT NOT NULL,
    status          TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until    BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    sent_at         BIGINT
);
CREATE INDEX mail_outbox_due ON mail_outbox (status, next_attempt_at);

CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
