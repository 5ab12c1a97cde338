//! Figures per UTC day for time series. Clicks come from the `click_daily` rollup (kept in the
//! click insert's transaction); conversions and commissions from their tables, each through an
//! index whose leading columns are the filter: `events_partner_ts` / `events_ts`,
//! `commissions_partner` / `commissions_page`.

use sqlx::Row;

use super::Db;
use crate::domain::ids::PartnerId;
use crate::domain::series::DAY_MS;
use crate::domain::time::Timestamp;

/// One figure of one day (`day` is `ts / 86400000`).
#[derive(Debug, Clone)]
pub enum DayFigure {
    Clicks {
        day: i64,
        clicks: i64,
    },
    Conversions {
        day: i64,
        currency: String,
        count: i64,
        revenue_minor: i64,
    },
    Commission {
        day: i64,
        currency: String,
        amount_minor: i64,
    },
}

impl Db {
    /// Every day's figures in `[since, until)` (days, so both should be UTC midnights), for one
    /// partner or (`None`) the whole program. Reversed commissions are left out.
    pub async fn daily_figures(
        &self,
        partner: Option<&PartnerId>,
        since: Timestamp,
        until: Timestamp,
    ) -> sqlx::Result<Vec<DayFigure>> {
        let (from_day, to_day) = (
            since.millis().div_euclid(DAY_MS),
            until.millis().div_euclid(DAY_MS),
        );
        let who = partner.map(PartnerId::as_str);
        let mut out = Vec::new();

        let clicks_sql = if who.is_some() {
            "SELECT day, CAST(SUM(clicks) AS BIGINT) FROM click_daily \
             WHERE partner_id = $3 AND day >= $1 AND day < $2 GROUP BY day"
        } else {
            "SELECT day, CAST(SUM(clicks) AS BIGINT) FROM click_daily \
             WHERE day >= $1 AND day < $2 GROUP BY day"
        };
        let mut q = sqlx::query(clicks_sql).bind(from_day).bind(to_day);
        if let Some(p) = who {
            q = q.bind(p);
        }
        for r in q.fetch_all(self.pool()).await? {
            out.push(DayFigure::Clicks {
                day: r.try_get(0)?,
                clicks: r.try_get(1)?,
            });
        }

        let events_sql = if who.is_some() {
            "SELECT ts / 86400000 AS d, currency, COUNT(*), CAST(COALESCE(SUM(value_minor), 0) AS BIGINT) \
             FROM events WHERE partner_id = $3 AND ts >= $1 AND ts < $2 AND attributed = 1 \
             GROUP BY ts / 86400000, currency"
        } else {
            "SELECT ts / 86400000 AS d, currency, COUNT(*), CAST(COALESCE(SUM(value_minor), 0) AS BIGINT) \
             FROM events WHERE ts >= $1 AND ts < $2 AND attributed = 1 \
             GROUP BY ts / 86400000, currency"
        };
        let mut q = sqlx::query(events_sql)
            .bind(since.millis())
            .bind(until.millis());
        if let Some(p) = who {
            q = q.bind(p);
        }
        for r in q.fetch_all(self.pool()).await? {
            out.push(DayFigure::Conversions {
                day: r.try_get(0)?,
                currency: r.try_get(1)?,
                count: r.try_get(2)?,
                revenue_minor: r.try_get(3)?,
            });
        }

        let commissions_sql = if who.is_some() {
            "SELECT accrued_at / 86400000 AS d, currency, CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) \
             FROM commissions WHERE partner_id = $3 AND accrued_at >= $1 AND accrued_at < $2 \
             AND status <> 'reversed' GROUP BY accrued_at / 86400000, currency"
        } else {
            "SELECT accrued_at / 86400000 AS d, currency, CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) \
             FROM commissions WHERE accrued_at >= $1 AND accrued_at < $2 \
             AND status <> 'reversed' GROUP BY accrued_at / 86400000, currency"
        };
        let mut q = sqlx::query(commissions_sql)
            .bind(since.millis())
            .bind(until.millis());
        if let Some(p) = who {
            q = q.bind(p);
        }
        for r in q.fetch_all(self.pool()).await? {
            out.push(DayFigure::Commission {
                day: r.try_get(0)?,
                currency: r.try_get(1)?,
                amount_minor: r.try_get(2)?,
            });
        }
        Ok(out)
    }
}
