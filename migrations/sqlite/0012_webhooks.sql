-- Outbound webhooks (Standard Webhooks): endpoints, what each subscribes to, the events
-- recorded in the transaction of the change that caused them, and one delivery per (event,
-- endpoint) retried on a schedule.

CREATE TABLE webhook_endpoints (
    id                    TEXT PRIMARY KEY,
    url                   TEXT NOT NULL,
    description           TEXT,
    enabled               BIGINT NOT NULL DEFAULT 1,
    -- Why it was disabled: 'admin', 'gone' (the receiver answered 410) or 'failing' (every
    -- delivery failed for 5 days). NULL while enabled.
    disabled_reason       TEXT,
    -- The signing secret (`whsec_…`), encrypted with SECRETS_ENCRYPTION_KEY when one is set
    -- (`v1:…`), else kept as `plain:whsec_…`. Never returned after creation, never logged.
    secret                TEXT NOT NULL,
    -- After a rotation the old secret still signs, beside the new one, until previous_until.
    previous_secret       TEXT,
    previous_until        BIGINT,
    -- The first failure of an unbroken run of failed attempts; NULL after any success.
    failing_since         BIGINT,
    created_at            BIGINT NOT NULL,
    updated_at            BIGINT NOT NULL
);

-- The event types an endpoint receives; '*' is every type.
CREATE TABLE webhook_subscriptions (
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_type  TEXT NOT NULL,
    PRIMARY KEY (endpoint_id, event_type)
);

-- The envelope exactly as it is signed and sent, every attempt.
CREATE TABLE webhook_events (
    id          TEXT PRIMARY KEY,
    type        TEXT NOT NULL,
    payload     TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

-- seq orders one endpoint's deliveries: only the lowest pending one of an endpoint is sent, so
-- events reach it in the order they were recorded.
CREATE TABLE webhook_deliveries (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    id               TEXT NOT NULL UNIQUE,
    endpoint_id      TEXT NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    event_id         TEXT NOT NULL REFERENCES webhook_events (id),
    type             TEXT NOT NULL,
    status           TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    locked_until     BIGINT NOT NULL DEFAULT 0,
    last_status_code BIGINT,
    last_latency_ms  BIGINT,
    last_response    TEXT,
    created_at       BIGINT NOT NULL,
    updated_at       BIGINT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_endpoint ON webhook_deliveries (endpoint_id, status, seq);
CREATE INDEX webhook_deliveries_event ON webhook_deliveries (event_id);
CREATE INDEX webhook_deliveries_created ON webhook_deliveries (created_at);
