//! Payouts, their items, and clawbacks. A commission is held by at most one live payout: its
//! own `payout_id` column, claimed with a conditional update, so two runs at once can never
//! put it in two payouts.

use sqlx::any::AnyRow;
use sqlx::{FromRow, Row};

use super::payout_runs::Group;
use super::{Backend, Db, Exec, Tx};
use crate::domain::ids::{CommissionId, PartnerId};
use crate::domain::money::Currency;
use crate::domain::payouts::{PayoutMethod, PayoutStatus};
use crate::domain::time::Timestamp;

#[derive(Debug, Clone)]
pub struct Payout {
    pub id: String,
    pub partner_id: PartnerId,
    pub amount_minor: i64,
    pub gross_minor: i64,
    pub clawback_minor: i64,
    pub currency: Currency,
    pub method: PayoutMethod,
    pub status: PayoutStatus,
    /// The Stripe account paid (Stripe rail).
    pub destination: Option<String>,
    pub idempotency_key: String,
    pub period_start: Option<Timestamp>,
    pub period_end: Option<Timestamp>,
    pub created_at: Timestamp,
    pub paid_at: Option<Timestamp>,
    pub failure_reason: Option<String>,
    pub stripe_transfer_id: Option<String>,
    pub reference: Option<String>,
    pub attempts: i64,
}

pub(super) const COLUMNS: &str = "id, partner_id, amount_minor, gross_minor, clawback_minor, currency, method, \
    status, destination, idempotency_key, period_start, period_end, created_at, paid_at, \
    failure_reason, stripe_transfer_id, reference, attempts";

/// A stored ISO 4217 code (see [`super::decode`]).
pub(super) fn currency(s: &str) -> Option<Currency> {
    Currency::parse(s).ok()
}

impl FromRow<'_, AnyRow> for Payout {
    fn from_row(r: &AnyRow) -> sqlx::Result<Payout> {
        let bad = |c: &str, v: String| sqlx::Error::Decode(format!("payouts.{c}: {v}").into());
        let method: String = r.try_get("method")?;
        let status: String = r.try_get("status")?;
        Ok(Payout {
            id: r.try_get("id")?,
            partner_id: PartnerId::from_string(r.try_get::<String, _>("partner_id")?),
            amount_minor: r.try_get("amount_minor")?,
            gross_minor: r.try_get("gross_minor")?,
            clawback_minor: r.try_get("clawback_minor")?,
            currency: super::decode("payouts.currency", r.try_get("currency")?, currency)?,
            method: PayoutMethod::parse(&method).ok_or_else(|| bad("method", method.clone()))?,
            status: PayoutStatus::parse(&status).ok_or_else(|| bad("status", status.clone()))?,
            destination: r.try_get("destination")?,
            idempotency_key: r.try_get("idempotency_key")?,
            period_start: super::opt_ts(r, "period_start")?,
            period_end: super::opt_ts(r, "period_end")?,
            created_at: Timestamp::from_millis(r.try_get("created_at")?),
            paid_at: super::opt_ts(r, "paid_at")?,
            failure_reason: r.try_get("failure_reason")?,
            stripe_transfer_id: r.try_get("stripe_transfer_id")?,
            reference: r.try_get("reference")?,
            attempts: r.try_get("attempts")?,
        })
    }
}

/// An amount owed: a commission to pay, or a clawback to net.
#[derive(Debug, Clone)]
pub struct Owed {
    pub id: String,
    pub amount_minor: i64,
    pub at: Timestamp,
}

/// From the columns `id`, `amount_minor` and `accrued_at` (a clawback's `created_at`).
impl FromRow<'_, AnyRow> for Owed {
    fn from_row(r: &AnyRow) -> sqlx::Result<Owed> {
        Ok(Owed {
            id: r.try_get("id")?,
            amount_minor: r.try_get("amount_minor")?,
            at: Timestamp::from_millis(r.try_get("accrued_at")?),
        })
    }
}

/// Filters for a page of payouts.
#[derive(Default)]
pub struct PayoutFilter<'a> {
    pub status: Option<PayoutStatus>,
    pub partner: Option<&'a PartnerId>,
    pub after: Option<(i64, &'a str)>,
}

/// (partner, currency) pairs with approved commissions in no live payout, or outstanding
/// clawbacks: the candidates of a run.
pub async fn payable_groups<'e>(ex: impl Exec<'e>) -> sqlx::Result<Vec<Group>> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "SELECT partner_id, currency FROM commissions \
         WHERE status = 'approved' AND payout_id IS NULL \
         UNION SELECT partner_id, currency FROM clawbacks WHERE payout_id IS NULL \
         ORDER BY partner_id, currency",
    )
    .fetch_all(ex)
    .await?;
    rows.into_iter()
        .map(|(partner, code)| {
            Ok((
                PartnerId::from_string(partner),
                super::decode("commissions.currency", code, currency)?,
            ))
        })
        .collect()
}

pub async fn insert<'e>(ex: impl Exec<'e>, p: &Payout, now: Timestamp) -> sqlx::Result<()> {
    sqlx::query(&format!(
        "INSERT INTO payouts ({COLUMNS}, updated_at, next_attempt_at) VALUES \
         ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $19)"
    ))
    .bind(&p.id)
    .bind(p.partner_id.as_str())
    .bind(p.amount_minor)
    .bind(p.gross_minor)
    .bind(p.clawback_minor)
    .bind(p.currency.as_str())
    .bind(p.method.as_str())
    .bind(p.status.as_str())
    .bind(&p.destination)
    .bind(&p.idempotency_key)
    .bind(p.period_start.map(Timestamp::millis))
    .bind(p.period_end.map(Timestamp::millis))
    .bind(p.created_at.millis())
    .bind(p.paid_at.map(Timestamp::millis))
    .bind(&p.failure_reason)
    .bind(&p.stripe_transfer_id)
    .bind(&p.reference)
    .bind(p.attempts)
    .bind(now.millis())
    .execute(ex)
    .await?;
    Ok(())
}

pub async fn get<'e>(ex: impl Exec<'e>, id: &str) -> sqlx::Result<Option<Payout>> {
    sqlx::query_as(&format!("SELECT {COLUMNS} FROM payouts WHERE id = $1"))
        .bind(id)
        .fetch_optional(ex)
        .await
}

/// The commissions a payout holds (or held), oldest first.
pub async fn commission_ids(db: &Db, id: &str) -> sqlx::Result<Vec<String>> {
    let mut held = commission_ids_many(db, &[id]).await?;
    Ok(held.remove(id).unwrap_or_default())
}

/// [`commission_ids`] for many payouts in one query (a page of the list).
pub async fn commission_ids_many(
    db: &Db,
    ids: &[&str],
) -> sqlx::Result<std::collections::HashMap<String, Vec<String>>> {
    let mut out: std::collections::HashMap<String, Vec<String>> =
        ids.iter().map(|id| (id.to_string(), Vec::new())).collect();
    if ids.is_empty() {
        return Ok(out);
    }
    let source = match db.backend() {
        Backend::Sqlite => "SELECT value FROM json_each($1)",
        Backend::Postgres => "SELECT json_array_elements_text($1::json)",
    };
    let param = serde_json::to_string(ids).map_err(|e| sqlx::Error::Encode(Box::new(e)))?;
    let rows: Vec<(String, String)> = sqlx::query_as(&format!(
        "SELECT i.payout_id, i.commission_id FROM payout_items i \
         JOIN commissions c ON c.id = i.commission_id \
         WHERE i.payout_id IN ({source}) ORDER BY i.payout_id, c.accrued_at, c.id"
    ))
    .bind(param)
    .fetch_all(db.pool())
    .await?;
    for (payout, commission) in rows {
        out.entry(payout).or_default().push(commission);
    }
    Ok(out)
}

/// One page, newest first.
pub async fn list<'e>(
    ex: impl Exec<'e>,
    f: &PayoutFilter<'_>,
    limit: i64,
) -> sqlx::Result<Vec<Payout>> {
    let mut clauses = Vec::new();
    let mut n = 0;
    let mut next = || {
        n += 1;
        n
    };
    if f.status.is_some() {
        clauses.push(format!("status = ${}", next()));
    }
    if f.partner.is_some() {
        clauses.push(format!("partner_id = ${}", next()));
    }
    if f.after.is_some() {
        let (a, b) = (next(), next());
        clauses.push(format!("(created_at, id) < (${a}, ${b})"));
    }
    let filter = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM payouts{filter} ORDER BY created_at DESC, id DESC LIMIT ${}",
        next()
    );
    let mut q = sqlx::query_as(&sql);
    if let Some(s) = f.status {
        q = q.bind(s.as_str());
    }
    if let Some(p) = f.partner {
        q = q.bind(p.as_str());
    }
    if let Some((at, id)) = f.after {
        q = q.bind(at).bind(id);
    }
    q.bind(limit).fetch_all(ex).await
}

/// Marks a payout paid (from `pending` or `processing`), and its commissions paid. False
/// when it was not in one of those states.
pub async fn mark_paid(
    tx: &mut Tx,
    id: &str,
    now: Timestamp,
    transfer_id: Option<&str>,
    reference: Option<&str>,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE payouts SET status = 'paid', paid_at = $1, updated_at = $1, \
         stripe_transfer_id = COALESCE($2, stripe_transfer_id), reference = COALESCE($3, reference), \
         locked_until = 0 WHERE id = $4 AND status IN ('pending', 'processing')",
    )
    .bind(now.millis())
    .bind(transfer_id)
    .bind(reference)
    .bind(id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query(
        "UPDATE commissions SET status = 'paid', paid_at = $1, updated_at = $1 \
         WHERE payout_id = $2 AND status = 'approved'",
    )
    .bind(now.millis())
    .bind(id)
    .execute(&mut **tx)
    .await?;
    Ok(true)
}

/// Ends a live payout as `failed` or `canceled` (from the states given) and frees what it
/// held for the next run. False when it was in none of `from`.
pub async fn release(
    tx: &mut Tx,
    id: &str,
    to: PayoutStatus,
    from: &[PayoutStatus],
    reason: Option<&str>,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let from: Vec<String> = from.iter().map(|s| format!("'{}'", s.as_str())).collect();
    let done = sqlx::query(&format!(
        "UPDATE payouts SET status = $1, failure_reason = COALESCE($2, failure_reason), \
         updated_at = $3, locked_until = 0 WHERE id = $4 AND status IN ({})",
        from.join(", ")
    ))
    .bind(to.as_str())
    .bind(reason)
    .bind(now.millis())
    .bind(id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    sqlx::query("UPDATE commissions SET payout_id = NULL WHERE payout_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("UPDATE clawbacks SET payout_id = NULL WHERE payout_id = $1")
        .bind(id)
        .execute(&mut **tx)
        .await?;
    Ok(true)
}

/// A commission reversed after payment: a clawback of `amount` the next payout nets.
pub async fn insert_clawback<'e>(
    ex: impl Exec<'e>,
    partner: &PartnerId,
    commission: &CommissionId,
    amount_minor: i64,
    currency: &Currency,
    reason: Option<&str>,
    now: Timestamp,
) -> sqlx::Result<String> {
    let id = ulid::Ulid::new().to_string();
    sqlx::query(
        "INSERT INTO clawbacks (id, partner_id, commission_id, amount_minor, currency, reason, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(&id)
    .bind(partner.as_str())
    .bind(commission.as_str())
    .bind(amount_minor)
    .bind(currency.as_str())
    .bind(reason)
    .bind(now.millis())
    .execute(ex)
    .await?;
    Ok(id)
}

/// The commissions a payout holds, in the caller's transaction.
pub async fn commissions(
    tx: &mut Tx,
    payout: &str,
) -> sqlx::Result<Vec<crate::db::commissions::Commission>> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT commission_id FROM payout_items WHERE payout_id = $1 ORDER BY commission_id",
    )
    .bind(payout)
    .fetch_all(&mut **tx)
    .await?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let id = CommissionId::from_string(id);
        if let Some(c) = super::commissions::get(&mut **tx, &id).await? {
            out.push(c);
        }
    }
    Ok(out)
}

/// A payout with the commissions it holds: what its webhook events carry.
pub struct PayoutWithItems {
    pub payout: Payout,
    pub commission_ids: Vec<String>,
}
