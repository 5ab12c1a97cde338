//! Stripe billing webhooks: customers identified by checkout and customer metadata, invoices
//! recorded as sales priced first / subsequent (the pair counted once), one-off checkouts,
//! JPY and KWD amounts, full and partial refunds (before and after payout), refunds arriving
//! before their invoice, and disputes holding, releasing and reversing. Events are built from
//! Stripe's documented object shapes and signed exactly as Stripe signs them.

mod basil;
mod disputes;
mod one_sale;
mod refunds;
mod sales;

use std::time::Duration;

use openpartner::stripe::signature::sign;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, STRIPE_WEBHOOK_SECRET, TestApp, answer, spawn_with_stripe};

/// An event envelope as Stripe sends it.
fn envelope(id: &str, event_type: &str, object: Value) -> String {
    envelope_in(id, event_type, object, false)
}

fn envelope_in(id: &str, event_type: &str, object: Value, livemode: bool) -> String {
    json!({"id": id, "object": "event", "api_version": "2024-06-20",
        "created": chrono::Utc::now().timestamp(), "data": {"object": object},
        "livemode": livemode, "pending_webhooks": 1,
        "request": {"id": null, "idempotency_key": null}, "type": event_type})
    .to_string()
}

/// Delivers the event signed as Stripe signs (`t=…,v1=HMAC-SHA256("t.body")`) and waits until
/// it is processed; returns its listing.
async fn send(app: &TestApp, id: &str, event_type: &str, object: Value) -> Value {
    post(app, id, event_type, object).await;
    app.stripe_event_when(id, |e| e["status"] != "pending")
        .await
}

async fn post(app: &TestApp, id: &str, event_type: &str, object: Value) {
    post_body(app, envelope(id, event_type, object)).await;
}

async fn post_body(app: &TestApp, body: String) {
    let t = app.state.clock.now().millis() / 1000;
    let res = app
        .client
        .post(app.url("/webhooks/stripe"))
        .header("content-type", "application/json; charset=utf-8")
        .header(
            "stripe-signature",
            sign(STRIPE_WEBHOOK_SECRET, t, body.as_bytes()),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    answer(res).await.assert_status(200);
}

fn outcome(e: &Value) -> (&str, &str) {
    (
        e["status"].as_str().unwrap_or(""),
        e["outcome"].as_str().unwrap_or(""),
    )
}

fn customer(id: &str, metadata: Value) -> Value {
    json!({"id": id, "object": "customer", "created": 1_700_000_000, "email": "buyer@example.com",
        "livemode": false, "metadata": metadata})
}

fn invoice(id: &str, cus: &str, amount_paid: i64, currency: &str) -> Value {
    json!({"id": id, "object": "invoice", "amount_due": amount_paid, "amount_paid": amount_paid,
        "amount_remaining": 0, "billing_reason": "subscription_cycle",
        "charge": format!("ch_{id}"), "currency": currency, "customer": cus, "paid": true,
        "payment_intent": format!("pi_{id}"), "status": "paid", "subscription": "sub_1",
        "lines": {"object": "list", "data": [], "has_more": false}})
}

fn charge(invoice: &str, amount: i64, refunded: i64) -> Value {
    json!({"id": format!("ch_{invoice}"), "object": "charge", "amount": amount,
        "amount_captured": amount, "amount_refunded": refunded, "captured": true,
        "currency": "usd", "customer": "cus_x", "invoice": invoice,
        "payment_intent": format!("pi_{invoice}"), "paid": true, "refunded": refunded >= amount,
        "status": "succeeded", "refunds": {"object": "list", "data": [], "has_more": false}})
}

fn dispute(id: &str, invoice: &str, status: &str) -> Value {
    json!({"id": id, "object": "dispute", "amount": 10_000, "charge": format!("ch_{invoice}"),
        "currency": "usd", "is_charge_refundable": false,
        "payment_intent": format!("pi_{invoice}"), "reason": "fraudulent", "status": status})
}

/// A partner with a link on `program`; returns (partner id, link key).
async fn partner(app: &TestApp, email: &str, program: &str) -> (String, String) {
    let body = json!({"email": email, "name": email, "sendInvite": false, "programIds": [program]});
    let id = app.admin_post("/partners", body).await.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let key = format!("p-{}", &id[id.len() - 8..]).to_lowercase();
    app.create_link(&id, &key, program).await;
    (id, key)
}

/// The commissions, newest first.
async fn commissions(app: &TestApp) -> Vec<Value> {
    let a = app.admin_get("/commissions?limit=500").await;
    a.assert_status(200)["commissions"]
        .as_array()
        .unwrap()
        .clone()
}

async fn commission(app: &TestApp, id: &str) -> Value {
    commissions(app)
        .await
        .into_iter()
        .find(|c| c["id"] == id)
        .unwrap()
}

/// An identified customer with one invoice of `amount` USD cents; returns its commission id.
/// A click on `link`, then the Stripe customer it became (`customer.created` as event `evt`);
/// returns the event's listing.
async fn identified(app: &TestApp, link: &str, evt: &str, cus: &str) -> Value {
    let click = app.click(link).await;
    send(
        app,
        evt,
        "customer.created",
        customer(cus, json!({"op_click": click})),
    )
    .await
}

async fn sold(app: &TestApp, link: &str, n: &str, amount: i64) -> String {
    identified(app, link, &format!("evt_cus_{n}"), &format!("cus_{n}")).await;
    let e = send(
        app,
        &format!("evt_inv_{n}"),
        "invoice.paid",
        invoice(&format!("in_{n}"), &format!("cus_{n}"), amount, "usd"),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    commissions(app).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Moves app time past every retry and runs the Stripe events job once.
async fn next_round(app: &TestApp) {
    app.clock.advance(Duration::from_secs(13 * 3600));
    openpartner::service::stripe_events::process_due(&app.state)
        .await
        .unwrap();
}
