-- Time series over 90 days read tens of thousands of conversions and commissions per request:
-- indexes that hold every column those queries read let them scan the index alone instead of
-- visiting each row (db/stats.rs). The program-wide click series sums click_daily by day.
CREATE INDEX events_partner_series ON events (partner_id, ts, attributed, currency, value_minor);
CREATE INDEX events_series ON events (ts, attributed, currency, value_minor);
CREATE INDEX commissions_partner_series ON commissions (partner_id, accrued_at, status, currency, amount_minor, reversed_minor);
CREATE INDEX commissions_series ON commissions (accrued_at, status, currency, amount_minor, reversed_minor);
CREATE INDEX click_daily_series ON click_daily (day, clicks);
DROP INDEX events_partner_ts;
DROP INDEX events_ts;
