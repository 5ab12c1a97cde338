-- Clicks per partner, program and UTC day (day = ts / 86400000), kept up to date in the same
-- transaction that inserts the clicks (db/clicks.rs), so time series over millions of clicks
-- read a few hundred rows. Conversions and commissions are read from their own tables through
-- events_partner_ts / events_ts and commissions_partner / commissions_page.
CREATE TABLE click_daily (
    day          BIGINT NOT NULL,
    partner_id   TEXT NOT NULL,
    program_id   TEXT NOT NULL,
    clicks       BIGINT NOT NULL,
    PRIMARY KEY (day, partner_id, program_id)
);
CREATE INDEX click_daily_partner ON click_daily (partner_id, day);

INSERT INTO click_daily (day, partner_id, program_id, clicks)
SELECT ts / 86400000, partner_id, program_id, COUNT(*) FROM clicks
GROUP BY ts / 86400000, partner_id, program_id;
