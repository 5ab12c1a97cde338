//! Payouts: runs that turn approved commissions (minus outstanding clawbacks) into one payout
//! per partner and currency, the Stripe rail (a transfer with an idempotency key, retried from
//! storage until Stripe answers), the manual rail (export, mark paid), and the jobs: daily
//! auto-approval, the scheduled run, and the Network's metering report.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::db;
use crate::db::payouts::{Payout, PayoutWithItems};
use crate::domain::money::{Currency, Dec4};
use crate::domain::payouts::{PayoutStatus, Schedule};
use crate::email::Template;
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::stripe::client::NewTransfer;
use crate::webhooks::{self, EventType};

mod run;

pub use run::{RunRequest, RunResult, Skipped, run};

const SETTINGS_KEY: &str = "payouts";
/// How long a replica holds a Stripe payout it is sending.
const TRANSFER_LEASE_MS: i64 = 120_000;
/// Retries of an unknown outcome: 1 min, 5 min, 30 min, then hourly.
pub(crate) const RETRY_DELAYS_MS: [i64; 4] = [60_000, 300_000, 1_800_000, 3_600_000];

/// `GET/PUT /config/payouts`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Settings {
    pub schedule: Schedule,
    /// Per currency, minor units.
    pub minimums: BTreeMap<String, i64>,
}

/// The stored settings: `Err` with the parse error when they cannot be read, the defaults when
/// none are stored.
async fn stored(state: &AppState) -> ApiResult<Result<Settings, serde_json::Error>> {
    Ok(
        match db::settings::get(state.db.pool(), SETTINGS_KEY).await? {
            Some(text) => serde_json::from_str(&text),
            None => Ok(Settings::default()),
        },
    )
}

pub async fn settings(state: &AppState) -> ApiResult<Settings> {
    // Unreadable settings are an error, never "manual, no minimums" in silence.
    stored(state)
        .await?
        .map_err(|e| ApiError::internal(format_args!("stored payout settings: {e}")))
}

/// The stored settings to change: unreadable ones (an export from another version, say) are
/// logged and replaced by the defaults, so the admin can always write new ones.
pub async fn settings_for_update(state: &AppState) -> ApiResult<Settings> {
    Ok(stored(state).await?.unwrap_or_else(|e| {
        tracing::error!(error = %e, "stored payout settings are unreadable; replacing them");
        Settings::default()
    }))
}

pub async fn save_settings(state: &AppState, s: &Settings) -> ApiResult<()> {
    let text = serde_json::to_string(s).map_err(ApiError::internal)?;
    db::settings::set_audited(&state.db, SETTINGS_KEY, &text, state.clock.now()).await?;
    Ok(())
}

/// Sends due Stripe payouts now, in the background.
pub fn send_in_background(state: &AppState) {
    let state = state.clone();
    tokio::spawn(async move {
        if let Err(e) = send_due(&state).await {
            tracing::warn!(error = %e, "sending Stripe payouts failed; will retry");
        }
    });
}

/// The Stripe rail: sends every due `processing` payout. A 2xx pays it; a refusal fails it and
/// frees its commissions; an unknown outcome (timeout, 5xx, dropped connection, a crash before
/// we stored the answer) keeps it `processing`, to be retried with the same idempotency key,
/// so Stripe returns the first transfer instead of making a second. Returns how many it tried.
pub async fn send_due(state: &AppState) -> ApiResult<usize> {
    let Some(stripe) = state.stripe.clone() else {
        return Ok(0);
    };
    let mut tried = 0;
    // One payout per claim: the lease (longer than a call's timeout) then always covers the
    // call it guards, so no other worker can send the same payout meanwhile.
    while tried < 50 {
        let now = state.clock.now();
        let Some(p) =
            db::payout_transfers::claim_due(&state.db, now, now.plus_millis(TRANSFER_LEASE_MS), 1)
                .await?
                .pop()
        else {
            break;
        };
        tried += 1;
        // A retry: an earlier attempt's outcome is unknown, so ask Stripe whether it made the
        // transfer before making one. The idempotency key alone is not enough: Stripe forgets
        // it after 24 hours and refuses it with other parameters; the transfer group is ours.
        if p.attempts > 1 {
            match stripe.find_transfer(&p.id).await {
                Ok(Some(transfer)) => {
                    let expected = p.currency.to_stripe_amount(p.amount_minor);
                    if expected != Some(transfer.amount) {
                        tracing::error!(payout = %p.id, transfer = %transfer.id, sent = transfer.amount,
                            expected = ?expected, "Stripe's transfer for this payout has another amount; reconcile it by hand");
                    }
                    if !mark_paid(state, &p.id, Some(&transfer.id), None).await? {
                        tracing::error!(payout = %p.id, transfer = %transfer.id,
                            "Stripe has a transfer for a payout that is no longer processing; reconcile it by hand");
                    }
                    continue;
                }
                Ok(None) => {}
                Err(e) => {
                    defer(state, &p, &e).await?;
                    continue;
                }
            }
        }
        let amount = p.currency.to_stripe_amount(p.amount_minor);
        let (Some(destination), Some(amount)) = (p.destination.as_deref(), amount) else {
            let reason = if p.destination.is_none() {
                "no Stripe account to pay".to_string()
            } else {
                format!(
                    "{} {} cannot be written in Stripe's unit for this currency; pay it by hand",
                    p.amount_minor,
                    p.currency.as_str()
                )
            };
            fail(state, &p.id, &reason).await?;
            continue;
        };
        let result = stripe
            .create_transfer(&NewTransfer {
                // Stripe's units (ISK is two-decimal there, MGA zero-decimal).
                amount,
                currency: p.currency.as_str(),
                destination,
                payout_id: &p.id,
                idempotency_key: &p.idempotency_key,
            })
            .await;
        match result {
            Ok(transfer) => {
                if !mark_paid(state, &p.id, Some(&transfer.id), None).await? {
                    tracing::error!(payout = %p.id, transfer = %transfer.id,
                        "Stripe made a transfer for a payout that is no longer processing; reconcile it by hand");
                }
            }
            // Unknown (a timeout, or the key used before with other parameters, so an earlier
            // attempt may have paid): never a refusal; the retry looks the transfer up.
            Err(e) if e.outcome_unknown() => {
                defer(state, &p, &e).await?;
            }
            Err(e) => {
                tracing::warn!(payout = %p.id, reason = %e, "Stripe refused the transfer");
                fail(state, &p.id, &e.reason()).await?;
            }
        }
    }
    Ok(tried)
}

/// A `processing` payout that cannot be or was not paid: `failed` with `reason`, its
/// commissions free for the next run, and `payout.failed` recorded.
async fn fail(state: &AppState, id: &str, reason: &str) -> ApiResult<()> {
    let mut tx = state.db.begin().await?;
    if db::payouts::release(
        &mut tx,
        id,
        PayoutStatus::Failed,
        &[PayoutStatus::Processing],
        Some(reason),
        state.clock.now(),
    )
    .await?
    {
        record_payout_event(state, &mut tx, EventType::PayoutFailed, id).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// An unknown outcome: the payout stays `processing` and is tried again later.
async fn defer(state: &AppState, p: &Payout, e: &crate::stripe::StripeError) -> ApiResult<()> {
    let delay = RETRY_DELAYS_MS[(p.attempts.max(1) as usize - 1).min(3)];
    tracing::warn!(payout = %p.id, reason = %e, "Stripe transfer outcome unknown; will retry");
    db::payout_transfers::defer(
        state.db.pool(),
        &p.id,
        state.clock.now().plus_millis(delay),
        &e.reason(),
    )
    .await?;
    Ok(())
}

/// Marks a payout paid (and its commissions), and queues the partner's "You've been paid"
/// mail in the same transaction. False when it was not pending or processing.
pub async fn mark_paid(
    state: &AppState,
    id: &str,
    transfer_id: Option<&str>,
    reference: Option<&str>,
) -> ApiResult<bool> {
    let now = state.clock.now();
    let mut tx = state.db.begin().await?;
    let before = db::payouts::get(&mut *tx, id).await?;
    if !db::payouts::mark_paid(&mut tx, id, now, transfer_id, reference).await? {
        return Ok(false);
    }
    let payout = db::payouts::get(&mut *tx, id)
        .await?
        .ok_or_else(|| ApiError::internal("payout vanished"))?;
    let changes = json!({
        "status": {"before": before.map(|p| p.status.as_str()), "after": payout.status.as_str()},
        "reference": {"before": null, "after": payout.reference},
        "stripeTransferId": {"before": null, "after": payout.stripe_transfer_id},
    });
    audit_payout(&mut tx, "payout.mark_paid", id, changes, now).await?;
    let url = &state.config.public_url;
    for c in db::payouts::commissions(&mut tx, id).await? {
        webhooks::record_view(&mut tx, EventType::CommissionPaid, &c, url, now).await?;
    }
    record_payout_event(state, &mut tx, EventType::PayoutPaid, id).await?;
    let mail = match db::partners::get(&mut *tx, &payout.partner_id).await? {
        Some(partner) => {
            let mail = state
                .mailer
                .render(
                    &mut tx,
                    Template::Paid,
                    &partner.email,
                    json!({
                        "name": partner.name,
                        "amount": payout.currency.format_minor(payout.amount_minor),
                        "currency": payout.currency.as_str(),
                        "method": payout.method.as_str(),
                        // A Stripe payout's reference is its transfer.
                        "reference": payout.reference.as_ref().or(payout.stripe_transfer_id.as_ref()),
                    }),
                )
                .await
                .map_err(ApiError::internal)?;
            state.mailer.enqueue(&mut tx, &mail).await?;
            Some(mail.id)
        }
        None => None,
    };
    tx.commit().await?;
    metrics::counter!(crate::instruments::PAYOUTS, "status" => "paid").increment(1);
    if let Some(mail) = mail {
        state.mailer.kick(mail);
    }
    Ok(true)
}

/// Appends a payout change to the audit log in `tx`.
async fn audit_payout(
    tx: &mut crate::db::Tx,
    action: &str,
    id: &str,
    changes: serde_json::Value,
    now: crate::domain::time::Timestamp,
) -> sqlx::Result<()> {
    let change = crate::db::audit::Change {
        action,
        target_type: "payout",
        target_id: id,
        changes,
    };
    crate::db::audit::append(tx, change, now).await
}

/// Records a payout event (`payout.created`, `payout.paid`, `payout.failed`) in `tx`, with the
/// payout as the API shows it.
async fn record_payout_event(
    state: &AppState,
    tx: &mut crate::db::Tx,
    event: EventType,
    id: &str,
) -> ApiResult<()> {
    let Some(payout) = db::payouts::get(&mut **tx, id).await? else {
        return Ok(());
    };
    let commission_ids = db::payout_runs::commission_ids(&mut **tx, id).await?;
    let data = PayoutWithItems {
        payout,
        commission_ids,
    };
    webhooks::record_view(
        tx,
        event,
        &data,
        &state.config.public_url,
        state.clock.now(),
    )
    .await?;
    Ok(())
}

/// Cancels a pending or failed payout; what it held is free for the next run.
pub async fn cancel(state: &AppState, id: &str) -> ApiResult<bool> {
    let mut tx = state.db.begin().await?;
    let done = db::payouts::release(
        &mut tx,
        id,
        PayoutStatus::Canceled,
        &[PayoutStatus::Pending, PayoutStatus::Failed],
        None,
        state.clock.now(),
    )
    .await?;
    if done {
        let changes = json!({"status": {"after": "canceled"}});
        audit_payout(&mut tx, "payout.cancel", id, changes, state.clock.now()).await?;
    }
    tx.commit().await?;
    if done {
        metrics::counter!(crate::instruments::PAYOUTS, "status" => "canceled").increment(1);
    }
    Ok(done)
}

/// Retries a failed Stripe payout (a new idempotency key: Stripe keeps a refused request's
/// answer under its key). False when it is not a failed Stripe payout; 409 when some of its
/// commissions went into another payout meanwhile.
pub async fn retry(state: &AppState, p: &Payout) -> ApiResult<bool> {
    let key = format!("payout_{}_retry_{}", p.id, ulid::Ulid::new());
    let mut tx = state.db.begin().await?;
    if !db::payout_transfers::retry(&mut tx, &p.id, &key, state.clock.now()).await? {
        return Ok(false);
    }
    let changes = json!({"status": {"before": p.status.as_str(), "after": "processing"}});
    audit_payout(&mut tx, "payout.retry", &p.id, changes, state.clock.now()).await?;
    tx.commit().await?;
    send_in_background(state);
    Ok(true)
}

/// Parses a minimum such as `"50.00"` for `currency`.
pub fn parse_minimum(currency: &Currency, raw: &serde_json::Value) -> Result<i64, String> {
    let d = Dec4::parse(raw, currency.minor_digits())?;
    currency
        .to_minor(d)
        .ok_or_else(|| format!("must have at most {} decimals", currency.minor_digits()))
}
