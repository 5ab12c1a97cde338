-- Compound commission rules (JSON text; NULL on rows written before: derived from the legacy
-- single-rule columns, which stay as the mirror of the first `every` rule).
ALTER TABLE programs ADD COLUMN commission_rules TEXT;
ALTER TABLE partner_commissions ADD COLUMN commission_rules TEXT;

-- Which rule priced a commission, and when it was paid.
ALTER TABLE commissions ADD COLUMN rule_trigger TEXT;
ALTER TABLE commissions ADD COLUMN paid_at BIGINT;

-- Clicks the Network reports may carry a fraud flag (a flagged click earns nothing) and a
-- country (two letters, lower case).
ALTER TABLE clicks ADD COLUMN fraud_flag TEXT;
ALTER TABLE clicks ADD COLUMN country TEXT;

-- The first commission-earning event of a customer with a partner in a program. The primary
-- key decides "first" inside the event's write transaction: of concurrent events for one
-- customer, exactly one inserts this row.
CREATE TABLE commission_firsts (
    partner_id    TEXT NOT NULL,
    program_id    TEXT NOT NULL,
    customer_key  TEXT NOT NULL,
    event_id      TEXT NOT NULL,
    first_at      BIGINT NOT NULL,
    PRIMARY KEY (partner_id, program_id, customer_key)
);
CREATE INDEX commission_firsts_customer ON commission_firsts (partner_id, customer_key, first_at);

-- Commissions earned before this migration: their customers' first commission-earning events,
-- so a returning customer is not priced as "first" again.
INSERT INTO commission_firsts (partner_id, program_id, customer_key, event_id, first_at)
SELECT c.partner_id, c.program_id,
       CASE WHEN c.user_id IS NOT NULL THEN 'user:' || c.user_id ELSE 'click:' || e.click_id END,
       MIN(c.event_id), MIN(e.ts)
FROM commissions c JOIN events e ON e.id = c.event_id
WHERE c.status <> 'reversed' AND (c.user_id IS NOT NULL OR e.click_id IS NOT NULL)
GROUP BY c.partner_id, c.program_id,
         CASE WHEN c.user_id IS NOT NULL THEN 'user:' || c.user_id ELSE 'click:' || e.click_id END
ON CONFLICT DO NOTHING;
