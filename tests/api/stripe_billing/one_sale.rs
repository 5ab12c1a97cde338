//! A one-off Checkout that creates an invoice (`invoice_creation`) sends both
//! `checkout.session.completed` and the invoice's `invoice.paid`: one payment, one sale, one
//! commission, whichever comes first, and a refund finds that sale.

use super::*;

fn session(n: &str, cus: &str, amount: i64) -> Value {
    json!({"id": format!("cs_{n}"), "object": "checkout.session", "amount_total": amount,
        "client_reference_id": null, "currency": "usd", "customer": cus,
        "invoice": format!("in_{n}"), "metadata": {}, "mode": "payment",
        "payment_intent": format!("pi_in_{n}"), "payment_status": "paid", "status": "complete"})
}

async fn checkout_with_an_invoice_is_one_sale(b: Backend) {
    let (app, _sim) = spawn_with_stripe(b, &[]).await;
    let (_, link) = partner(&app, "once@example.com", "cmp_default").await;

    // The session first, then its invoice.
    identified(&app, &link, "evt_cus_1", "cus_1").await;
    let e = send(
        &app,
        "evt_cs_1",
        "checkout.session.completed",
        session("k1", "cus_1", 5_000),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let e = send(
        &app,
        "evt_inv_1",
        "invoice.paid",
        invoice("in_k1", "cus_1", 5_000, "usd"),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "duplicate"));
    assert_eq!(commissions(&app).await.len(), 1);

    // The invoice first, then its session.
    identified(&app, &link, "evt_cus_2", "cus_2").await;
    let e = send(
        &app,
        "evt_inv_2",
        "invoice.paid",
        invoice("in_k2", "cus_2", 7_000, "usd"),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let e = send(
        &app,
        "evt_cs_2",
        "checkout.session.completed",
        session("k2", "cus_2", 7_000),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "duplicate"));
    let all = commissions(&app).await;
    assert_eq!(all.len(), 2);

    // A refund of either sale finds it through the payment intent alone.
    for (n, amount, c) in [("k1", 5_000, &all[1]), ("k2", 7_000, &all[0])] {
        let mut ch = charge(&format!("in_{n}"), amount, amount);
        let o = ch.as_object_mut().unwrap();
        o.remove("invoice");
        let e = send(&app, &format!("evt_ref_{n}"), "charge.refunded", ch).await;
        assert_eq!(outcome(&e), ("processed", "recorded"), "{n}");
        assert_eq!(
            commission(&app, c["id"].as_str().unwrap()).await["status"],
            "reversed"
        );
    }

    // Basil: the refund first (naming only the intent and charge), then the payment linking
    // the intent to the invoice, then the session, which owns the invoice: the refund follows
    // the link to the session's sale and is taken up as soon as that sale is recorded.
    identified(&app, &link, "evt_cus_3", "cus_3").await;
    let mut ch = charge("in_k3", 9_000, 9_000);
    ch.as_object_mut().unwrap().remove("invoice");
    post(&app, "evt_ref_k3", "charge.refunded", ch).await;
    app.stripe_event_when("evt_ref_k3", |e| e["attempts"] == 1)
        .await;
    let payment = json!({"id": "inpay_k3", "object": "invoice_payment", "amount_paid": 9_000,
        "currency": "usd", "invoice": "in_k3", "status": "paid",
        "payment": {"type": "payment_intent", "payment_intent": "pi_in_k3"}});
    let e = send(&app, "evt_pay_k3", "invoice_payment.paid", payment).await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let e = send(
        &app,
        "evt_cs_3",
        "checkout.session.completed",
        session("k3", "cus_3", 9_000),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let third = commissions(&app).await[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let e = app
        .stripe_event_when("evt_ref_k3", |e| e["status"] != "pending")
        .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    assert_eq!(commission(&app, &third).await["status"], "reversed");
}

both_backends!(checkout_with_an_invoice_is_one_sale);
