-- Stripe Connect onboarding and the Stripe webhook inbox.
--
-- A partner's connected account status as last read from Stripe (GET /v1/accounts/:id) or
-- told by an account.updated event: NULL until known. stripe_status_at (epoch ms) is the time
-- of that reading (the event's `created` for a webhook), so an older event arriving late never
-- overwrites a newer reading. Changing stripe_connect_account_id clears them.
ALTER TABLE partners ADD COLUMN stripe_details_submitted BIGINT;
ALTER TABLE partners ADD COLUMN stripe_payouts_enabled BIGINT;
ALTER TABLE partners ADD COLUMN stripe_status_at BIGINT;
CREATE INDEX partners_stripe_account ON partners (stripe_connect_account_id)
    WHERE stripe_connect_account_id IS NOT NULL;

-- Verified Stripe events, stored by Stripe's event id before the webhook is answered, then
-- processed from here by lease-claiming workers (the same queue columns as mail_outbox).
-- status: pending | processed | ignored | dead. outcome: what processing concluded
-- (recorded, ignored, ignored_no_attribution, duplicate, dead).
CREATE TABLE stripe_events (
    id               TEXT PRIMARY KEY,
    type             TEXT NOT NULL,
    payload          TEXT NOT NULL,
    object_id        TEXT,
    livemode         BIGINT NOT NULL DEFAULT 0,
    stripe_created   BIGINT,
    status           TEXT NOT NULL DEFAULT 'pending'
                     CHECK (status IN ('pending', 'processed', 'ignored', 'dead')),
    outcome          TEXT,
    attempts         BIGINT NOT NULL DEFAULT 0,
    next_attempt_at  BIGINT NOT NULL,
    locked_until     BIGINT NOT NULL DEFAULT 0,
    last_error       TEXT,
    received_at      BIGINT NOT NULL,
    processed_at     BIGINT
);
CREATE INDEX stripe_events_due ON stripe_events (status, next_attempt_at);
CREATE INDEX stripe_events_received ON stripe_events (received_at, id);
CREATE INDEX stripe_events_status_received ON stripe_events (status, received_at, id);
