//! Refunds and disputes from Stripe, applied to the commission of the sale the charge paid
//! (found through the charge's invoice, payment intent or id; see `db::stripe_billing`).
//!
//! - `charge.refunded`: reverses `amount_refunded / amount` of the commission, rounded down to
//!   the minor unit so the reversals never exceed it; Stripe's `amount_refunded` is
//!   cumulative, so a second partial refund reverses only the difference. A paid commission's
//!   reversal is a clawback the next payout nets.
//! - `charge.dispute.created`: the commission goes `on_hold` (not approvable, not payable).
//! - `charge.dispute.closed`: `won` (or `warning_closed`) releases the hold; `lost` reverses it.
//!
//! A charge whose sale is not recorded yet (a refund before its invoice) waits and is retried.
//! A commission in a payout not yet paid cannot change: the event is blocked, looked at again
//! every `BLOCKED_RECHECK` without using up its attempts, until the payout is paid (then a
//! clawback) or freed; after `BLOCKED_AT_MOST` it is set aside as dead.

use serde_json::Value;

use crate::db;
use crate::db::commissions::PartReversal;
use crate::db::stripe::StripeEvent;
use crate::db::stripe_billing::PaidSale;
use crate::domain::commission::CommissionStatus;
use crate::domain::ids::CommissionId;
use crate::error::ApiResult;
use crate::service::stripe_billing::{amount, id_field, object, ref_field};
use crate::service::stripe_error::EventError;
use crate::service::stripe_events::Handled;
use crate::state::AppState;
use crate::webhooks::{self, EventType};

/// The commission of the sale the charge paid, with what the sale was worth; or what to
/// conclude without one. An event whose sale is not recorded yet waits: retried, and
/// re-queued at once when that sale is recorded (even after it gave up).
async fn commission_of(
    state: &AppState,
    event: &StripeEvent,
    refs: &[Option<&str>],
) -> Result<Result<(CommissionId, (i64, String)), Handled>, EventError> {
    let refs: Vec<&str> = refs.iter().flatten().copied().collect();
    let mut sale = db::stripe_billing::paid_sale(&state.db, &refs).await?;
    if sale == PaidSale::Unknown {
        db::stripe_billing::add_event_waits(&state.db, &event.id, &refs).await?;
        // Looked at again once the waits are stored: a sale recorded in between re-queued
        // nothing for this event, which would otherwise give up on it.
        sale = db::stripe_billing::paid_sale(&state.db, &refs).await?;
    }
    Ok(match sale {
        PaidSale::Commission {
            id,
            sale_minor,
            sale_currency,
        } => Ok((id, (sale_minor, sale_currency))),
        PaidSale::NoCommission => Err(Handled::Ignored("ignored_no_attribution")),
        PaidSale::Unknown => Err(Handled::Wait {
            reason: format!("no sale recorded yet for {}", refs.join(", ")),
            give_up: "ignored_no_attribution",
        }),
    })
}

/// Takes back `numerator / denominator` of the commission (at least what was taken already),
/// with `commission.reversed` when that reverses it in full. One transaction.
async fn reverse(
    state: &AppState,
    commission: &CommissionId,
    (numerator, denominator): (i64, i64),
    source: &str,
    reason: &str,
) -> ApiResult<PartReversal> {
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let Some(c) = db::commissions::get(&mut *tx, commission).await? else {
        return Ok(PartReversal::NotFound);
    };
    // i128: amounts up to i64 times a refund up to i64 cannot overflow.
    let target = if denominator <= 0 || numerator >= denominator {
        c.amount_minor
    } else {
        (i128::from(c.amount_minor) * i128::from(numerator.max(0)) / i128::from(denominator)) as i64
    };
    let done =
        db::commissions::reverse_part(&mut tx, commission, target, source, Some(reason), now)
            .await?;
    if let PartReversal::Reversed { full: true, .. } = done {
        let updated = db::commissions::get(&mut *tx, commission).await?;
        if let Some(updated) = updated {
            let url = &state.config.public_url;
            webhooks::record_view(&mut tx, EventType::CommissionReversed, &updated, url, now)
                .await?;
        }
    }
    tx.commit().await?;
    Ok(done)
}

fn concluded(done: PartReversal, commission: &CommissionId) -> Result<Handled, EventError> {
    match done {
        PartReversal::Reversed { .. } => Ok(Handled::Recorded),
        PartReversal::Nothing => Ok(Handled::Duplicate),
        PartReversal::InPayout => Ok(Handled::Blocked(format!(
            "commission {commission} is in a payout not yet paid; looked at again until it is paid or freed"
        ))),
        PartReversal::Raced => Err(EventError::Commission(format!(
            "{commission} changed meanwhile; retried"
        ))),
        PartReversal::NotFound => Err(EventError::Commission(format!("{commission} is gone"))),
    }
}

/// `charge.refunded`.
pub async fn charge_refunded(
    state: &AppState,
    event: &StripeEvent,
    payload: &Value,
) -> Result<Handled, EventError> {
    let ch = object(payload)?;
    let charge = id_field(ch, "/id").ok_or("data.object.id is missing")?;
    let (paid, paid_in) = amount(ch, "amount")?;
    let (refunded, _) = amount(ch, "amount_refunded")?;
    let refs = [
        ref_field(ch, "invoice"),
        ref_field(ch, "payment_intent"),
        Some(charge),
    ];
    let (commission, (sale_minor, sale_currency)) = match commission_of(state, event, &refs).await?
    {
        Ok(c) => c,
        Err(handled) => return Ok(handled),
    };
    if refunded == 0 {
        return Ok(Handled::Ignored("ignored"));
    }
    // An invoice paid in parts (Stripe's partial payments, API 2025-05-28.basil on) has several
    // charges: a refund takes back its share of the whole sale, not of its own charge.
    let whole = if sale_currency == paid_in.as_str() {
        paid.max(sale_minor)
    } else {
        paid
    };
    let source = format!("stripe:refund:{charge}");
    let done = reverse(state, &commission, (refunded, whole), &source, "refunded")
        .await
        .map_err(EventError::reversal)?;
    concluded(done, &commission)
}

/// `charge.dispute.created` and `charge.dispute.closed`.
pub async fn dispute(
    state: &AppState,
    event: &StripeEvent,
    payload: &Value,
) -> Result<Handled, EventError> {
    let d = object(payload)?;
    let dispute = id_field(d, "/id").ok_or("data.object.id is missing")?;
    let refs = [ref_field(d, "payment_intent"), ref_field(d, "charge")];
    let commission = match commission_of(state, event, &refs).await? {
        Ok((c, _)) => c,
        Err(handled) => return Ok(handled),
    };
    let now = state.clock.now();
    let status = d.get("status").and_then(Value::as_str).unwrap_or("");
    if event.event_type == "charge.dispute.created" {
        let mut tx = state.db.begin().await?;
        let held = db::commissions::hold(&mut *tx, &commission, now).await?;
        // Stripe does not promise order: a closure already received (won, lost or closed with
        // a warning) has decided this dispute, so no hold is left behind for it. Checked after
        // the hold, under its row lock: a closure processed meanwhile waits for this
        // transaction and then finds whatever it left.
        if held && db::stripe::event_received(&mut *tx, "charge.dispute.closed", dispute).await? {
            tx.rollback().await?;
            return Ok(Handled::Duplicate);
        }
        let current = db::commissions::get(&mut *tx, &commission).await?;
        tx.commit().await?;
        return Ok(match current.map(|c| c.status) {
            _ if held => Handled::Recorded,
            Some(CommissionStatus::OnHold) => Handled::Duplicate,
            // Paid, reversed, or in a payout: nothing to hold; a lost dispute reverses it then
            // (a clawback when paid).
            _ => Handled::Ignored("ignored"),
        });
    }
    match status {
        "won" | "warning_closed" => {
            let mut tx = state.db.begin().await?;
            let released = db::commissions::release(&mut *tx, &commission, now).await?;
            tx.commit().await?;
            Ok(if released {
                Handled::Recorded
            } else {
                Handled::Duplicate
            })
        }
        "lost" => {
            let source = format!("stripe:dispute:{dispute}");
            let done = reverse(state, &commission, (1, 1), &source, "dispute_lost")
                .await
                .map_err(EventError::reversal)?;
            concluded(done, &commission)
        }
        _ => Ok(Handled::Ignored("ignored")),
    }
}
