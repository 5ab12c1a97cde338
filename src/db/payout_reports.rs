//! What payouts read for people and jobs: balances, the manual-rail export, the commissions
//! auto-approval takes, and the Network's metering figure.

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::payouts::{COLUMNS, Payout};
use super::{Db, Exec};
use crate::domain::ids::{CommissionId, PartnerId};
use crate::domain::payouts::PayoutStatus;
use crate::domain::time::Timestamp;

/// One partner's money per currency, in minor units.
#[derive(Debug, Clone, Default)]
pub struct Balance {
    pub currency: String,
    pub accrued: i64,
    pub approved: i64,
    pub in_payout: i64,
    pub clawback: i64,
}

/// From the commission sums of [`balances`] (currency, accrued, approved, in a payout); the
/// clawbacks are added from their own query.
impl FromRow<'_, AnyRow> for Balance {
    fn from_row(r: &AnyRow) -> sqlx::Result<Balance> {
        Ok(Balance {
            currency: r.try_get(0)?,
            accrued: r.try_get(1)?,
            approved: r.try_get(2)?,
            in_payout: r.try_get(3)?,
            clawback: 0,
        })
    }
}

/// A partner's money per currency.
pub async fn balances(db: &Db, partner: &PartnerId) -> sqlx::Result<Vec<Balance>> {
    let mut out: Vec<Balance> = sqlx::query_as(
        "SELECT currency, \
           CAST(COALESCE(SUM(CASE WHEN status = 'accrued' THEN amount_minor - reversed_minor END), 0) AS BIGINT), \
           CAST(COALESCE(SUM(CASE WHEN status = 'approved' AND payout_id IS NULL THEN amount_minor - reversed_minor END), 0) AS BIGINT), \
           CAST(COALESCE(SUM(CASE WHEN status = 'approved' AND payout_id IS NOT NULL THEN amount_minor - reversed_minor END), 0) AS BIGINT) \
         FROM commissions WHERE partner_id = $1 GROUP BY currency",
    )
    .bind(partner.as_str())
    .fetch_all(db.pool())
    .await?;
    let claws: Vec<(String, i64)> = sqlx::query_as(
        "SELECT currency, CAST(SUM(amount_minor) AS BIGINT) FROM clawbacks \
         WHERE partner_id = $1 AND payout_id IS NULL GROUP BY currency",
    )
    .bind(partner.as_str())
    .fetch_all(db.pool())
    .await?;
    for (currency, amount) in claws {
        match out.iter_mut().find(|b| b.currency == currency) {
            Some(b) => b.clawback = amount,
            None => out.push(Balance {
                currency,
                clawback: amount,
                ..Default::default()
            }),
        }
    }
    out.sort_by(|a, b| a.currency.cmp(&b.currency));
    Ok(out)
}

/// Accrued commissions that have matured, in programs with auto-approve on (a page).
pub async fn auto_approvable<'e>(
    ex: impl Exec<'e>,
    now: Timestamp,
    limit: i64,
) -> sqlx::Result<Vec<CommissionId>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT id FROM commissions WHERE status = 'accrued' AND mature_at <= $1 \
         AND program_id IN (SELECT id FROM programs WHERE auto_approve = 1) \
         ORDER BY mature_at, id LIMIT $2",
    )
    .bind(now.millis())
    .bind(limit)
    .fetch_all(ex)
    .await?;
    Ok(ids.into_iter().map(CommissionId::from_string).collect())
}

/// USD paid in (since, until] to partners who came from the Network, minor units.
pub async fn network_usd_paid<'e>(
    ex: impl Exec<'e>,
    since: Timestamp,
    until: Timestamp,
) -> sqlx::Result<i64> {
    sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(p.amount_minor), 0) AS BIGINT) FROM payouts p \
         JOIN partners pa ON pa.id = p.partner_id \
         WHERE p.status = 'paid' AND p.currency = 'USD' AND p.paid_at > $1 AND p.paid_at <= $2 \
         AND pa.source = 'openpartner_network'",
    )
    .bind(since.millis())
    .bind(until.millis())
    .fetch_one(ex)
    .await
}

/// A row of the manual payout export.
pub struct ExportRow {
    pub payout: Payout,
    pub email: String,
    pub name: String,
}

impl FromRow<'_, AnyRow> for ExportRow {
    fn from_row(r: &AnyRow) -> sqlx::Result<ExportRow> {
        Ok(ExportRow {
            payout: Payout::from_row(r)?,
            email: r.try_get("partner_email")?,
            name: r.try_get("partner_name")?,
        })
    }
}

/// One page of payouts with their partner's email and name, oldest first, for the CSV.
pub async fn export<'e>(
    ex: impl Exec<'e>,
    status: Option<PayoutStatus>,
    after: Option<(i64, String)>,
    limit: i64,
) -> sqlx::Result<Vec<ExportRow>> {
    let cols: String = COLUMNS
        .split(", ")
        .map(|c| format!("p.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let mut sql = format!(
        "SELECT {cols}, pa.email AS partner_email, pa.name AS partner_name FROM payouts p \
         JOIN partners pa ON pa.id = p.partner_id WHERE ($1 = '' OR p.status = $1)"
    );
    if after.is_some() {
        sql.push_str(" AND (p.created_at, p.id) > ($3, $4)");
    }
    sql.push_str(" ORDER BY p.created_at, p.id LIMIT $2");
    let mut q = sqlx::query_as(&sql)
        .bind(status.map_or("", PayoutStatus::as_str))
        .bind(limit);
    if let Some((at, id)) = after {
        q = q.bind(at).bind(id);
    }
    q.fetch_all(ex).await
}
