//! Stripe API versions from 2025-03-31.basil on: invoices no longer name their charge or
//! payment intent, and charges no longer name their invoice. `invoice_payment.paid` links
//! the payment to the invoice, so a refund naming only the payment intent finds the sale,
//! whichever order the events come in.

use super::*;

/// An invoice as a basil endpoint receives it: no `charge`, no `payment_intent`.
fn basil_invoice(id: &str, cus: &str, amount: i64) -> Value {
    let mut inv = invoice(id, cus, amount, "usd");
    let o = inv.as_object_mut().unwrap();
    o.remove("charge");
    o.remove("payment_intent");
    inv
}

/// A charge as a basil endpoint receives it: no `invoice`.
fn basil_charge(invoice_id: &str, amount: i64, refunded: i64) -> Value {
    let mut ch = charge(invoice_id, amount, refunded);
    ch.as_object_mut().unwrap().remove("invoice");
    ch
}

/// The `invoice_payment` object: the invoice and the payment intent that paid it.
fn invoice_payment(invoice_id: &str, amount: i64) -> Value {
    json!({"id": format!("inpay_{invoice_id}"), "object": "invoice_payment",
        "amount_paid": amount, "amount_requested": amount, "created": 1_700_000_000,
        "currency": "usd", "invoice": invoice_id, "is_default": true, "livemode": false,
        "payment": {"type": "payment_intent", "payment_intent": format!("pi_{invoice_id}")},
        "status": "paid", "status_transitions": {"canceled_at": null, "paid_at": 1_700_000_000}})
}

async fn reversed(app: &TestApp, commission_id: &str) -> (String, String) {
    let c = commission(app, commission_id).await;
    (
        c["status"].as_str().unwrap().to_string(),
        c["reversedAmount"].as_str().unwrap().to_string(),
    )
}

async fn refunds_find_basil_invoices_through_their_payments(b: Backend) {
    let (app, _sim) = spawn_with_stripe(b, &[]).await;
    let (_, link) = partner(&app, "basil@example.com", "cmp_default").await;

    // In order: the invoice, its payment, then a full refund naming only the intent.
    identified(&app, &link, "evt_cus_b", "cus_b").await;
    let e = send(
        &app,
        "evt_inv_b",
        "invoice.paid",
        basil_invoice("in_b", "cus_b", 10_000),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let first = commissions(&app).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let e = send(
        &app,
        "evt_pay_b",
        "invoice_payment.paid",
        invoice_payment("in_b", 10_000),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let e = send(
        &app,
        "evt_ref_b",
        "charge.refunded",
        basil_charge("in_b", 10_000, 10_000),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    assert_eq!(
        reversed(&app, &first).await,
        ("reversed".into(), "10.00".into())
    );

    // Out of order: the refund first, long enough to give up; then the payment (it has no
    // sale yet, so the refund waits again); then the invoice, which takes the refund up.
    identified(&app, &link, "evt_cus_c", "cus_c").await;
    post(
        &app,
        "evt_ref_c",
        "charge.refunded",
        basil_charge("in_c", 10_000, 4_000),
    )
    .await;
    app.stripe_event_when("evt_ref_c", |e| e["attempts"] == 1)
        .await;
    for _ in 1..openpartner::service::stripe_events::WAIT_ATTEMPTS {
        next_round(&app).await;
    }
    let e = app
        .stripe_event_when("evt_ref_c", |e| e["status"] != "pending")
        .await;
    assert_eq!(outcome(&e), ("ignored", "ignored_no_attribution"));
    let e = send(
        &app,
        "evt_pay_c",
        "invoice_payment.paid",
        invoice_payment("in_c", 10_000),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let e = app
        .stripe_event_when("evt_ref_c", |e| {
            e["status"] == "pending" && e["attempts"] == 1
        })
        .await;
    assert!(e["lastError"].as_str().unwrap().contains("pi_in_c"), "{e}");
    let e = send(
        &app,
        "evt_inv_c",
        "invoice.paid",
        basil_invoice("in_c", "cus_c", 10_000),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let second = commissions(&app).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(first, second);
    let e = app
        .stripe_event_when("evt_ref_c", |e| e["status"] != "pending")
        .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let (status, amount) = reversed(&app, &second).await;
    assert_eq!(amount, "4.00");
    assert_ne!(status, "reversed");

    // An invoice paid in two parts (partial payments): a full refund of the 40.00 payment
    // takes back 40 % of the commission, not all of it.
    identified(&app, &link, "evt_cus_e", "cus_e").await;
    send(
        &app,
        "evt_inv_e",
        "invoice.paid",
        basil_invoice("in_e", "cus_e", 10_000),
    )
    .await;
    let third = commissions(&app).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut part = invoice_payment("in_e", 4_000);
    part["id"] = json!("inpay_e2");
    part["payment"]["payment_intent"] = json!("pi_e2");
    let e = send(&app, "evt_pay_e2", "invoice_payment.paid", part).await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let mut refund = basil_charge("in_e", 4_000, 4_000);
    refund["id"] = json!("ch_e2");
    refund["payment_intent"] = json!("pi_e2");
    let e = send(&app, "evt_ref_e2", "charge.refunded", refund).await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let (status, amount) = reversed(&app, &third).await;
    assert_eq!(amount, "4.00");
    assert_ne!(status, "reversed");

    // A payment naming no intent or charge links nothing.
    let mut bare = invoice_payment("in_d", 10_000);
    bare["payment"] = json!({"type": "payment_record", "payment_record": "pr_d"});
    let e = send(&app, "evt_pay_d", "invoice_payment.paid", bare).await;
    assert_eq!(outcome(&e), ("ignored", "ignored"));
}

both_backends!(refunds_find_basil_invoices_through_their_payments);
