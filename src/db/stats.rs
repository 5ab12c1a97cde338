//! Figures per UTC day for time series. Clicks come from the `click_daily` rollup (kept in the
//! click insert's transaction); conversions and commissions from their tables, each through a
//! covering index whose leading columns are the filter (migration 0021): `events_partner_series`
//! / `events_series`, `commissions_partner_series` / `commissions_series`.

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::{Db, Exec};
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

/// Every day's figures in `[since, until)` (days, so both should be UTC midnights), for one
/// partner or (`None`) the whole program. Reversed commissions are left out.
pub async fn daily_figures(
    db: &Db,
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
    for r in q.fetch_all(db.pool()).await? {
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
    for r in q.fetch_all(db.pool()).await? {
        out.push(DayFigure::Conversions {
            day: r.try_get(0)?,
            currency: r.try_get(1)?,
            count: r.try_get(2)?,
            revenue_minor: r.try_get(3)?,
        });
    }

    let commissions_sql = if who.is_some() {
        "SELECT accrued_at / 86400000 AS d, currency, CAST(COALESCE(SUM(amount_minor - reversed_minor), 0) AS BIGINT) \
         FROM commissions WHERE partner_id = $3 AND accrued_at >= $1 AND accrued_at < $2 \
         AND status <> 'reversed' GROUP BY accrued_at / 86400000, currency"
    } else {
        "SELECT accrued_at / 86400000 AS d, currency, CAST(COALESCE(SUM(amount_minor - reversed_minor), 0) AS BIGINT) \
         FROM commissions WHERE accrued_at >= $1 AND accrued_at < $2 \
         AND status <> 'reversed' GROUP BY accrued_at / 86400000, currency"
    };
    let mut q = sqlx::query(commissions_sql)
        .bind(since.millis())
        .bind(until.millis());
    if let Some(p) = who {
        q = q.bind(p);
    }
    for r in q.fetch_all(db.pool()).await? {
        out.push(DayFigure::Commission {
            day: r.try_get(0)?,
            currency: r.try_get(1)?,
            amount_minor: r.try_get(2)?,
        });
    }
    Ok(out)
}

/// One row of a "top by revenue" list: who (a partner or link id), the currency, attributed
/// conversions and their revenue.
#[derive(Debug, Clone)]
pub struct TopRow {
    pub id: String,
    pub currency: String,
    pub conversions: i64,
    pub revenue_minor: i64,
}

/// The first `$3` rows of each currency of `grouped` (columns id, currency, n, revenue), by
/// revenue: amounts in different currencies are never ranked against each other.
fn top_per_currency(grouped: &str) -> String {
    format!(
        "SELECT id, currency, n, revenue FROM (SELECT g.*, ROW_NUMBER() OVER \
         (PARTITION BY currency ORDER BY revenue DESC, id) AS pos FROM ({grouped}) g) ranked \
         WHERE pos <= $3 ORDER BY currency, revenue DESC, id"
    )
}

impl FromRow<'_, AnyRow> for TopRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<TopRow> {
        Ok(TopRow {
            id: r.try_get(0)?,
            currency: r.try_get(1)?,
            conversions: r.try_get(2)?,
            revenue_minor: r.try_get(3)?,
        })
    }
}

/// (status, currency, amount) of the commissions accrued in `[since, until)`
/// (`commissions_page` serves the range).
pub async fn commissions_by_status<'e>(
    ex: impl Exec<'e>,
    since: Timestamp,
    until: Timestamp,
) -> sqlx::Result<Vec<(String, String, i64)>> {
    let rows = sqlx::query(&format!(
        "SELECT status, currency, CAST(COALESCE(SUM({}), 0) AS BIGINT) FROM commissions \
             WHERE accrued_at >= $1 AND accrued_at < $2 GROUP BY status, currency",
        super::commissions::AMOUNT_BY_STATUS
    ))
    .bind(since.millis())
    .bind(until.millis())
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}

/// (currency, amount) approved and in no payout yet: what the next payout run can pay
/// (`commissions_payable` serves it).
pub async fn payouts_due<'e>(ex: impl Exec<'e>) -> sqlx::Result<Vec<(String, i64)>> {
    let rows = sqlx::query(
        "SELECT currency, CAST(COALESCE(SUM(amount_minor - reversed_minor), 0) AS BIGINT) \
         FROM commissions WHERE status = 'approved' AND payout_id IS NULL GROUP BY currency ORDER BY currency",
    )
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
        .collect()
}

/// The partners with the most attributed revenue in `[since, until)`: the first `limit` of
/// each currency.
pub async fn top_partners<'e>(
    ex: impl Exec<'e>,
    since: Timestamp,
    until: Timestamp,
    limit: i64,
) -> sqlx::Result<Vec<TopRow>> {
    sqlx::query_as(&top_per_currency(
        "SELECT partner_id AS id, currency, COUNT(*) AS n, \
         CAST(COALESCE(SUM(value_minor), 0) AS BIGINT) AS revenue \
         FROM events WHERE ts >= $1 AND ts < $2 AND attributed = 1 AND partner_id IS NOT NULL \
         GROUP BY partner_id, currency",
    ))
    .bind(since.millis())
    .bind(until.millis())
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// The links with the most attributed revenue in `[since, until)` (through the event's
/// click): the first `limit` of each currency.
pub async fn top_links<'e>(
    ex: impl Exec<'e>,
    since: Timestamp,
    until: Timestamp,
    limit: i64,
) -> sqlx::Result<Vec<TopRow>> {
    sqlx::query_as(&top_per_currency(
        "SELECT c.link_id AS id, e.currency AS currency, COUNT(*) AS n, \
         CAST(COALESCE(SUM(e.value_minor), 0) AS BIGINT) AS revenue \
         FROM events e JOIN clicks c ON c.id = e.click_id \
         WHERE e.ts >= $1 AND e.ts < $2 AND e.attributed = 1 \
         GROUP BY c.link_id, e.currency",
    ))
    .bind(since.millis())
    .bind(until.millis())
    .bind(limit)
    .fetch_all(ex)
    .await
}

/// Every link of `partner` that has attributed conversions, per currency, all time (through
/// the event's click; `events_partner_series` serves it).
pub async fn link_conversions<'e>(
    ex: impl Exec<'e>,
    partner: &PartnerId,
) -> sqlx::Result<Vec<TopRow>> {
    sqlx::query_as(
        "SELECT c.link_id, e.currency, COUNT(*), CAST(COALESCE(SUM(e.value_minor), 0) AS BIGINT) \
         FROM events e JOIN clicks c ON c.id = e.click_id \
         WHERE e.partner_id = $1 AND e.attributed = 1 GROUP BY c.link_id, e.currency",
    )
    .bind(partner.as_str())
    .fetch_all(ex)
    .await
}
