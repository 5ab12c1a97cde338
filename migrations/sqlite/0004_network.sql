-- The Network connection (one row), cron slots claimed across replicas, the partner push
-- outbox and backfill runs.

CREATE TABLE network_connection (
    id                    BIGINT PRIMARY KEY CHECK (id = 1),
    vendor_id             TEXT,
    -- Encrypted with SECRETS_ENCRYPTION_KEY; never returned, never logged.
    vendor_token_enc      TEXT,
    display_name          TEXT,
    status                TEXT,
    tier                  TEXT,
    scoped_key_id         TEXT,
    pending_vendor_id     TEXT,
    pending_scoped_key_id TEXT,
    auto_enroll           BIGINT NOT NULL DEFAULT 0,
    connected_at          BIGINT,
    last_heartbeat_at     BIGINT,
    last_heartbeat_sent   BIGINT,
    last_heartbeat_reason TEXT,
    updated_at            BIGINT NOT NULL
);
INSERT INTO network_connection (id, updated_at) VALUES (1, 0);

-- One row per (job, scheduled slot): the replica that inserts it runs that slot.
CREATE TABLE job_slots (
    job        TEXT NOT NULL,
    slot       BIGINT NOT NULL,
    claimed_at BIGINT NOT NULL,
    PRIMARY KEY (job, slot)
);

-- Partner pushes to the Network (transactional outbox).
CREATE TABLE network_outbox (
    id              TEXT PRIMARY KEY,
    partner_id      TEXT NOT NULL,
    payload         TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('pending', 'done', 'dead')),
    attempts        BIGINT NOT NULL DEFAULT 0,
    next_attempt_at BIGINT NOT NULL,
    locked_until    BIGINT NOT NULL DEFAULT 0,
    last_error      TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
-- At most one pending push per partner: a newer state replaces the older one.
CREATE UNIQUE INDEX network_outbox_one_pending ON network_outbox (partner_id) WHERE status = 'pending';
CREATE INDEX network_outbox_due ON network_outbox (status, next_attempt_at);

CREATE TABLE backfill_runs (
    id            TEXT PRIMARY KEY,
    status        TEXT NOT NULL CHECK (status IN ('running', 'done')),
    total         BIGINT NOT NULL DEFAULT 0,
    pushed        BIGINT NOT NULL DEFAULT 0,
    pre_existing  BIGINT NOT NULL DEFAULT 0,
    queued        BIGINT NOT NULL DEFAULT 0,
    failed        BIGINT NOT NULL DEFAULT 0,
    -- Resume point: partners are walked in (created_at, id) order.
    after_created BIGINT,
    after_id      TEXT,
    lease_until   BIGINT NOT NULL DEFAULT 0,
    started_at    BIGINT NOT NULL,
    finished_at   BIGINT
);

CREATE INDEX partners_live ON partners (revoked_at);
CREATE INDEX partners_network_pending ON partners (created_at, id) WHERE network_creator_id IS NULL;
