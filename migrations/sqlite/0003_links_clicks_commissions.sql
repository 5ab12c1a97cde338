-- Share links, clicks, conversion events and commissions.
-- Amounts are integer minor units of their currency.

CREATE TABLE links (
    id              TEXT PRIMARY KEY,
    link_key        TEXT NOT NULL UNIQUE,
    partner_id      TEXT NOT NULL REFERENCES partners (id) ON DELETE CASCADE,
    program_id      TEXT NOT NULL REFERENCES programs (id) ON DELETE CASCADE,
    -- NULL: the program's destination (follows it when the program changes).
    override_url    TEXT,
    created_at      BIGINT NOT NULL
);
CREATE INDEX links_partner ON links (partner_id, created_at);

-- Written in batches by the redirect; no foreign keys so a batch never fails on one row.
CREATE TABLE clicks (
    id           TEXT PRIMARY KEY,
    link_id      TEXT NOT NULL,
    partner_id   TEXT NOT NULL,
    program_id   TEXT NOT NULL,
    ts           BIGINT NOT NULL,
    ip_hash      TEXT,
    user_agent   TEXT,
    referer      TEXT,
    landing_url  TEXT,
    utm_source   TEXT,
    utm_medium   TEXT,
    utm_campaign TEXT,
    utm_term     TEXT,
    utm_content  TEXT,
    revoked      BIGINT NOT NULL DEFAULT 0,
    source       TEXT NOT NULL DEFAULT 'redirect',
    user_id      TEXT
);
CREATE INDEX clicks_partner_ts ON clicks (partner_id, ts);
CREATE INDEX clicks_link ON clicks (link_id);
CREATE INDEX clicks_user ON clicks (user_id, ts);

CREATE TABLE events (
    id                TEXT PRIMARY KEY,
    external_event_id TEXT NOT NULL UNIQUE,
    type              TEXT NOT NULL,
    value_minor       BIGINT NOT NULL,
    currency          TEXT NOT NULL,
    click_id          TEXT,
    user_id           TEXT,
    ts                BIGINT NOT NULL,
    partner_id        TEXT,
    program_id        TEXT,
    attributed        BIGINT NOT NULL DEFAULT 0,
    -- The answer given the first time, replayed for a duplicate externalEventId.
    result            TEXT NOT NULL DEFAULT '{}',
    created_at        BIGINT NOT NULL
);
CREATE INDEX events_partner_ts ON events (partner_id, ts);
CREATE INDEX events_ts ON events (ts);

CREATE TABLE commissions (
    id            TEXT PRIMARY KEY,
    partner_id    TEXT NOT NULL,
    program_id    TEXT NOT NULL,
    event_id      TEXT NOT NULL UNIQUE,
    user_id       TEXT,
    amount_minor  BIGINT NOT NULL,
    currency      TEXT NOT NULL,
    status        TEXT NOT NULL CHECK (status IN ('accrued', 'approved', 'paid', 'reversed')),
    rule_source   TEXT NOT NULL,
    accrued_at    BIGINT NOT NULL,
    mature_at     BIGINT NOT NULL,
    updated_at    BIGINT NOT NULL
);
CREATE INDEX commissions_page ON commissions (accrued_at DESC, id DESC);
CREATE INDEX commissions_partner ON commissions (partner_id, accrued_at DESC, id DESC);
CREATE INDEX commissions_partner_user ON commissions (partner_id, user_id);
