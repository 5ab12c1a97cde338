//! A one-off Checkout that creates an invoice (`invoice_creation`) sends both
//! `checkout.session.completed` and the invoice's `invoice.paid`: one payment, one sale (under
//! the invoice's id), one commission, whichever comes first, and a refund finds that sale
//! through the session's payment.

use super::*;

fn session(n: &str, cus: &str, amount: i64) -> Value {
    json!({"id": format!("cs_{n}"), "object": "checkout.session", "amount_total": amount,
        "client_reference_id": null, "currency": "usd", "customer": cus,
        "invoice": format!("in_{n}"), "metadata": {}, "mode": "payment",
        "payment_intent": format!("pi_in_{n}"), "payment_status": "paid", "status": "complete"})
}

/// A refund of the whole charge naming only `keep` of its refs (`payment_intent`, `invoice`).
fn refund(n: &str, amount: i64, keep: &[&str]) -> Value {
    let mut ch = charge(&format!("in_{n}"), amount, amount);
    let o = ch.as_object_mut().unwrap();
    for field in ["payment_intent", "invoice"] {
        if !keep.contains(&field) {
            o.remove(field);
        }
    }
    ch
}

async fn checkout_with_an_invoice_is_one_sale(b: Backend) {
    let (app, _sim) = spawn_with_stripe(b, &[]).await;
    let (_, link) = partner(&app, "once@example.com", "cmp_default").await;

    // The session first, then its invoice.
    identified(&app, &link, "evt_cus_1", "cus_1").await;
    let cs = session("k1", "cus_1", 5_000);
    let e = send(&app, "evt_cs_1", "checkout.session.completed", cs).await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let inv = invoice("in_k1", "cus_1", 5_000, "usd");
    let e = send(&app, "evt_inv_1", "invoice.paid", inv).await;
    assert_eq!(outcome(&e), ("processed", "duplicate"));
    assert_eq!(commissions(&app).await.len(), 1);

    // The invoice first, then its session: still one sale.
    identified(&app, &link, "evt_cus_2", "cus_2").await;
    let inv = invoice("in_k2", "cus_2", 7_000, "usd");
    let e = send(&app, "evt_inv_2", "invoice.paid", inv).await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let cs = session("k2", "cus_2", 7_000);
    let e = send(&app, "evt_cs_2", "checkout.session.completed", cs).await;
    assert_eq!(outcome(&e), ("processed", "duplicate"));
    let all = commissions(&app).await;
    assert_eq!(all.len(), 2);

    // Refunds find each sale, by the charge alone or by the payment intent alone.
    for (n, amount, keep, c) in [
        ("k1", 5_000, &[][..], &all[1]),
        ("k2", 7_000, &["payment_intent"][..], &all[0]),
    ] {
        let e = send(
            &app,
            &format!("evt_ref_{n}"),
            "charge.refunded",
            refund(n, amount, keep),
        )
        .await;
        assert_eq!(outcome(&e), ("processed", "recorded"), "{n}");
        let id = c["id"].as_str().unwrap();
        assert_eq!(commission(&app, id).await["status"], "reversed", "{n}");
    }

    // Basil (the invoice names no payment): a refund naming only the intent comes first and
    // gives up; the session records the sale and takes the refund up; its invoice is the same
    // sale.
    identified(&app, &link, "evt_cus_3", "cus_3").await;
    post(
        &app,
        "evt_ref_k3",
        "charge.refunded",
        refund("k3", 9_000, &["payment_intent"]),
    )
    .await;
    app.stripe_event_when("evt_ref_k3", |e| e["attempts"] == 1)
        .await;
    for _ in 1..openpartner::service::stripe_events::WAIT_ATTEMPTS {
        next_round(&app).await;
    }
    let e = app
        .stripe_event_when("evt_ref_k3", |e| e["status"] != "pending")
        .await;
    assert_eq!(outcome(&e), ("ignored", "ignored_no_attribution"));
    let cs = session("k3", "cus_3", 9_000);
    let e = send(&app, "evt_cs_3", "checkout.session.completed", cs).await;
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
    let mut inv = invoice("in_k3", "cus_3", 9_000, "usd");
    let o = inv.as_object_mut().unwrap();
    o.remove("charge");
    o.remove("payment_intent");
    let e = send(&app, "evt_inv_3", "invoice.paid", inv).await;
    assert_eq!(outcome(&e), ("processed", "duplicate"));
    assert_eq!(commissions(&app).await.len(), 3);
}

/// One visitor buys twice; Checkout makes a new customer each time, and the second purchase
/// moves the click to it before the first invoice is processed: each purchase is still one
/// sale, attributed when its session was.
async fn a_second_checkout_does_not_lose_the_first(b: Backend) {
    let (app, _sim) = spawn_with_stripe(b, &[]).await;
    let (_, link) = partner(&app, "twice@example.com", "cmp_default").await;
    let click = app.click(&link).await;
    for (n, cus) in [("t1", "cus_t1"), ("t2", "cus_t2")] {
        let mut cs = session(n, cus, 4_000);
        cs["client_reference_id"] = json!(click);
        let e = send(
            &app,
            &format!("evt_cs_{n}"),
            "checkout.session.completed",
            cs,
        )
        .await;
        assert_eq!(outcome(&e), ("processed", "recorded"), "{n}");
    }
    let inv = invoice("in_t1", "cus_t1", 4_000, "usd");
    let e = send(&app, "evt_inv_t1", "invoice.paid", inv).await;
    assert_eq!(outcome(&e), ("processed", "duplicate"));
    assert_eq!(commissions(&app).await.len(), 2);
}

both_backends!(
    checkout_with_an_invoice_is_one_sale,
    a_second_checkout_does_not_lose_the_first
);
