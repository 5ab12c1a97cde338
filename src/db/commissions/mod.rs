//! Commissions: one per attributed event, with a small state machine
//! (accrued → approved → paid; accrued or approved → reversed; accrued or approved ⇄ on_hold
//! while a dispute is open). Reversals may be partial (`reversed_minor`, see
//! `db::stripe_billing`).

mod reversals;

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::Exec;
use crate::domain::commission::CommissionStatus;
use crate::domain::ids::{CommissionId, EventId, PartnerId};
use crate::domain::money::Currency;
use crate::domain::rules::Trigger;
use crate::domain::time::Timestamp;

pub use reversals::{PartReversal, Reversal, reverse, reverse_part};

/// A commission's amount as a per-status total counts it: what the partner keeps after partial
/// reversals (`amount - reversed`; a reversal after payment is also a clawback, reported on its
/// own), or the whole amount once reversed.
pub(crate) const AMOUNT_BY_STATUS: &str =
    "CASE WHEN status = 'reversed' THEN amount_minor ELSE amount_minor - reversed_minor END";

#[derive(Debug, Clone)]
pub struct Commission {
    pub id: CommissionId,
    pub partner_id: PartnerId,
    pub program_id: String,
    pub event_id: EventId,
    pub user_id: Option<String>,
    pub amount_minor: i64,
    pub currency: Currency,
    pub status: CommissionStatus,
    pub rule_source: String,
    pub accrued_at: Timestamp,
    pub mature_at: Timestamp,
    /// The trigger of the rule that priced it (none on commissions from before rule sets).
    pub trigger: Option<Trigger>,
    pub paid_at: Option<Timestamp>,
    pub approved_at: Option<Timestamp>,
    /// Approved before `mature_at` by an admin's `force`.
    pub approval_forced: bool,
    /// How much of it reversals have taken back (partial refunds); `amount_minor` when reversed.
    pub reversed_minor: i64,
}

const COLUMNS: &str = "id, partner_id, program_id, event_id, user_id, amount_minor, currency, status, \
    rule_source, accrued_at, mature_at, rule_trigger, paid_at, approved_at, approval_forced, reversed_minor";

fn status(stored: String) -> sqlx::Result<CommissionStatus> {
    super::decode("commissions.status", stored, CommissionStatus::parse)
}

impl FromRow<'_, AnyRow> for Commission {
    fn from_row(r: &AnyRow) -> sqlx::Result<Commission> {
        Ok(Commission {
            id: CommissionId::from_string(r.try_get::<String, _>("id")?),
            partner_id: PartnerId::from_string(r.try_get::<String, _>("partner_id")?),
            program_id: r.try_get("program_id")?,
            event_id: EventId::from_string(r.try_get::<String, _>("event_id")?),
            user_id: r.try_get("user_id")?,
            amount_minor: r.try_get("amount_minor")?,
            currency: super::decode("commissions.currency", r.try_get("currency")?, |s| {
                Currency::parse(s).ok()
            })?,
            status: status(r.try_get("status")?)?,
            rule_source: r.try_get("rule_source")?,
            accrued_at: Timestamp::from_millis(r.try_get("accrued_at")?),
            mature_at: Timestamp::from_millis(r.try_get("mature_at")?),
            trigger: r
                .try_get::<Option<String>, _>("rule_trigger")?
                .as_deref()
                .and_then(Trigger::parse),
            paid_at: r
                .try_get::<Option<i64>, _>("paid_at")?
                .map(Timestamp::from_millis),
            approved_at: r
                .try_get::<Option<i64>, _>("approved_at")?
                .map(Timestamp::from_millis),
            approval_forced: r.try_get::<i64, _>("approval_forced")? != 0,
            reversed_minor: r.try_get("reversed_minor")?,
        })
    }
}

/// Filters for a commissions page.
#[derive(Default)]
pub struct CommissionFilter<'a> {
    pub partner: Option<&'a PartnerId>,
    pub program: Option<&'a str>,
    pub status: Option<CommissionStatus>,
    pub after: Option<(i64, &'a str)>,
}

pub async fn insert<'e>(ex: impl Exec<'e>, c: &Commission) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO commissions ({COLUMNS}, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $10)"
    ))
    .bind(c.id.as_str())
    .bind(c.partner_id.as_str())
    .bind(&c.program_id)
    .bind(c.event_id.as_str())
    .bind(&c.user_id)
    .bind(c.amount_minor)
    .bind(c.currency.as_str())
    .bind(c.status.as_str())
    .bind(&c.rule_source)
    .bind(c.accrued_at.millis())
    .bind(c.mature_at.millis())
    .bind(c.trigger.map(Trigger::as_str))
    .bind(c.paid_at.map(Timestamp::millis))
    .bind(c.approved_at.map(Timestamp::millis))
    .bind(super::flag(c.approval_forced))
    .bind(c.reversed_minor)
    .execute(ex)
    .await?;
    Ok(())
}

/// When the customer's first commission-earning event with the partner happened: in this
/// program (`Some(program)`), or in any (`None`).
pub async fn first_at<'e>(
    ex: impl Exec<'e>,
    partner: &PartnerId,
    program: Option<&str>,
    customer: &str,
) -> sqlx::Result<Option<Timestamp>> {
    let first: Option<Option<i64>> = match program {
        Some(program) => sqlx::query_scalar(
            "SELECT first_at FROM commission_firsts \
             WHERE partner_id = $1 AND customer_key = $2 AND program_id = $3",
        )
        .bind(partner.as_str())
        .bind(customer)
        .bind(program),
        None => sqlx::query_scalar(
            "SELECT CAST(MIN(first_at) AS BIGINT) FROM commission_firsts \
             WHERE partner_id = $1 AND customer_key = $2",
        )
        .bind(partner.as_str())
        .bind(customer),
    }
    .fetch_optional(ex)
    .await?;
    Ok(first.flatten().map(Timestamp::from_millis))
}

/// Claims "first commission-earning event" for this customer, partner and program. True
/// when this event is the first; false when another event holds it (on PostgreSQL, a
/// concurrent claim blocks this one until it commits).
pub async fn claim_first<'e>(
    ex: impl Exec<'e>,
    partner: &PartnerId,
    program: &str,
    customer: &str,
    event_id: &EventId,
    at: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "INSERT INTO commission_firsts (partner_id, program_id, customer_key, event_id, first_at) \
         VALUES ($1, $2, $3, $4, $5) ON CONFLICT (partner_id, program_id, customer_key) DO NOTHING",
    )
    .bind(partner.as_str())
    .bind(program)
    .bind(customer)
    .bind(event_id.as_str())
    .bind(at.millis())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

pub async fn get<'e>(ex: impl Exec<'e>, id: &CommissionId) -> sqlx::Result<Option<Commission>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM commissions WHERE id = $1"))
        .bind(id.as_str())
        .fetch_optional(ex)
        .await
}

/// One page, newest first.
pub async fn list<'e>(
    ex: impl Exec<'e>,
    f: &CommissionFilter<'_>,
    limit: i64,
) -> sqlx::Result<Vec<Commission>> {
    let mut clauses = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    if f.partner.is_some() {
        clauses.push(format!("partner_id = ${}", next()));
    }
    if f.program.is_some() {
        clauses.push(format!("program_id = ${}", next()));
    }
    if f.status.is_some() {
        clauses.push(format!("status = ${}", next()));
    }
    if f.after.is_some() {
        let (a, b) = (next(), next());
        clauses.push(format!("(accrued_at, id) < (${a}, ${b})"));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM commissions{filter} ORDER BY accrued_at DESC, id DESC LIMIT ${}",
        next()
    );
    let mut q = sqlx::query_as(&sql);
    if let Some(p) = f.partner {
        q = q.bind(p.as_str());
    }
    if let Some(p) = f.program {
        q = q.bind(p);
    }
    if let Some(s) = f.status {
        q = q.bind(s.as_str());
    }
    if let Some((at, id)) = f.after {
        q = q.bind(at).bind(id);
    }
    q.bind(limit).fetch_all(ex).await
}

/// Approves an accrued commission that has matured (or any accrued one with `force`,
/// which is recorded). False when it is not accrued, or not mature without `force`.
pub async fn approve<'e>(
    ex: impl Exec<'e>,
    id: &CommissionId,
    now: Timestamp,
    force: bool,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE commissions SET status = 'approved', updated_at = $1, approved_at = $1, \
         approval_forced = CASE WHEN mature_at > $1 THEN 1 ELSE 0 END \
         WHERE id = $2 AND status = 'accrued' AND (mature_at <= $1 OR $3 = 1)",
    )
    .bind(now.millis())
    .bind(id.as_str())
    .bind(super::flag(force))
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}
/// Puts an accrued or approved commission in no live payout on hold. False otherwise.
pub async fn hold<'e>(ex: impl Exec<'e>, id: &CommissionId, now: Timestamp) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE commissions SET hold_from = status, status = 'on_hold', updated_at = $1 \
         WHERE id = $2 AND status IN ('accrued', 'approved') AND payout_id IS NULL",
    )
    .bind(now.millis())
    .bind(id.as_str())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Releases a held commission to the status it had. False when it is not on hold.
pub async fn release<'e>(
    ex: impl Exec<'e>,
    id: &CommissionId,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE commissions SET status = COALESCE(hold_from, 'accrued'), hold_from = NULL, \
         updated_at = $1 WHERE id = $2 AND status = 'on_hold'",
    )
    .bind(now.millis())
    .bind(id.as_str())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Moves a commission to `to` if its current state allows it. False otherwise.
pub async fn transition<'e>(
    ex: impl Exec<'e>,
    id: &CommissionId,
    to: CommissionStatus,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let from: Vec<String> = to
        .allowed_from()
        .iter()
        .map(|s| format!("'{}'", s.as_str()))
        .collect();
    if from.is_empty() {
        return Ok(false);
    }
    // Paying stamps `paid_at`; other moves keep it.
    let done = sqlx::query(&format!(
        "UPDATE commissions SET status = $1, updated_at = $2, \
         paid_at = CASE WHEN $1 = 'paid' THEN $2 ELSE paid_at END \
         WHERE id = $3 AND status IN ({}) AND payout_id IS NULL",
        from.join(", ")
    ))
    .bind(to.as_str())
    .bind(now.millis())
    .bind(id.as_str())
    .execute(ex)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Sum of amounts per (status, currency) for one partner, accrued since `since`.
pub async fn totals<'e>(
    ex: impl Exec<'e>,
    partner: &PartnerId,
    since: Timestamp,
) -> sqlx::Result<Vec<(CommissionStatus, String, i64)>> {
    let rows = sqlx::query(&format!(
        "SELECT status, currency, CAST(COALESCE(SUM({AMOUNT_BY_STATUS}), 0) AS BIGINT) \
             FROM commissions WHERE partner_id = $1 AND accrued_at >= $2 \
             GROUP BY status, currency"
    ))
    .bind(partner.as_str())
    .bind(since.millis())
    .fetch_all(ex)
    .await?;
    rows.iter()
        .map(|r| Ok((status(r.try_get(0)?)?, r.try_get(1)?, r.try_get(2)?)))
        .collect()
}
