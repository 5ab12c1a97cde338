//! Processing of stored Stripe events. `POST /webhooks/stripe` stores a verified event and
//! kicks it; the `stripe_events` job (`OPENPARTNER_STRIPE_EVENTS_CRON`) picks up whatever is
//! due. Each event is claimed with a lease, so one worker on one replica processes it at a
//! time, then dispatched by type to its handler. A handler error is retried on the shared
//! backoff schedule and the event is `dead` after the last try (an admin may revive it); a
//! handler that waits for something not there yet (the partner holding an account) is retried
//! a few times, then the event is ignored with the handler's give-up outcome.
//!
//! Billing events (checkouts, customers, invoices, refunds, disputes) are handled by
//! `service::stripe_billing` and `service::stripe_reversals`. A service, not part of the
//! `stripe` module: that one is the client and the signature check the services use.

use serde_json::Value;

use crate::db;
use crate::db::stripe::{StatusWrite, StripeEvent};
use crate::domain::backoff;
use crate::service::stripe_error::EventError;
use crate::service::{stripe_billing, stripe_reversals};
use crate::state::AppState;

/// How long one attempt may hold an event before another worker may take it.
const LEASE_MS: i64 = 60_000;
/// Attempts made while a handler waits before giving up: 30 s, 1, 2 and 5 min apart (the
/// `backoff` schedule), about 8.5 minutes in all.
pub const WAIT_ATTEMPTS: i64 = 5;

/// The event types something processes; any other type is stored as `ignored`. The console's
/// Stripe page lists them, in this order, as the events to enable.
pub const HANDLED: &[&str] = &[
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "customer.created",
    "customer.updated",
    "invoice.paid",
    "invoice.payment_succeeded",
    "invoice_payment.paid",
    "charge.refunded",
    "charge.dispute.created",
    "charge.dispute.closed",
    "account.updated",
];

pub fn handles(event_type: &str) -> bool {
    HANDLED.contains(&event_type)
}

/// What a handler concluded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// It changed what the event is about: `processed`, outcome `recorded`.
    Recorded,
    /// Nothing new (an older reading, a repeat): `processed`, outcome `duplicate`.
    Duplicate,
    /// Not ours to act on: `ignored` with this outcome.
    Ignored(&'static str),
    /// Needs something not there yet: retried, then `ignored` with `give_up`.
    Wait {
        reason: String,
        give_up: &'static str,
    },
    /// Blocked by something that ends on its own (a payout not yet settled): looked at again
    /// every [`BLOCKED_RECHECK`], without using up the event's attempts.
    Blocked(String),
}

/// How often an event blocked by an unsettled payout is looked at again: soon enough that a
/// cancelled or failed payout's commissions take the refund before the next payout run.
pub const BLOCKED_RECHECK: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// How long an event may stay blocked before it is set aside as dead (and shows as such).
pub const BLOCKED_AT_MOST: std::time::Duration = std::time::Duration::from_secs(90 * 86_400);

/// Attempts one stored event now, in the background.
pub fn kick(state: &AppState, id: String) {
    let state = state.clone();
    tokio::spawn(async move {
        let now = state.clock.now();
        match db::stripe::claim_event(state.db.pool(), &id, now, now.plus_millis(LEASE_MS)).await {
            Ok(Some(event)) => attempt(&state, event).await,
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "could not claim a Stripe event; the job will"),
        }
    });
}

/// The job: processes every due event. Returns how many were attempted.
pub async fn process_due(state: &AppState) -> anyhow::Result<usize> {
    let mut attempted = 0;
    loop {
        let now = state.clock.now();
        let batch =
            db::stripe::claim_due_events(&state.db, now, now.plus_millis(LEASE_MS), 50).await?;
        if batch.is_empty() {
            return Ok(attempted);
        }
        attempted += batch.len();
        for event in batch {
            attempt(state, event).await;
        }
    }
}

/// The scheduled run of [`process_due`].
pub async fn job(state: &AppState) {
    match process_due(state).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(attempted = n, "stripe events processed"),
        Err(e) => tracing::warn!(error = %e, "stripe event processing failed"),
    }
}

async fn attempt(state: &AppState, event: StripeEvent) {
    let result = match serde_json::from_str::<Value>(&event.payload) {
        Ok(payload) => dispatch(state, &event, &payload).await,
        Err(e) => Err(EventError::Payload(format!(
            "stored payload is not JSON: {e}"
        ))),
    };
    let now = state.clock.now();
    let db = &state.db;
    let saved = match result {
        Ok(Handled::Recorded) => {
            db::stripe::finish_event(db.pool(), &event.id, "processed", "recorded", None, now).await
        }
        Ok(Handled::Duplicate) => {
            db::stripe::finish_event(db.pool(), &event.id, "processed", "duplicate", None, now)
                .await
        }
        Ok(Handled::Ignored("ignored_no_attribution")) => {
            match db::stripe_billing::finish_unattributed_event(db.pool(), &event.id, now).await {
                Ok(true) => {
                    kick(state, event.id.clone());
                    Ok(())
                }
                Ok(false) => Ok(()),
                Err(e) => Err(e),
            }
        }
        Ok(Handled::Ignored(outcome)) => {
            db::stripe::finish_event(db.pool(), &event.id, "ignored", outcome, None, now).await
        }
        Ok(Handled::Blocked(reason))
            if now.millis() - event.received_at.millis() > BLOCKED_AT_MOST.as_millis() as i64 =>
        {
            let reason = format!("{reason}; blocked for over 90 days, set aside");
            tracing::warn!(event_id = %event.id, %reason, "stripe event set aside");
            db::stripe::fail_event(db.pool(), &event.id, &reason, None).await
        }
        Ok(Handled::Blocked(reason)) => {
            let next = now.plus_millis(BLOCKED_RECHECK.as_millis() as i64);
            db::stripe::defer_event(db.pool(), &event.id, &reason, next).await
        }
        Ok(Handled::Wait { reason, give_up }) if event.attempts + 1 >= WAIT_ATTEMPTS => {
            db::stripe::finish_event(db.pool(), &event.id, "ignored", give_up, Some(&reason), now)
                .await
        }
        Ok(Handled::Wait { reason, .. }) => {
            let next = backoff::next_attempt(event.attempts as u32, now);
            db::stripe::fail_event(db.pool(), &event.id, &reason, next).await
        }
        Err(error) => {
            let next = backoff::next_attempt(event.attempts as u32, now);
            tracing::warn!(event_id = %event.id, event_type = %event.event_type,
                attempts = event.attempts + 1, %error, dead = next.is_none(),
                "stripe event processing failed");
            db::stripe::fail_event(db.pool(), &event.id, &error.to_string(), next).await
        }
    };
    if let Err(e) = saved {
        tracing::error!(event_id = %event.id, error = %e, "could not record a Stripe event's processing");
    }
}

/// The handler of each type. An `Err` is a failure worth retrying (storage unavailable, a
/// payload this version cannot read).
async fn dispatch(
    state: &AppState,
    event: &StripeEvent,
    payload: &Value,
) -> Result<Handled, EventError> {
    // A test-mode event at a live key's endpoint (or the reverse) is another account's world:
    // acting on it would pay commissions on sales that never happened.
    if state
        .config
        .stripe_livemode
        .is_some_and(|live| live != event.livemode)
    {
        return Ok(Handled::Ignored("ignored_livemode_mismatch"));
    }
    match event.event_type.as_str() {
        "account.updated" => account_updated(state, event, payload).await,
        // A delayed payment method (a bank debit) completes the session unpaid; the sale is
        // recorded when its payment succeeds. Both carry the session; the sale's id dedups them.
        "checkout.session.completed" | "checkout.session.async_payment_succeeded" => {
            stripe_billing::checkout_completed(state, payload).await
        }
        "customer.created" | "customer.updated" => {
            stripe_billing::customer_changed(state, payload).await
        }
        "invoice.paid" | "invoice.payment_succeeded" => {
            stripe_billing::invoice_paid(state, event, payload).await
        }
        "invoice_payment.paid" => stripe_billing::invoice_payment_paid(state, payload).await,
        "charge.refunded" => stripe_reversals::charge_refunded(state, event, payload).await,
        "charge.dispute.created" | "charge.dispute.closed" => {
            stripe_reversals::dispute(state, event, payload).await
        }
        _ => Ok(Handled::Ignored("ignored")),
    }
}

/// `account.updated`: the connected account's `details_submitted` and `payouts_enabled` go on
/// the partner holding it, unless it holds a newer reading. An account no partner holds yet
/// may be one `connect/start` is about to store: wait, then ignore.
async fn account_updated(
    state: &AppState,
    event: &StripeEvent,
    payload: &Value,
) -> Result<Handled, EventError> {
    let account = payload
        .pointer("/data/object")
        .ok_or("the event has no data.object")?;
    let id = account
        .get("id")
        .and_then(Value::as_str)
        .ok_or("data.object.id is missing")?;
    let flag = |name: &str| {
        account
            .get(name)
            .and_then(Value::as_bool)
            .ok_or_else(|| EventError::Payload(format!("data.object.{name} is not a boolean")))
    };
    let (details, payouts) = (flag("details_submitted")?, flag("payouts_enabled")?);
    // `created` has one-second resolution: the event wins over a reading taken in that second.
    let at = event
        .stripe_created
        .map_or(event.received_at, |t| t.plus_millis(999));
    let written =
        db::stripe::record_connect_status(&state.db, id, None, details, payouts, at).await?;
    Ok(match written {
        StatusWrite::Recorded(_) => Handled::Recorded,
        StatusWrite::Stale => Handled::Duplicate,
        StatusWrite::NoPartner => Handled::Wait {
            reason: format!("no partner holds Stripe account {id}"),
            give_up: "ignored_no_attribution",
        },
    })
}
