//! Reversals of commissions, whole or partial, and the clawbacks of paid ones.

use sqlx::Row;

use super::status;
use crate::db::Tx;
use crate::domain::commission::CommissionStatus;
use crate::domain::ids::CommissionId;
use crate::domain::time::Timestamp;

/// What a reversal did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reversal {
    Reversed,
    /// It had been paid: a clawback was recorded.
    ClawedBack,
    /// It is in a payout not yet paid: cancel that payout first.
    InPayout,
    /// It is in this state, which cannot be reversed.
    Invalid(CommissionStatus),
    NotFound,
}

/// What a (partial) reversal did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartReversal {
    /// A reversal row of `amount_minor`; `full` when nothing is left; `clawback` when it had
    /// been paid.
    Reversed {
        amount_minor: i64,
        full: bool,
        clawback: bool,
    },
    /// Already reversed this far (a repeat): nothing to do.
    Nothing,
    /// In a payout not yet paid: retried once that payout is paid, failed or canceled.
    InPayout,
    /// Another reversal changed it meanwhile: try again.
    Raced,
    NotFound,
}

/// Reverses what is left of a commission. An accrued, approved or held one in no live
/// payout is simply reversed; a paid one is reversed and a clawback of what it still
/// counted recorded, which the next payout in its currency nets. One transaction.
pub async fn reverse(
    tx: &mut Tx,
    id: &CommissionId,
    reason: Option<&str>,
    now: Timestamp,
) -> sqlx::Result<Reversal> {
    let row = sqlx::query(
        "SELECT status, payout_id, amount_minor, reversed_minor FROM commissions WHERE id = $1",
    )
    .bind(id.as_str())
    .fetch_optional(&mut **tx)
    .await?;
    let Some(row) = row else {
        return Ok(Reversal::NotFound);
    };
    let status = status(row.try_get(0)?)?;
    let in_payout = row.try_get::<Option<String>, _>(1)?.is_some();
    let (amount, reversed): (i64, i64) = (row.try_get(2)?, row.try_get(3)?);
    let open = matches!(
        status,
        CommissionStatus::Accrued | CommissionStatus::Approved | CommissionStatus::OnHold
    );
    if open && in_payout {
        return Ok(Reversal::InPayout);
    }
    if !(open || status == CommissionStatus::Paid) {
        return Ok(Reversal::Invalid(status));
    }
    match reverse_part(tx, id, amount, "admin", reason, now).await? {
        PartReversal::Reversed { clawback: true, .. } => Ok(Reversal::ClawedBack),
        PartReversal::Reversed { .. } => Ok(Reversal::Reversed),
        PartReversal::InPayout => Ok(Reversal::InPayout),
        // Changed under us (a concurrent reversal): report what it is now.
        _ if reversed >= amount => Ok(Reversal::Invalid(CommissionStatus::Reversed)),
        _ => Ok(Reversal::Invalid(status)),
    }
}

/// Brings what reversals took back from a commission up to `target_minor` (capped at its
/// amount): one reversal row for the difference. A paid commission gets a clawback of the
/// difference; an unpaid one simply pays less. Reaching the whole amount reverses it. A
/// compare-and-set on `reversed_minor` makes concurrent reversals of one commission
/// (a redelivery, a refund racing a lost dispute) take back the difference once.
pub async fn reverse_part(
    tx: &mut Tx,
    id: &CommissionId,
    target_minor: i64,
    source: &str,
    reason: Option<&str>,
    now: Timestamp,
) -> sqlx::Result<PartReversal> {
    let Some(c) = super::get(&mut **tx, id).await? else {
        return Ok(PartReversal::NotFound);
    };
    let target = target_minor.clamp(0, c.amount_minor);
    let delta = target - c.reversed_minor;
    if c.status == CommissionStatus::Reversed || delta <= 0 {
        return Ok(PartReversal::Nothing);
    }
    let row = sqlx::query("SELECT payout_id FROM commissions WHERE id = $1")
        .bind(id.as_str())
        .fetch_one(&mut **tx)
        .await?;
    let paid = c.status == CommissionStatus::Paid;
    if !paid && row.try_get::<Option<String>, _>(0)?.is_some() {
        return Ok(PartReversal::InPayout);
    }
    let full = target == c.amount_minor;
    let done = sqlx::query(
        "UPDATE commissions SET reversed_minor = $1, updated_at = $2, \
         status = CASE WHEN $3 = 1 THEN 'reversed' ELSE status END, \
         hold_from = CASE WHEN $3 = 1 THEN NULL ELSE hold_from END, \
         reversal_reason = COALESCE($4, reversal_reason) \
         WHERE id = $5 AND reversed_minor = $6 AND status = $7 \
         AND (status = 'paid' OR payout_id IS NULL)",
    )
    .bind(target)
    .bind(now.millis())
    .bind(crate::db::flag(full))
    .bind(reason)
    .bind(id.as_str())
    .bind(c.reversed_minor)
    .bind(c.status.as_str())
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(PartReversal::Raced);
    }
    let clawback = if paid {
        Some(
            super::super::payouts::insert_clawback(
                &mut **tx,
                &c.partner_id,
                id,
                delta,
                &c.currency,
                reason,
                now,
            )
            .await?,
        )
    } else {
        None
    };
    sqlx::query(
        "INSERT INTO commission_reversals (id, commission_id, amount_minor, currency, source, \
         reason, clawback_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(ulid::Ulid::new().to_string())
    .bind(id.as_str())
    .bind(delta)
    .bind(c.currency.as_str())
    .bind(source)
    .bind(reason)
    .bind(&clawback)
    .bind(now.millis())
    .execute(&mut **tx)
    .await?;
    Ok(PartReversal::Reversed {
        amount_minor: delta,
        full,
        clawback: clawback.is_some(),
    })
}
