-- Payouts: approved commissions leave in payouts (Stripe Connect transfers or a manual rail);
-- a reversal after payment becomes a clawback that the next payout in its currency nets.

-- Daily auto-approval of matured commissions, per program (on by default).
ALTER TABLE programs ADD COLUMN auto_approve BIGINT NOT NULL DEFAULT 1;

CREATE TABLE payouts (
    id                 TEXT PRIMARY KEY,
    partner_id         TEXT NOT NULL,
    -- Net: the commissions minus the clawbacks it nets. Never negative.
    amount_minor       BIGINT NOT NULL CHECK (amount_minor > 0),
    gross_minor        BIGINT NOT NULL,
    clawback_minor     BIGINT NOT NULL DEFAULT 0,
    currency           TEXT NOT NULL,
    method             TEXT NOT NULL CHECK (method IN ('stripe', 'manual')),
    status             TEXT NOT NULL CHECK (status IN ('pending', 'processing', 'paid', 'failed', 'canceled')),
    destination        TEXT,
    idempotency_key    TEXT NOT NULL,
    period_start       BIGINT,
    period_end         BIGINT,
    created_at         BIGINT NOT NULL,
    updated_at         BIGINT NOT NULL,
    paid_at            BIGINT,
    failure_reason     TEXT,
    stripe_transfer_id TEXT,
    reference          TEXT,
    attempts           BIGINT NOT NULL DEFAULT 0,
    next_attempt_at    BIGINT NOT NULL DEFAULT 0,
    locked_until       BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX payouts_page ON payouts (created_at DESC, id DESC);
CREATE INDEX payouts_partner ON payouts (partner_id, created_at DESC, id DESC);
CREATE INDEX payouts_due ON payouts (status, next_attempt_at);

-- What each payout held (kept after a cancel or failure, for the record).
CREATE TABLE payout_items (
    payout_id     TEXT NOT NULL,
    commission_id TEXT NOT NULL,
    amount_minor  BIGINT NOT NULL,
    PRIMARY KEY (payout_id, commission_id)
);

-- The live payout holding a commission: one column, so a commission is in at most one.
ALTER TABLE commissions ADD COLUMN payout_id TEXT;
ALTER TABLE commissions ADD COLUMN reversal_reason TEXT;
CREATE INDEX commissions_payable ON commissions (status, partner_id, currency) WHERE payout_id IS NULL;

CREATE TABLE clawbacks (
    id            TEXT PRIMARY KEY,
    partner_id    TEXT NOT NULL,
    commission_id TEXT NOT NULL,
    amount_minor  BIGINT NOT NULL CHECK (amount_minor > 0),
    currency      TEXT NOT NULL,
    reason        TEXT,
    created_at    BIGINT NOT NULL,
    -- The live payout netting it; NULL while outstanding.
    payout_id     TEXT
);
CREATE INDEX clawbacks_outstanding ON clawbacks (partner_id, currency) WHERE payout_id IS NULL;

-- The clawbacks a payout nets (kept after a failure, so a retry can net them again).
CREATE TABLE payout_clawbacks (
    payout_id   TEXT NOT NULL,
    clawback_id TEXT NOT NULL,
    PRIMARY KEY (payout_id, clawback_id)
);
