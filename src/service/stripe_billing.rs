//! Stripe billing events turned into attributed sales: who a Stripe customer is
//! (`checkout.session.completed`, `customer.created` / `customer.updated`), and the sales of
//! invoices and one-off checkouts, recorded like `POST /events` would with the customer id
//! (`cus_…`) as the `userId`, so recurring rules price the first invoice `first` and later
//! ones `subsequent`. Refunds and disputes are in `service::stripe_reversals`.
//!
//! An invoice whose customer we do not know yet is `ignored_no_attribution` at once, and put
//! back in the queue when that customer is identified (a checkout completing after its first
//! invoice, which Stripe does not order).

use serde_json::Value;

use crate::db;
use crate::db::stripe::StripeEvent;
use crate::db::stripe_billing::INVOICE_SALE;
use crate::domain::ids::ClickId;
use crate::domain::money::Currency;
use crate::service::conversions::{self, EventInput};
use crate::service::stripe_error::EventError;
use crate::service::stripe_events::{self as events, Handled};
use crate::state::AppState;

/// The longest Stripe id or metadata value we take (Stripe's own are far shorter).
const MAX_ID: usize = 200;

pub(crate) fn object(payload: &Value) -> Result<&Value, EventError> {
    payload
        .pointer("/data/object")
        .filter(|o| o.is_object())
        .ok_or(EventError::from("the event has no data.object"))
}

/// A string field that is a usable id: present, not empty, bounded, no NUL.
pub(crate) fn id_field<'a>(o: &'a Value, path: &str) -> Option<&'a str> {
    o.pointer(path)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty() && s.len() <= MAX_ID && !s.contains('\0'))
}

/// An expandable field: the id string, or the expanded object's `id`.
pub(crate) fn ref_field<'a>(o: &'a Value, name: &str) -> Option<&'a str> {
    id_field(o, &format!("/{name}")).or_else(|| id_field(o, &format!("/{name}/id")))
}

/// An amount in Stripe's units → ours, or why it cannot be read.
pub(crate) fn amount(o: &Value, field: &str) -> Result<(i64, Currency), EventError> {
    let currency = o
        .get("currency")
        .and_then(Value::as_str)
        .and_then(|c| Currency::parse(c).ok())
        .ok_or("data.object.currency is not a currency code")?;
    let raw = o
        .get(field)
        .and_then(Value::as_i64)
        .ok_or_else(|| EventError::Payload(format!("data.object.{field} is not an integer")))?;
    let minor = currency.from_stripe_amount(raw).ok_or_else(|| {
        EventError::Payload(format!(
            "data.object.{field} {raw} is not an exact {} amount",
            currency.as_str()
        ))
    })?;
    Ok((minor, currency))
}

/// Links the Stripe customer to a click, as `POST /identify` would: the click itself, or the
/// last click of a `userId` already identified. Then re-queues the customer's invoices that
/// came before we knew. False when the click or user is unknown.
async fn identify(
    state: &AppState,
    customer: &str,
    click: Option<&str>,
    user: Option<&str>,
) -> Result<bool, EventError> {
    state.clicks.flush().await;
    let click_id = match (click, user) {
        (Some(c), _) => Some(ClickId::from_string(c)),
        (None, Some(u)) => db::clicks::last_of_user(state.db.pool(), u, state.clock.now())
            .await?
            .map(|c| c.id),
        (None, None) => None,
    };
    let Some(click_id) = click_id else {
        return Ok(false);
    };
    if !db::clicks::identify(state.db.pool(), &click_id, customer).await? {
        return Ok(false);
    }
    let requeued =
        db::stripe_billing::requeue_customer_events(state.db.pool(), customer, state.clock.now())
            .await?;
    for id in requeued {
        events::kick(state, id);
    }
    Ok(true)
}

/// When the sale happened by the object's own clock (seconds since the epoch), never later than
/// now. Attribution looks for the click before this moment, so a click made today cannot claim
/// an invoice paid months ago that is processed (or re-queued) only now.
fn sale_time(state: &AppState, obj: &Value, fields: &[&[&str]]) -> crate::domain::time::Timestamp {
    let now = state.clock.now();
    fields
        .iter()
        .find_map(|path| {
            path.iter()
                .try_fold(obj, |v, k| v.get(*k))
                .and_then(Value::as_i64)
        })
        // Stripe's clock has whole seconds: the end of that second, so a click made earlier in
        // the same second still counts.
        .and_then(|secs| secs.checked_mul(1000)?.checked_add(999))
        .map(crate::domain::time::Timestamp::from_millis)
        .filter(|t| *t < now)
        .unwrap_or(now)
}

/// Records a sale like `POST /events` (the same idempotent path). `Recorded` when it earned a
/// commission or was attributed, `ignored_no_attribution` when not, `Duplicate` for a repeat
/// of its externalEventId (the other event of an invoice's pair).
async fn record_sale(
    state: &AppState,
    external: String,
    refs: &[&str],
    (value_minor, currency): (i64, Currency),
    (customer, click): (Option<&str>, Option<&str>),
    at: crate::domain::time::Timestamp,
) -> Result<Handled, EventError> {
    // The refs first: a refund arriving later finds the sale through them, even if this
    // attempt dies before recording it (the retry records it).
    let now = state.clock.now();
    db::stripe_billing::record_sale_refs(&state.db, refs, &external, now).await?;
    let sale = external.clone();
    let input = EventInput {
        external_event_id: external,
        kind: "sale".into(),
        value_minor,
        currency,
        click_id: click.map(ClickId::from_string),
        user_id: customer.map(str::to_string),
        ts: at,
    };
    let (created, answer) = conversions::record(state, input)
        .await
        .map_err(EventError::sale)?;
    // Refunds and disputes that came first and wait for this sale: now, also those waiting on
    // a payment an `invoice_payment.paid` or a Checkout session linked to it.
    let waiting =
        db::stripe_billing::requeue_waiting_events(&state.db, refs, Some(&sale), now).await?;
    for id in waiting {
        events::kick(state, id);
    }
    if !created {
        return Ok(Handled::Duplicate);
    }
    let answer: Value = serde_json::from_str(&answer).unwrap_or_default();
    Ok(if answer["attributed"] == true {
        Handled::Recorded
    } else {
        Handled::Ignored("ignored_no_attribution")
    })
}

/// `checkout.session.completed`: `client_reference_id` or `metadata.op_click` identifies the
/// session's customer; a `mode=payment` session that is paid records a sale of
/// `amount_total` (subscription checkouts are recorded by their invoices).
pub async fn checkout_completed(state: &AppState, payload: &Value) -> Result<Handled, EventError> {
    let s = object(payload)?;
    let session = id_field(s, "/id").ok_or("data.object.id is missing")?;
    let click = id_field(s, "/client_reference_id").or_else(|| id_field(s, "/metadata/op_click"));
    let customer = ref_field(s, "customer");
    let identified = match (customer, click) {
        (Some(cus), Some(click)) => identify(state, cus, Some(click), None).await?,
        _ => false,
    };
    let paid = s.get("payment_status").and_then(Value::as_str) == Some("paid");
    let one_off = s.get("mode").and_then(Value::as_str) == Some("payment");
    if one_off && !paid && !identified {
        // Paid later by a delayed method: `checkout.session.async_payment_succeeded` brings the
        // sale. Nothing to attribute yet.
        return Ok(Handled::Ignored("ignored"));
    }
    if !one_off || !paid {
        return Ok(if identified {
            Handled::Recorded
        } else if click.is_some() {
            Handled::Ignored("ignored_no_attribution")
        } else {
            Handled::Ignored("ignored")
        });
    }
    let amount = amount(s, "amount_total")?;
    if amount.0 == 0 {
        return Ok(Handled::Ignored("ignored"));
    }
    let intent = ref_field(s, "payment_intent");
    // A one-off Checkout that creates an invoice (`invoice_creation`) also sends that
    // invoice's `invoice.paid`: one payment, so one sale, under the invoice's id. Whichever
    // event comes first records it (attributed as of the session, at its time); the other is
    // its duplicate.
    let invoice = ref_field(s, "invoice");
    let refs: Vec<&str> = [Some(session), intent, invoice]
        .into_iter()
        .flatten()
        .collect();
    let external = match invoice {
        Some(invoice) => format!("{INVOICE_SALE}{invoice}"),
        None => format!("stripe:checkout:{}", intent.unwrap_or(session)),
    };
    let at = sale_time(state, s, &[&["created"]]);
    // The customer when it is known as a click's (recurring revenue); else the click itself.
    let known = match customer {
        Some(_) if identified => true,
        Some(cus) => db::stripe_billing::customer_identified(state.db.pool(), cus).await?,
        None => false,
    };
    match (known, click) {
        (true, _) => record_sale(state, external, &refs, amount, (customer, None), at).await,
        (false, Some(click)) => {
            record_sale(state, external, &refs, amount, (None, Some(click)), at).await
        }
        (false, None) => Ok(Handled::Ignored("ignored_no_attribution")),
    }
}

/// `customer.created` / `customer.updated`: `metadata.op_click`, or
/// `metadata.openpartner_user_id` naming a `userId` already identified, identifies it.
pub async fn customer_changed(state: &AppState, payload: &Value) -> Result<Handled, EventError> {
    let c = object(payload)?;
    let customer = id_field(c, "/id").ok_or("data.object.id is missing")?;
    let click = id_field(c, "/metadata/op_click");
    let user = id_field(c, "/metadata/openpartner_user_id");
    if click.is_none() && user.is_none() {
        return Ok(Handled::Ignored("ignored"));
    }
    Ok(if identify(state, customer, click, user).await? {
        Handled::Recorded
    } else {
        Handled::Ignored("ignored_no_attribution")
    })
}

/// `invoice.paid` and `invoice.payment_succeeded`: a sale of `amount_paid` for the invoice's
/// customer, externalEventId `stripe:invoice:<id>` (so the pair counts once). Nothing for 0.
pub async fn invoice_paid(
    state: &AppState,
    event: &StripeEvent,
    payload: &Value,
) -> Result<Handled, EventError> {
    let inv = object(payload)?;
    let id = id_field(inv, "/id").ok_or("data.object.id is missing")?;
    let amount = amount(inv, "amount_paid")?;
    if amount.0 == 0 {
        return Ok(Handled::Ignored("ignored"));
    }
    // Older API versions name the charge and payment intent on the invoice; newer ones under
    // `payments`: refunds find the sale through whichever is there.
    let intent = ref_field(inv, "payment_intent")
        .or_else(|| id_field(inv, "/payments/data/0/payment/payment_intent"));
    let charge =
        ref_field(inv, "charge").or_else(|| id_field(inv, "/payments/data/0/payment/charge"));
    let refs: Vec<&str> = [Some(id), intent, charge].into_iter().flatten().collect();
    let external = format!("{INVOICE_SALE}{id}");
    // Already recorded: by the pair's other event, or by the Checkout session that created
    // the invoice (attributed as of that session, whoever the customer's click is now). Its
    // payment still leads refunds there.
    if db::events::result(state.db.pool(), &external)
        .await?
        .is_some()
    {
        link_payment(state, &refs, &external).await?;
        return Ok(Handled::Duplicate);
    }
    let Some(customer) = ref_field(inv, "customer") else {
        return Ok(Handled::Ignored("ignored_no_attribution"));
    };
    db::stripe_billing::set_event_customer(state.db.pool(), &event.id, customer).await?;
    if !db::stripe_billing::customer_identified(state.db.pool(), customer).await? {
        return Ok(Handled::Ignored("ignored_no_attribution"));
    }
    let at = sale_time(
        state,
        inv,
        &[&["status_transitions", "paid_at"], &["created"]],
    );
    record_sale(state, external, &refs, amount, (Some(customer), None), at).await
}

/// `invoice_payment.paid` (API versions from 2025-03-31.basil on, whose invoices no longer
/// name their charge or payment intent): the payment's intent or charge paid the invoice's
/// sale, so a refund or a dispute naming them finds it. Events that wait for these refs are
/// due now.
pub async fn invoice_payment_paid(
    state: &AppState,
    payload: &Value,
) -> Result<Handled, EventError> {
    let p = object(payload)?;
    let invoice = ref_field(p, "invoice").ok_or("data.object.invoice is missing")?;
    let refs: Vec<&str> = [
        ref_field(p, "payment/payment_intent"),
        ref_field(p, "payment/charge"),
    ]
    .into_iter()
    .flatten()
    .collect();
    if refs.is_empty() {
        return Ok(Handled::Ignored("ignored"));
    }
    link_payment(state, &refs, &format!("{INVOICE_SALE}{invoice}")).await?;
    Ok(Handled::Recorded)
}

/// Records that `refs` (a payment intent, a charge, a Checkout session) paid `sale`, and takes
/// up the refunds and disputes that wait for them.
async fn link_payment(state: &AppState, refs: &[&str], sale: &str) -> Result<(), EventError> {
    let now = state.clock.now();
    db::stripe_billing::record_sale_refs(&state.db, refs, sale, now).await?;
    for id in db::stripe_billing::requeue_waiting_events(&state.db, refs, None, now).await? {
        events::kick(state, id);
    }
    Ok(())
}
