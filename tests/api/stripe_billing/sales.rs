use super::*;

async fn invoices_priced_first_then_subsequent_once_per_pair(b: Backend) {
    let (app, _sim) = spawn_with_stripe(b, &[]).await;
    let program = app
        .admin_post(
            "/programs",
            json!({"name": "SaaS", "destinationUrl": "https://saas.example.com",
                "commissionRules": [
                    {"trigger": "first", "type": "percent", "value": 30},
                    {"trigger": "subsequent", "type": "percent", "value": 10}]}),
        )
        .await;
    let program = program.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (pid, link) = partner(&app, "saas@example.com", &program).await;
    let click = app.click(&link).await;
    // The customer carries the click in its metadata.
    let e = send(
        &app,
        "evt_c1",
        "customer.created",
        customer("cus_a", json!({"op_click": click})),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    // The first invoice prices `first`; Stripe's pair for it counts once.
    let e = send(
        &app,
        "evt_i1",
        "invoice.paid",
        invoice("in_a1", "cus_a", 10_000, "usd"),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let e = send(
        &app,
        "evt_i1b",
        "invoice.payment_succeeded",
        invoice("in_a1", "cus_a", 10_000, "usd"),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "duplicate"));
    let cs = commissions(&app).await;
    assert_eq!(cs.len(), 1);
    assert_eq!(
        (
            cs[0]["amount"].as_str(),
            cs[0]["trigger"].as_str(),
            cs[0]["partnerId"].as_str()
        ),
        (Some("30.00"), Some("first"), Some(pid.as_str()))
    );
    // A later invoice prices `subsequent`; a trial's zero invoice records nothing.
    let e = send(
        &app,
        "evt_i2",
        "invoice.payment_succeeded",
        invoice("in_a2", "cus_a", 10_000, "usd"),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let e = send(
        &app,
        "evt_i0",
        "invoice.paid",
        invoice("in_a0", "cus_a", 0, "usd"),
    )
    .await;
    assert_eq!(outcome(&e), ("ignored", "ignored"));
    let cs = commissions(&app).await;
    assert_eq!(cs.len(), 2);
    assert_eq!(
        (cs[0]["amount"].as_str(), cs[0]["trigger"].as_str()),
        (Some("10.00"), Some("subsequent"))
    );
    // The sale is the same one `POST /events` would record: replaying its id replays it.
    let replay = app
        .admin_post(
            "/events",
            json!({"externalEventId": "stripe:invoice:in_a2", "value": "1.00", "clickId": click}),
        )
        .await;
    assert_eq!(replay.assert_status(200)["commission"]["amount"], "10.00");

    // A customer nobody identified: no attribution, nothing recorded.
    let e = send(
        &app,
        "evt_i9",
        "invoice.paid",
        invoice("in_z", "cus_nobody", 5_000, "usd"),
    )
    .await;
    assert_eq!(outcome(&e), ("ignored", "ignored_no_attribution"));
    let e = send(
        &app,
        "evt_c9",
        "customer.created",
        customer("cus_nobody", json!({"op_click": "no-such-click"})),
    )
    .await;
    assert_eq!(outcome(&e), ("ignored", "ignored_no_attribution"));
    assert_eq!(commissions(&app).await.len(), 2);

    // A customer named by a userId the brand identified with /identify.
    let click2 = app.click(&link).await;
    app.admin_post("/identify", json!({"clickId": click2, "userId": "user-42"}))
        .await
        .assert_status(200);
    let e = send(
        &app,
        "evt_c2",
        "customer.updated",
        customer("cus_b", json!({"openpartner_user_id": "user-42"})),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    send(
        &app,
        "evt_i3",
        "invoice.paid",
        invoice("in_b1", "cus_b", 2_000, "usd"),
    )
    .await;
    let cs = commissions(&app).await;
    assert_eq!(cs.len(), 3);
    assert_eq!(
        (cs[0]["amount"].as_str(), cs[0]["trigger"].as_str()),
        (Some("6.00"), Some("first"))
    );
    // The outcomes are listed and filtered, by status or by outcome.
    let by = |q: &'static str| {
        let app = &app;
        async move {
            let a = app
                .admin_get(&format!("/admin/stripe/events?status={q}"))
                .await;
            a.assert_status(200)["events"].as_array().unwrap().len()
        }
    };
    assert_eq!(by("recorded").await, 5);
    assert_eq!(by("duplicate").await, 1);
    assert_eq!(by("ignored_no_attribution").await, 2);
    assert_eq!(by("ignored").await, 3);
    let dups = app.admin_get("/admin/stripe/events?status=processed").await;
    assert_eq!(
        dups.assert_status(200)["events"].as_array().unwrap().len(),
        6
    );
}

async fn checkout_attribution_in_jpy_and_kwd(b: Backend) {
    let (app, _sim) = spawn_with_stripe(b, &[]).await;
    let (_, link) = partner(&app, "shop@example.com", "cmp_default").await; // 10 %
    // A one-off payment in yen (zero-decimal): ¥5,000 → ¥500.
    let click = app.click(&link).await;
    let session = json!({"id": "cs_test_jpy", "object": "checkout.session", "amount_subtotal": 5000,
        "amount_total": 5000, "client_reference_id": click, "currency": "jpy", "customer": "cus_jp",
        "metadata": {}, "mode": "payment", "payment_intent": "pi_jpy", "payment_status": "paid",
        "status": "complete"});
    let e = send(&app, "evt_cs1", "checkout.session.completed", session).await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let c = &commissions(&app).await[0];
    assert_eq!(
        (c["amount"].as_str(), c["currency"].as_str()),
        (Some("500"), Some("JPY"))
    );
    // In dinars (three decimals), the click in metadata, no customer: 12.340 KWD → 1.234.
    let click = app.click(&link).await;
    let session = json!({"id": "cs_test_kwd", "object": "checkout.session", "amount_total": 12_340,
        "client_reference_id": null, "currency": "kwd", "customer": null,
        "metadata": {"op_click": click}, "mode": "payment", "payment_intent": null,
        "payment_status": "paid", "status": "complete"});
    let e = send(&app, "evt_cs2", "checkout.session.completed", session).await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let c = &commissions(&app).await[0];
    assert_eq!(
        (c["amount"].as_str(), c["currency"].as_str()),
        (Some("1.234"), Some("KWD"))
    );
    let replay = app
        .admin_post(
            "/events",
            json!({"externalEventId": "stripe:checkout:cs_test_kwd", "value": "1", "clickId": click}),
        )
        .await;
    assert_eq!(replay.assert_status(200)["value"], "12.340");
    // An invoice in yen for the identified customer.
    send(
        &app,
        "evt_ijp",
        "invoice.paid",
        invoice("in_jp", "cus_jp", 3000, "jpy"),
    )
    .await;
    let c = &commissions(&app).await[0];
    assert_eq!(
        (c["amount"].as_str(), c["currency"].as_str()),
        (Some("300"), Some("JPY"))
    );

    // A subscription checkout whose first invoice arrived before it (Stripe does not order
    // them): the invoice is recorded once the checkout names the customer's click.
    let e = send(
        &app,
        "evt_sub_i",
        "invoice.paid",
        invoice("in_s1", "cus_sub", 4_000, "usd"),
    )
    .await;
    assert_eq!(outcome(&e), ("ignored", "ignored_no_attribution"));
    let click = app.click(&link).await;
    let session = json!({"id": "cs_test_sub", "object": "checkout.session", "amount_total": 4000,
        "client_reference_id": click, "currency": "usd", "customer": "cus_sub", "metadata": {},
        "mode": "subscription", "payment_intent": null, "payment_status": "paid",
        "subscription": "sub_9", "status": "complete"});
    let e = send(&app, "evt_sub_cs", "checkout.session.completed", session).await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let e = app
        .stripe_event_when("evt_sub_i", |e| e["status"] == "processed")
        .await;
    assert_eq!(e["outcome"], "recorded");
    let c = &commissions(&app).await[0];
    assert_eq!(
        (c["amount"].as_str(), c["currency"].as_str()),
        (Some("4.00"), Some("USD"))
    );
    assert_eq!(commissions(&app).await.len(), 4);
    // A delayed payment method: completed unpaid records nothing; the sale is recorded when
    // the payment succeeds, once (a redelivered success is a duplicate).
    let click = app.click(&link).await;
    let session = |status: &str| {
        json!({"id": "cs_test_sepa", "object": "checkout.session", "amount_total": 7000,
            "client_reference_id": click, "currency": "eur", "customer": null, "metadata": {},
            "mode": "payment", "payment_intent": "pi_sepa", "payment_status": status,
            "status": "complete"})
    };
    let e = send(
        &app,
        "evt_sepa1",
        "checkout.session.completed",
        session("unpaid"),
    )
    .await;
    assert_eq!(outcome(&e), ("ignored", "ignored"));
    assert_eq!(commissions(&app).await.len(), 4);
    let e = send(
        &app,
        "evt_sepa2",
        "checkout.session.async_payment_succeeded",
        session("paid"),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let c = &commissions(&app).await[0];
    assert_eq!(
        (c["amount"].as_str(), c["currency"].as_str()),
        (Some("7.00"), Some("EUR"))
    );
    let e = send(
        &app,
        "evt_sepa3",
        "checkout.session.completed",
        session("paid"),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "duplicate"));
    assert_eq!(commissions(&app).await.len(), 5);
    // Without any click: no attribution.
    let session = json!({"id": "cs_test_anon", "object": "checkout.session", "amount_total": 900,
        "currency": "usd", "customer": "cus_anon", "metadata": {}, "mode": "payment",
        "payment_intent": "pi_anon", "payment_status": "paid", "status": "complete"});
    let e = send(&app, "evt_cs3", "checkout.session.completed", session).await;
    assert_eq!(outcome(&e), ("ignored", "ignored_no_attribution"));
}

/// An invoice paid before the customer's click is not the partner's: the sale is dated by the
/// invoice's own clock, not by when the event is processed (or re-queued after a late
/// identification).
async fn an_invoice_paid_before_the_click_earns_nothing(b: Backend) {
    let (app, _sim) = spawn_with_stripe(b, &[]).await;
    let (_pid, link) = partner(&app, "late@example.com", "cmp_default").await;
    let e = identified(&app, &link, "evt_lc", "cus_late").await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let mut old = invoice("in_old", "cus_late", 10_000, "usd");
    let paid = app.state.clock.now().millis() / 1000 - 90 * 86_400;
    old["created"] = json!(paid);
    old["status_transitions"] = json!({"paid_at": paid});
    send(&app, "evt_old", "invoice.paid", old).await;
    assert!(
        commissions(&app).await.is_empty(),
        "an invoice from before the click earned a commission"
    );
    // One paid now is.
    send(
        &app,
        "evt_new",
        "invoice.paid",
        invoice("in_new", "cus_late", 10_000, "usd"),
    )
    .await;
    assert_eq!(commissions(&app).await.len(), 1);
}

/// A live-mode event at an instance holding a test key (a misrouted endpoint) pays nothing.
async fn events_of_the_other_mode_are_ignored(b: Backend) {
    let (app, _sim) = spawn_with_stripe(b, &[]).await;
    let (_, link) = partner(&app, "mode@example.com", "cmp_default").await;
    identified(&app, &link, "evt_cus_mode", "cus_mode").await;
    let live = envelope_in(
        "evt_inv_live",
        "invoice.paid",
        invoice("in_live", "cus_mode", 5_000, "usd"),
        true,
    );
    post_body(&app, live).await;
    let e = app
        .stripe_event_when("evt_inv_live", |e| e["status"] != "pending")
        .await;
    assert_eq!(outcome(&e), ("ignored", "ignored_livemode_mismatch"));
    assert!(commissions(&app).await.is_empty());
    // The same sale in test mode, the key's own, earns.
    let e = send(
        &app,
        "evt_inv_test",
        "invoice.paid",
        invoice("in_live", "cus_mode", 5_000, "usd"),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    assert_eq!(commissions(&app).await.len(), 1);
    // A connected account's own event (Connect endpoints share the URL) is not the brand's
    // sale: only its account.updated counts.
    let mut connected: Value = serde_json::from_str(&envelope(
        "evt_inv_acct",
        "invoice.paid",
        invoice("in_acct", "cus_mode", 9_000, "usd"),
    ))
    .unwrap();
    connected["account"] = json!("acct_1PartnerOwn");
    post_body(&app, connected.to_string()).await;
    let e = app
        .stripe_event_when("evt_inv_acct", |e| e["status"] != "pending")
        .await;
    assert_eq!(outcome(&e).0, "ignored");
    assert_eq!(commissions(&app).await.len(), 1);
}

both_backends!(
    events_of_the_other_mode_are_ignored,
    an_invoice_paid_before_the_click_earns_nothing,
    invoices_priced_first_then_subsequent_once_per_pair,
    checkout_attribution_in_jpy_and_kwd,
);
