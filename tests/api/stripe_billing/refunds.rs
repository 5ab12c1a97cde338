use super::*;

async fn refunds_full_partial_and_after_payout(b: Backend) {
    let (app, _sim) = spawn_with_stripe(b, &[]).await;
    let (pid, link) = partner(&app, "refund@example.com", "cmp_default").await; // 10 %
    // 33.33 → 3.33. A partial refund reverses its share, rounded down to the cent.
    let c = sold(&app, &link, "r1", 3_333).await;
    let e = send(
        &app,
        "evt_r1a",
        "charge.refunded",
        charge("in_r1", 3_333, 1_111),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let v = commission(&app, &c).await;
    assert_eq!(
        (v["status"].as_str(), v["reversedAmount"].as_str()),
        (Some("accrued"), Some("1.11"))
    );
    // Every total counts what is left of it: 3.33 - 1.11.
    let d = app.admin_get(&format!("/partners/{pid}/dashboard")).await;
    assert_eq!(
        d.assert_status(200)["commissionByStatus"]["accrued"],
        json!(2.22)
    );
    let o = app.admin_get("/stats/overview").await;
    assert_eq!(
        o.assert_status(200)["commissions"]["accrued"],
        json!({"USD": "2.22"})
    );
    let t = app.admin_get(&format!("/partners/{pid}/timeseries")).await;
    let earned: Vec<&Value> = t.assert_status(200)["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| &b["commission"])
        .filter(|c| c.as_object().is_some_and(|c| !c.is_empty()))
        .collect();
    assert_eq!(earned, [&json!({"USD": "2.22"})]);
    // A second partial refund (Stripe's amount_refunded is cumulative) reverses the difference.
    send(
        &app,
        "evt_r1b",
        "charge.refunded",
        charge("in_r1", 3_333, 3_332),
    )
    .await;
    let v = commission(&app, &c).await;
    assert_eq!(v["reversedAmount"], "3.32");
    // The same refund told again changes nothing; the rest refunded reverses it in full.
    let e = send(
        &app,
        "evt_r1c",
        "charge.refunded",
        charge("in_r1", 3_333, 3_332),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "duplicate"));
    send(
        &app,
        "evt_r1d",
        "charge.refunded",
        charge("in_r1", 3_333, 3_333),
    )
    .await;
    let v = commission(&app, &c).await;
    assert_eq!(
        (v["status"].as_str(), v["reversedAmount"].as_str()),
        (Some("reversed"), Some("3.33"))
    );
    let e = send(
        &app,
        "evt_r1e",
        "charge.refunded",
        charge("in_r1", 3_333, 3_333),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "duplicate"));

    // Partly refunded before payout: the payout pays what is left (20.00 - 5.00).
    let c2 = sold(&app, &link, "r2", 20_000).await;
    send(
        &app,
        "evt_r2a",
        "charge.refunded",
        charge("in_r2", 20_000, 5_000),
    )
    .await;
    app.admin_post(
        &format!("/commissions/{c2}/approve"),
        json!({"force": true}),
    )
    .await
    .assert_status(200);
    let run = app.admin_post("/payouts/run", json!({})).await;
    let p = run.assert_status(201)["payouts"][0].clone();
    assert_eq!(
        (p["amount"].as_str(), p["method"].as_str()),
        (Some("15.00"), Some("manual"))
    );
    let payout = p["id"].as_str().unwrap();
    app.admin_post(&format!("/payouts/{payout}/mark-paid"), json!({}))
        .await
        .assert_status(200);
    // Refunded further after payment: a clawback of the difference, still paid.
    send(
        &app,
        "evt_r2b",
        "charge.refunded",
        charge("in_r2", 20_000, 10_000),
    )
    .await;
    let v = commission(&app, &c2).await;
    assert_eq!(
        (v["status"].as_str(), v["reversedAmount"].as_str()),
        (Some("paid"), Some("10.00"))
    );
    let bal = app.admin_get(&format!("/partners/{pid}/balance")).await;
    assert_eq!(bal.assert_status(200)["balances"][0]["clawback"], "5.00");
    // Refunded in full: reversed, the rest clawed back too.
    send(
        &app,
        "evt_r2c",
        "charge.refunded",
        charge("in_r2", 20_000, 20_000),
    )
    .await;
    let v = commission(&app, &c2).await;
    assert_eq!(
        (v["status"].as_str(), v["reversedAmount"].as_str()),
        (Some("reversed"), Some("20.00"))
    );
    let bal = app.admin_get(&format!("/partners/{pid}/balance")).await;
    assert_eq!(bal.body["balances"][0]["clawback"], "15.00");
}

async fn a_refund_before_its_invoice_waits(b: Backend) {
    let (app, _sim) = spawn_with_stripe(b, &[]).await;
    let (_, link) = partner(&app, "late@example.com", "cmp_default").await;
    identified(&app, &link, "evt_cus", "cus_o").await;
    // The refund first: nothing to reverse yet, so it waits.
    post(
        &app,
        "evt_ref",
        "charge.refunded",
        charge("in_o", 10_000, 10_000),
    )
    .await;
    let e = app
        .stripe_event_when("evt_ref", |e| e["attempts"] == 1)
        .await;
    assert_eq!(e["status"], "pending");
    assert!(e["lastError"].as_str().unwrap().contains("in_o"), "{e}");
    // Then its invoice: the waiting refund is taken up at once and reverses the commission.
    send(
        &app,
        "evt_inv",
        "invoice.paid",
        invoice("in_o", "cus_o", 10_000, "usd"),
    )
    .await;
    let e = app
        .stripe_event_when("evt_ref", |e| e["status"] != "pending")
        .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let c = &commissions(&app).await[0];
    assert_eq!(
        (c["status"].as_str(), c["reversedAmount"].as_str()),
        (Some("reversed"), Some("10.00"))
    );

    // A dispute whose invoice is very late: it gives up waiting, and is still applied when
    // the invoice finally comes.
    identified(&app, &link, "evt_cus2", "cus_p").await;
    post(
        &app,
        "evt_dsp",
        "charge.dispute.created",
        dispute("dp_late", "in_p", "needs_response"),
    )
    .await;
    app.stripe_event_when("evt_dsp", |e| e["attempts"] == 1)
        .await;
    for _ in 1..openpartner::service::stripe_events::WAIT_ATTEMPTS {
        next_round(&app).await;
    }
    let e = app
        .stripe_event_when("evt_dsp", |e| e["status"] != "pending")
        .await;
    assert_eq!(outcome(&e), ("ignored", "ignored_no_attribution"));
    send(
        &app,
        "evt_inv2",
        "invoice.paid",
        invoice("in_p", "cus_p", 10_000, "usd"),
    )
    .await;
    let e = app
        .stripe_event_when("evt_dsp", |e| e["status"] == "processed")
        .await;
    assert_eq!(e["outcome"], "recorded");
    assert_eq!(commissions(&app).await[0]["status"], "on_hold");
}

/// Refund events of one charge delivered at the same moment (distinct ids, as when Stripe
/// resends a changed charge, and redeliveries of one id) take the money back once.
async fn concurrent_refunds_reverse_once(b: Backend) {
    let (app, _sim) = spawn_with_stripe(b, &[]).await;
    let (pid, link) = partner(&app, "race@example.com", "cmp_default").await;
    let c = sold(&app, &link, "cc", 10_000).await; // 10.00
    app.admin_post(&format!("/commissions/{c}/approve"), json!({"force": true}))
        .await
        .assert_status(200);
    let run = app.admin_post("/payouts/run", json!({})).await;
    let payout = run.assert_status(201)["payouts"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.admin_post(&format!("/payouts/{payout}/mark-paid"), json!({}))
        .await
        .assert_status(200);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            // Four distinct events, each delivered twice.
            let body = envelope(
                &format!("evt_race_{}", i % 4),
                "charge.refunded",
                charge("in_cc", 10_000, 5_000),
            );
            let t = app.state.clock.now().millis() / 1000;
            let req = app
                .client
                .post(app.url("/webhooks/stripe"))
                .header(
                    "stripe-signature",
                    sign(STRIPE_WEBHOOK_SECRET, t, body.as_bytes()),
                )
                .body(body);
            tokio::spawn(async move {
                answer(req.send().await.unwrap())
                    .await
                    .assert_status(200)
                    .clone()
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    // Whatever lost a race is retried; then all four are concluded.
    for i in 0..4 {
        let id = format!("evt_race_{i}");
        app.stripe_event_when(&id, |e| e["attempts"].as_i64() >= Some(1))
            .await;
    }
    next_round(&app).await;
    let mut recorded = 0;
    for i in 0..4 {
        let e = app
            .stripe_event_when(&format!("evt_race_{i}"), |e| e["status"] == "processed")
            .await;
        recorded += usize::from(e["outcome"] == "recorded");
    }
    assert_eq!(recorded, 1);
    let v = commission(&app, &c).await;
    assert_eq!(
        (v["status"].as_str(), v["reversedAmount"].as_str()),
        (Some("paid"), Some("5.00"))
    );
    let bal = app.admin_get(&format!("/partners/{pid}/balance")).await;
    assert_eq!(bal.assert_status(200)["balances"][0]["clawback"], "5.00");
}

/// A refund of a commission held by a payout not yet paid waits for the payout, however long
/// that takes, without using up its attempts; once paid, the refund is a clawback.
async fn a_refund_waits_for_its_payout_to_settle(b: Backend) {
    let (app, _sim) = spawn_with_stripe(b, &[]).await;
    let (pid, link) = partner(&app, "held@example.com", "cmp_default").await; // 10 %
    let c = sold(&app, &link, "h1", 20_000).await;
    app.admin_post(&format!("/commissions/{c}/approve"), json!({"force": true}))
        .await
        .assert_status(200);
    let run = app.admin_post("/payouts/run", json!({})).await;
    let payout = run.assert_status(201)["payouts"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    post(
        &app,
        "evt_h1",
        "charge.refunded",
        charge("in_h1", 20_000, 20_000),
    )
    .await;
    let e = app
        .stripe_event_when("evt_h1", |e| e["lastError"].is_string())
        .await;
    assert_eq!(
        (e["status"].as_str(), e["attempts"].as_i64()),
        (Some("pending"), Some(0))
    );
    // Days pass (past every retry of the usual schedule): still waiting, nothing used up.
    for _ in 0..10 {
        next_round(&app).await;
    }
    let e = app.stripe_event_when("evt_h1", |_| true).await;
    assert_eq!(
        (e["status"].as_str(), e["attempts"].as_i64()),
        (Some("pending"), Some(0))
    );
    assert_eq!(commission(&app, &c).await["status"], "approved");
    app.admin_post(&format!("/payouts/{payout}/mark-paid"), json!({}))
        .await
        .assert_status(200);
    next_round(&app).await;
    let e = app
        .stripe_event_when("evt_h1", |e| e["status"] != "pending")
        .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let v = commission(&app, &c).await;
    assert_eq!(
        (v["status"].as_str(), v["reversedAmount"].as_str()),
        (Some("reversed"), Some("20.00"))
    );
    let bal = app.admin_get(&format!("/partners/{pid}/balance")).await;
    assert_eq!(bal.assert_status(200)["balances"][0]["clawback"], "20.00");
    // A payout that never settles does not hold its refund for ever: after 90 days it is set
    // aside as dead, where an operator sees it. (Another partner: the first one's clawback
    // would swallow a small payout.)
    let (_, link2) = partner(&app, "held2@example.com", "cmp_default").await;
    let c2 = sold(&app, &link2, "h2", 10_000).await;
    app.admin_post(
        &format!("/commissions/{c2}/approve"),
        json!({"force": true}),
    )
    .await
    .assert_status(200);
    app.admin_post("/payouts/run", json!({}))
        .await
        .assert_status(201);
    post(
        &app,
        "evt_h2",
        "charge.refunded",
        charge("in_h2", 10_000, 10_000),
    )
    .await;
    app.stripe_event_when("evt_h2", |e| e["lastError"].is_string())
        .await;
    app.clock.advance(Duration::from_secs(91 * 86_400));
    next_round(&app).await;
    let e = app
        .stripe_event_when("evt_h2", |e| e["status"] != "pending")
        .await;
    assert_eq!(e["status"], "dead");
    assert!(e["lastError"].as_str().unwrap().contains("90 days"), "{e}");
}

both_backends!(
    a_refund_waits_for_its_payout_to_settle,
    concurrent_refunds_reverse_once,
    refunds_full_partial_and_after_payout,
    a_refund_before_its_invoice_waits,
);
