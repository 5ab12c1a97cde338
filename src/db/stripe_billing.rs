//! Stripe billing: which recorded sale a Stripe object paid (invoice, payment intent, charge,
//! checkout session → the sale's externalEventId), the commission of that sale, and the
//! re-queueing of a customer's events once we learn who the customer is.

use super::{Db, Exec};
use crate::domain::ids::CommissionId;
use crate::domain::time::Timestamp;

/// What a Stripe charge (or dispute) paid, as far as we know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaidSale {
    /// No sale recorded for it (yet: an invoice may still be on its way).
    Unknown,
    /// A sale recorded without a commission (not attributed, or it earned nothing).
    NoCommission,
    /// The sale's commission.
    Commission(CommissionId),
}

/// The externalEventId prefix of an invoice's sale; the rest is the invoice id.
pub const INVOICE_SALE: &str = "stripe:invoice:";

/// Remembers that these Stripe objects paid the sale `external_event_id`.
pub async fn record_sale_refs(
    db: &Db,
    refs: &[&str],
    external_event_id: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    for r in refs.iter().filter(|r| !r.is_empty()) {
        sqlx::query(
            "INSERT INTO stripe_sales (stripe_ref, external_event_id, created_at) \
             VALUES ($1, $2, $3) ON CONFLICT (stripe_ref) DO NOTHING",
        )
        .bind(*r)
        .bind(external_event_id)
        .bind(now.millis())
        .execute(db.pool())
        .await?;
    }
    Ok(())
}

/// The sale (its externalEventId) a Stripe object is known to have paid.
pub async fn sale_of_ref<'e>(ex: impl Exec<'e>, stripe_ref: &str) -> sqlx::Result<Option<String>> {
    sqlx::query_scalar("SELECT external_event_id FROM stripe_sales WHERE stripe_ref = $1")
        .bind(stripe_ref)
        .fetch_optional(ex)
        .await
}

/// Every Stripe object known to have paid the sale `external_event_id` (bounded: an invoice
/// and the few payments of it).
pub async fn sale_refs<'e>(
    ex: impl Exec<'e>,
    external_event_id: &str,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "SELECT stripe_ref FROM stripe_sales WHERE external_event_id = $1 ORDER BY stripe_ref LIMIT 100",
    )
    .bind(external_event_id)
    .fetch_all(ex)
    .await
}

/// The sale the first of `refs` that names one paid (refs in order of preference).
///
/// A payment linked to an invoice's sale (`stripe:invoice:<id>`, by `invoice_payment.paid`)
/// is followed to whichever sale owns that invoice id: a one-off Checkout that created the
/// invoice owns it when its event came first, and no invoice sale is ever recorded then.
pub async fn paid_sale(db: &Db, refs: &[&str]) -> sqlx::Result<PaidSale> {
    for r in refs.iter().filter(|r| !r.is_empty()) {
        let Some(sale) = sale_of_ref(db.pool(), r).await? else {
            continue;
        };
        let sale = match sale.strip_prefix(INVOICE_SALE) {
            Some(invoice) => sale_of_ref(db.pool(), invoice).await?.unwrap_or(sale),
            None => sale,
        };
        let row: Option<(String, Option<String>)> = sqlx::query_as(
            "SELECT e.id, c.id FROM events e LEFT JOIN commissions c ON c.event_id = e.id \
             WHERE e.external_event_id = $1",
        )
        .bind(&sale)
        .fetch_optional(db.pool())
        .await?;
        if let Some((_, commission)) = row {
            return Ok(match commission {
                Some(c) => PaidSale::Commission(CommissionId::from_string(c)),
                None => PaidSale::NoCommission,
            });
        }
    }
    Ok(PaidSale::Unknown)
}

/// Records which Stripe customer a stored event is about.
pub async fn set_event_customer<'e>(
    ex: impl Exec<'e>,
    id: &str,
    customer: &str,
) -> sqlx::Result<()> {
    sqlx::query("UPDATE stripe_events SET customer_id = $1 WHERE id = $2")
        .bind(customer)
        .bind(id)
        .execute(ex)
        .await?;
    Ok(())
}

/// Puts the customer's events that found no attribution, or wait for one, back in the
/// queue, due now, on a fresh schedule. Returns their ids.
pub async fn requeue_customer_events<'e>(
    ex: impl Exec<'e>,
    customer: &str,
    now: Timestamp,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(
        "UPDATE stripe_events SET status = 'pending', outcome = NULL, attempts = 0, \
         next_attempt_at = $1, processed_at = NULL \
         WHERE customer_id = $2 AND type IN ('invoice.paid', 'invoice.payment_succeeded') \
         AND ((status = 'ignored' AND outcome = 'ignored_no_attribution') \
              OR (status = 'pending' AND locked_until <= $1)) \
         RETURNING id",
    )
    .bind(now.millis())
    .bind(customer)
    .fetch_all(ex)
    .await
}

/// Notes that the event waits for a sale paid by one of `refs`.
pub async fn add_event_waits(db: &Db, event_id: &str, refs: &[&str]) -> sqlx::Result<()> {
    for r in refs {
        sqlx::query(
            "INSERT INTO stripe_event_waits (stripe_ref, event_id) VALUES ($1, $2) \
             ON CONFLICT (stripe_ref, event_id) DO NOTHING",
        )
        .bind(*r)
        .bind(event_id)
        .execute(db.pool())
        .await?;
    }
    Ok(())
}

/// Puts the events waiting for a sale paid by one of `refs` (or given up waiting for it)
/// back in the queue, due now, on a fresh schedule. Returns their ids.
pub async fn requeue_waiting_events(
    db: &Db,
    refs: &[&str],
    now: Timestamp,
) -> sqlx::Result<Vec<String>> {
    let mut ids = Vec::new();
    for r in refs {
        let rows: Vec<String> = sqlx::query_scalar(
            "UPDATE stripe_events SET status = 'pending', outcome = NULL, attempts = 0, \
             next_attempt_at = $1, processed_at = NULL \
             WHERE id IN (SELECT event_id FROM stripe_event_waits WHERE stripe_ref = $2) \
             AND ((status = 'ignored' AND outcome = 'ignored_no_attribution') \
                  OR (status = 'pending' AND locked_until <= $1)) \
             RETURNING id",
        )
        .bind(now.millis())
        .bind(*r)
        .fetch_all(db.pool())
        .await?;
        ids.extend(rows);
    }
    Ok(ids)
}

/// Ends an event as `ignored_no_attribution`, unless its customer was identified while it
/// was being processed: then it is due again now (true). One statement, so an
/// identification is never missed between the handler's look and this write (the
/// identification's own re-queue catches the events already finished).
pub async fn finish_unattributed_event<'e>(
    ex: impl Exec<'e>,
    id: &str,
    now: Timestamp,
) -> sqlx::Result<bool> {
    let status: Option<String> = sqlx::query_scalar(
        "UPDATE stripe_events SET attempts = attempts + 1, locked_until = 0, last_error = NULL, \
         status = CASE WHEN identified = 1 THEN 'pending' ELSE 'ignored' END, \
         outcome = CASE WHEN identified = 1 THEN NULL ELSE 'ignored_no_attribution' END, \
         processed_at = CASE WHEN identified = 1 THEN NULL ELSE $1 END, \
         next_attempt_at = $1 \
         FROM (SELECT CASE WHEN EXISTS (SELECT 1 FROM clicks c JOIN stripe_events e \
               ON c.user_id = e.customer_id WHERE e.id = $2) THEN 1 ELSE 0 END AS identified) AS k \
         WHERE stripe_events.id = $2 RETURNING status",
    )
    .bind(now.millis())
    .bind(id)
    .fetch_optional(ex)
    .await?;
    Ok(status.as_deref() == Some("pending"))
}

/// Whether some click is identified as this customer.
pub async fn customer_identified<'e>(ex: impl Exec<'e>, customer: &str) -> sqlx::Result<bool> {
    let row = sqlx::query("SELECT 1 FROM clicks WHERE user_id = $1 LIMIT 1")
        .bind(customer)
        .fetch_optional(ex)
        .await?;
    Ok(row.is_some())
}
