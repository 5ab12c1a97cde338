//! Pages of commissions and conversions for the CSV exports, oldest first from `since`, keyset
//! paged on (time, id) so memory stays bounded whatever the size.

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::Exec;
use crate::domain::commission::CommissionStatus;

/// One commission as the CSV shows it.
#[derive(Debug, Clone)]
pub struct CommissionLine {
    pub id: String,
    pub partner_id: String,
    pub email: Option<String>,
    pub program_id: String,
    pub event_id: String,
    pub amount_minor: i64,
    pub currency: String,
    pub status: CommissionStatus,
    pub accrued_at: i64,
    pub approved_at: Option<i64>,
    pub paid_at: Option<i64>,
}

impl FromRow<'_, AnyRow> for CommissionLine {
    fn from_row(r: &AnyRow) -> sqlx::Result<CommissionLine> {
        Ok(CommissionLine {
            id: r.try_get(0)?,
            partner_id: r.try_get(1)?,
            email: r.try_get(2)?,
            program_id: r.try_get(3)?,
            event_id: r.try_get(4)?,
            amount_minor: r.try_get(5)?,
            currency: r.try_get(6)?,
            status: super::decode("commissions.status", r.try_get(7)?, CommissionStatus::parse)?,
            accrued_at: r.try_get(8)?,
            approved_at: r.try_get(9)?,
            paid_at: r.try_get(10)?,
        })
    }
}

/// One conversion (event) as the CSV shows it.
#[derive(Debug, Clone)]
pub struct ConversionLine {
    pub id: String,
    pub external_event_id: String,
    pub kind: String,
    pub value_minor: i64,
    pub currency: String,
    pub ts: i64,
    pub partner_id: Option<String>,
    pub program_id: Option<String>,
    pub click_id: Option<String>,
    pub user_id: Option<String>,
    pub attributed: bool,
}

impl FromRow<'_, AnyRow> for ConversionLine {
    fn from_row(r: &AnyRow) -> sqlx::Result<ConversionLine> {
        Ok(ConversionLine {
            id: r.try_get(0)?,
            external_event_id: r.try_get(1)?,
            kind: r.try_get(2)?,
            value_minor: r.try_get(3)?,
            currency: r.try_get(4)?,
            ts: r.try_get(5)?,
            partner_id: r.try_get(6)?,
            program_id: r.try_get(7)?,
            click_id: r.try_get(8)?,
            user_id: r.try_get(9)?,
            attributed: r.try_get::<i64, _>(10)? != 0,
        })
    }
}

pub async fn commissions<'e>(
    ex: impl Exec<'e>,
    status: Option<CommissionStatus>,
    since: i64,
    after: Option<&(i64, String)>,
    limit: i64,
) -> sqlx::Result<Vec<CommissionLine>> {
    let mut sql = "SELECT c.id, c.partner_id, p.email, c.program_id, c.event_id, c.amount_minor, \
         c.currency, c.status, c.accrued_at, c.approved_at, c.paid_at FROM commissions c \
         LEFT JOIN partners p ON p.id = c.partner_id WHERE c.accrued_at >= $1"
        .to_string();
    let mut n = 1;
    if status.is_some() {
        n += 1;
        sql.push_str(&format!(" AND c.status = ${n}"));
    }
    if after.is_some() {
        sql.push_str(&format!(
            " AND (c.accrued_at, c.id) > (${}, ${})",
            n + 1,
            n + 2
        ));
        n += 2;
    }
    sql.push_str(&format!(" ORDER BY c.accrued_at, c.id LIMIT ${}", n + 1));
    let mut q = sqlx::query_as(&sql).bind(since);
    if let Some(s) = status {
        q = q.bind(s.as_str());
    }
    if let Some((at, id)) = after {
        q = q.bind(*at).bind(id.clone());
    }
    q.bind(limit).fetch_all(ex).await
}

pub async fn conversions<'e>(
    ex: impl Exec<'e>,
    since: i64,
    after: Option<&(i64, String)>,
    limit: i64,
) -> sqlx::Result<Vec<ConversionLine>> {
    let cols = "id, external_event_id, type, value_minor, currency, ts, partner_id, \
                program_id, click_id, user_id, attributed";
    match after {
        None => {
            sqlx::query_as(&format!(
                "SELECT {cols} FROM events WHERE ts >= $1 ORDER BY ts, id LIMIT $2"
            ))
            .bind(since)
            .bind(limit)
            .fetch_all(ex)
            .await
        }
        Some((at, id)) => {
            sqlx::query_as(&format!(
                "SELECT {cols} FROM events WHERE ts >= $1 AND (ts, id) > ($2, $3) \
                 ORDER BY ts, id LIMIT $4"
            ))
            .bind(since)
            .bind(*at)
            .bind(id.clone())
            .bind(limit)
            .fetch_all(ex)
            .await
        }
    }
}
