//! The Stripe rail's storage: claiming due transfers (one replica each), deferring after an
//! unknown outcome, and putting a failed payout back to `processing` for a retry.

use super::payouts::{COLUMNS, Payout};
use super::{Backend, Db, Exec, Tx};
use crate::domain::time::Timestamp;

/// Puts a failed Stripe payout back to `processing` with a fresh idempotency key, if every
/// commission it held is still free. False otherwise.
pub async fn retry(
    tx: &mut Tx,
    id: &str,
    idempotency_key: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let done = sqlx::query(
        "UPDATE payouts SET status = 'processing', failure_reason = NULL, idempotency_key = $1, \
         attempts = 0, next_attempt_at = $2, locked_until = 0, updated_at = $2 \
         WHERE id = $3 AND status = 'failed' AND method = 'stripe'",
    )
    .bind(idempotency_key)
    .bind(now.millis())
    .bind(id)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() != 1 {
        return Ok(false);
    }
    // In id order, as runs hold them: two holders never wait on each other in a cycle.
    let items: Vec<String> = sqlx::query_scalar(
        "SELECT commission_id FROM payout_items WHERE payout_id = $1 ORDER BY commission_id",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await?;
    for commission in items {
        let held = sqlx::query(
            "UPDATE commissions SET payout_id = $1 WHERE id = $2 AND payout_id IS NULL \
             AND status = 'approved' AND amount_minor - reversed_minor = \
             (SELECT amount_minor FROM payout_items WHERE payout_id = $1 AND commission_id = $2)",
        )
        .bind(id)
        .bind(&commission)
        .execute(&mut **tx)
        .await?;
        if held.rows_affected() != 1 {
            return Ok(false);
        }
    }
    // The clawbacks it netted, held again: its amount already counts them.
    let claws: Vec<String> = sqlx::query_scalar(
        "SELECT clawback_id FROM payout_clawbacks WHERE payout_id = $1 ORDER BY clawback_id",
    )
    .bind(id)
    .fetch_all(&mut **tx)
    .await?;
    for clawback in claws {
        let held =
            sqlx::query("UPDATE clawbacks SET payout_id = $1 WHERE id = $2 AND payout_id IS NULL")
                .bind(id)
                .bind(&clawback)
                .execute(&mut **tx)
                .await?;
        if held.rows_affected() != 1 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Claims Stripe payouts due for a (re)try until `lease_until`; one replica each.
pub async fn claim_due(
    db: &Db,
    now: Timestamp,
    lease_until: Timestamp,
    limit: i64,
) -> sqlx::Result<Vec<Payout>> {
    let lock = match db.backend() {
        Backend::Postgres => "FOR UPDATE SKIP LOCKED",
        Backend::Sqlite => "",
    };
    sqlx::query_as(&format!(
        "UPDATE payouts SET locked_until = $1, attempts = attempts + 1 WHERE id IN ( \
           SELECT id FROM payouts WHERE status = 'processing' AND next_attempt_at <= $2 \
           AND locked_until <= $2 ORDER BY next_attempt_at, id LIMIT $3 {lock}) \
         AND locked_until <= $2 RETURNING {COLUMNS}"
    ))
    .bind(lease_until.millis())
    .bind(now.millis())
    .bind(limit)
    .fetch_all(db.pool())
    .await
}

/// After a transient failure: try again at `next`.
pub async fn defer<'e>(
    ex: impl Exec<'e>,
    id: &str,
    next: Timestamp,
    reason: &str,
) -> sqlx::Result<()> {
    sqlx::query(
        "UPDATE payouts SET next_attempt_at = $1, locked_until = 0, failure_reason = $2 \
         WHERE id = $3 AND status = 'processing'",
    )
    .bind(next.millis())
    .bind(reason)
    .bind(id)
    .execute(ex)
    .await?;
    Ok(())
}
