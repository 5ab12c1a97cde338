-- Stripe billing: sales recorded from Stripe's invoices and checkouts, reversed (in full or in
-- part) by refunds and lost disputes, held while a dispute is open.
--
-- A commission may now be `on_hold` (a dispute is open): not approvable, not payable, in no
-- payout. hold_from is the status it returns to when the hold is released. reversed_minor is
-- how much of it reversals have taken back so far (never more than amount_minor); what a payout
-- pays of an unpaid commission is amount_minor - reversed_minor. SQLite cannot alter a CHECK:
-- the table is rebuilt with its indexes.
CREATE TABLE commissions_new (
    id              TEXT PRIMARY KEY,
    partner_id      TEXT NOT NULL,
    program_id      TEXT NOT NULL,
    event_id        TEXT NOT NULL UNIQUE,
    user_id         TEXT,
    amount_minor    BIGINT NOT NULL,
    currency        TEXT NOT NULL,
    status          TEXT NOT NULL CHECK (status IN ('accrued', 'approved', 'paid', 'reversed', 'on_hold')),
    rule_source     TEXT NOT NULL,
    accrued_at      BIGINT NOT NULL,
    mature_at       BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL,
    rule_trigger    TEXT,
    paid_at         BIGINT,
    approved_at     BIGINT,
    approval_forced BIGINT NOT NULL DEFAULT 0,
    payout_id       TEXT,
    reversal_reason TEXT,
    reversed_minor  BIGINT NOT NULL DEFAULT 0,
    hold_from       TEXT,
    CHECK (reversed_minor >= 0 AND reversed_minor <= amount_minor)
);
INSERT INTO commissions_new (id, partner_id, program_id, event_id, user_id, amount_minor, currency,
    status, rule_source, accrued_at, mature_at, updated_at, rule_trigger, paid_at, approved_at,
    approval_forced, payout_id, reversal_reason, reversed_minor)
SELECT id, partner_id, program_id, event_id, user_id, amount_minor, currency,
    status, rule_source, accrued_at, mature_at, updated_at, rule_trigger, paid_at, approved_at,
    approval_forced, payout_id, reversal_reason,
    CASE WHEN status = 'reversed' THEN amount_minor ELSE 0 END
FROM commissions;
DROP TABLE commissions;
ALTER TABLE commissions_new RENAME TO commissions;
CREATE INDEX commissions_page ON commissions (accrued_at DESC, id DESC);
CREATE INDEX commissions_partner ON commissions (partner_id, accrued_at DESC, id DESC);
CREATE INDEX commissions_partner_user ON commissions (partner_id, user_id);
CREATE INDEX commissions_payable ON commissions (status, partner_id, currency) WHERE payout_id IS NULL;
-- Also made by 0018 (IF NOT EXISTS): kept here in case this migration runs after it.
CREATE INDEX IF NOT EXISTS commissions_program_accrued ON commissions (program_id, accrued_at DESC, id DESC);

-- Each reversal of a commission, full or partial: a refund, a lost dispute, an admin's reverse.
-- clawback_id: the clawback it recorded (the commission had been paid).
CREATE TABLE commission_reversals (
    id            TEXT PRIMARY KEY,
    commission_id TEXT NOT NULL,
    amount_minor  BIGINT NOT NULL CHECK (amount_minor > 0),
    currency      TEXT NOT NULL,
    source        TEXT NOT NULL,
    reason        TEXT,
    clawback_id   TEXT,
    created_at    BIGINT NOT NULL
);
CREATE INDEX commission_reversals_commission ON commission_reversals (commission_id, created_at);

-- Which recorded sale a Stripe object paid: the invoice, payment intent, charge or checkout
-- session id → the sale's externalEventId. Refunds and disputes find their sale here.
CREATE TABLE stripe_sales (
    stripe_ref        TEXT PRIMARY KEY,
    external_event_id TEXT NOT NULL,
    created_at        BIGINT NOT NULL
);

-- What a refund or dispute event waits for (the invoice, payment intent or charge whose sale is
-- not recorded yet): recording that sale re-queues it at once.
CREATE TABLE stripe_event_waits (
    stripe_ref TEXT NOT NULL,
    event_id   TEXT NOT NULL,
    PRIMARY KEY (stripe_ref, event_id)
);

-- The Stripe customer (cus_…) an event is about, so identifying a customer re-queues its
-- invoices that arrived before we knew who it was.
ALTER TABLE stripe_events ADD COLUMN customer_id TEXT;
CREATE INDEX stripe_events_customer ON stripe_events (customer_id) WHERE customer_id IS NOT NULL;
