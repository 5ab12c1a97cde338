-- Stripe billing: sales recorded from Stripe's invoices and checkouts, reversed (in full or in
-- part) by refunds and lost disputes, held while a dispute is open.
--
-- A commission may now be `on_hold` (a dispute is open): not approvable, not payable, in no
-- payout. hold_from is the status it returns to when the hold is released. reversed_minor is
-- how much of it reversals have taken back so far (never more than amount_minor); what a payout
-- pays of an unpaid commission is amount_minor - reversed_minor.
ALTER TABLE commissions DROP CONSTRAINT commissions_status_check;
ALTER TABLE commissions ADD CONSTRAINT commissions_status_check
    CHECK (status IN ('accrued', 'approved', 'paid', 'reversed', 'on_hold'));
ALTER TABLE commissions ADD COLUMN reversed_minor BIGINT NOT NULL DEFAULT 0;
ALTER TABLE commissions ADD COLUMN hold_from TEXT;
UPDATE commissions SET reversed_minor = amount_minor WHERE status = 'reversed';
ALTER TABLE commissions ADD CONSTRAINT commissions_reversed_bounds
    CHECK (reversed_minor >= 0 AND reversed_minor <= amount_minor);

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
