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
    /// The sale's commission, and what the sale was worth (minor units, its currency code).
    Commission {
        id: CommissionId,
        sale_minor: i64,
        sale_currency: String,
    },
}

/// The externalEventId prefix of an invoice's sale; the rest is the invoice id.
pub const INVOICE_SALE: &str = "stripe:invoice:";

/// `$from, $from+1, …` for `n` bound values.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Remembers that these Stripe objects paid the sale `external_event_id` (a ref already
/// linked keeps its sale). One statement.
pub async fn record_sale_refs(
    db: &Db,
    refs: &[&str],
    external_event_id: &str,
    now: Timestamp,
) -> sqlx::Result<()> {
    let refs: Vec<&str> = refs.iter().copied().filter(|r| !r.is_empty()).collect();
    if refs.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..refs.len())
        .map(|i| format!("(${}, $1, $2)", i + 3))
        .collect();
    let sql = format!(
        "INSERT INTO stripe_sales (stripe_ref, external_event_id, created_at) VALUES {} \
         ON CONFLICT (stripe_ref) DO NOTHING",
        rows.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(external_event_id).bind(now.millis());
    for r in refs {
        q = q.bind(r);
    }
    q.execute(db.pool()).await?;
    Ok(())
}

/// The sale the first of `refs` that names one paid (refs in order of preference).
pub async fn paid_sale(db: &Db, refs: &[&str]) -> sqlx::Result<PaidSale> {
    for r in refs.iter().filter(|r| !r.is_empty()) {
        let row: Option<(i64, String, Option<String>)> = sqlx::query_as(
            "SELECT e.value_minor, e.currency, c.id FROM stripe_sales s \
             JOIN events e ON e.external_event_id = s.external_event_id \
             LEFT JOIN commissions c ON c.event_id = e.id WHERE s.stripe_ref = $1",
        )
        .bind(*r)
        .fetch_optional(db.pool())
        .await?;
        if let Some((sale_minor, sale_currency, commission)) = row {
            return Ok(match commission {
                Some(c) => PaidSale::Commission {
                    id: CommissionId::from_string(c),
                    sale_minor,
                    sale_currency,
                },
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

/// Puts an event back in the queue, due now (`$1`), on a fresh schedule.
const REQUEUE: &str = "UPDATE stripe_events SET status = 'pending', outcome = NULL, \
    attempts = 0, next_attempt_at = $1, processed_at = NULL";

/// An event that gave up waiting for attribution, or waits and nobody holds it.
const REQUEUABLE: &str = "((status = 'ignored' AND outcome = 'ignored_no_attribution') \
    OR (status = 'pending' AND locked_until <= $1))";

/// Puts the customer's events that found no attribution, or wait for one, back in the
/// queue, due now, on a fresh schedule. Returns their ids.
pub async fn requeue_customer_events<'e>(
    ex: impl Exec<'e>,
    customer: &str,
    now: Timestamp,
) -> sqlx::Result<Vec<String>> {
    sqlx::query_scalar(&format!(
        "{REQUEUE} WHERE customer_id = $2 \
         AND type IN ('invoice.paid', 'invoice.payment_succeeded') AND {REQUEUABLE} RETURNING id"
    ))
    .bind(now.millis())
    .bind(customer)
    .fetch_all(ex)
    .await
}

/// Notes that the event waits for a sale paid by one of `refs`. One statement.
pub async fn add_event_waits(db: &Db, event_id: &str, refs: &[&str]) -> sqlx::Result<()> {
    if refs.is_empty() {
        return Ok(());
    }
    let rows: Vec<String> = (0..refs.len())
        .map(|i| format!("(${}, $1)", i + 2))
        .collect();
    let sql = format!(
        "INSERT INTO stripe_event_waits (stripe_ref, event_id) VALUES {} \
         ON CONFLICT (stripe_ref, event_id) DO NOTHING",
        rows.join(", ")
    );
    let mut q = sqlx::query(&sql).bind(event_id);
    for r in refs {
        q = q.bind(*r);
    }
    q.execute(db.pool()).await?;
    Ok(())
}

/// Puts the events waiting for a sale paid by one of `refs`, or by any ref linked to `sale`
/// (or given up waiting for it), back in the queue, due now, on a fresh schedule. One
/// statement; returns each event's id once.
pub async fn requeue_waiting_events(
    db: &Db,
    refs: &[&str],
    sale: Option<&str>,
    now: Timestamp,
) -> sqlx::Result<Vec<String>> {
    let mut waits = Vec::new();
    if !refs.is_empty() {
        waits.push(format!("stripe_ref IN ({})", placeholders(2, refs.len())));
    }
    if sale.is_some() {
        waits.push(format!(
            "stripe_ref IN (SELECT stripe_ref FROM stripe_sales WHERE external_event_id = ${})",
            refs.len() + 2
        ));
    }
    if waits.is_empty() {
        return Ok(Vec::new());
    }
    let sql = format!(
        "{REQUEUE} WHERE id IN (SELECT event_id FROM stripe_event_waits WHERE {}) \
         AND {REQUEUABLE} RETURNING id",
        waits.join(" OR ")
    );
    let mut q = sqlx::query_scalar(&sql).bind(now.millis());
    for r in refs {
        q = q.bind(*r);
    }
    if let Some(sale) = sale {
        q = q.bind(sale);
    }
    q.fetch_all(db.pool()).await
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
