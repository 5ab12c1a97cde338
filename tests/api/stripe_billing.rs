//! Stripe billing webhooks: customers identified by checkout and customer metadata, invoices
//! recorded as sales priced first / subsequent (the pair counted once), one-off checkouts,
//! JPY and KWD amounts, full and partial refunds (before and after payout), refunds arriving
//! before their invoice, and disputes holding, releasing and reversing. Events are built from
//! Stripe's documented object shapes and signed exactly as Stripe signs them.

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

/// Moves app time past every retry and runs the Stripe events job once.
async fn next_round(app: &TestApp) {
    app.clock.advance(Duration::from_secs(13 * 3600));
    openpartner::stripe::events::process_due(&app.state)
        .await
        .unwrap();
}

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
    for _ in 1..openpartner::stripe::events::WAIT_ATTEMPTS {
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

async fn disputes_hold_release_and_reverse(b: Backend) {
    let (app, _sim) = spawn_with_stripe(b, &[]).await;
    let (pid, link) = partner(&app, "dispute@example.com", "cmp_default").await;
    let c = sold(&app, &link, "d1", 10_000).await;
    let e = send(
        &app,
        "evt_d1",
        "charge.dispute.created",
        dispute("dp_1", "in_d1", "needs_response"),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let v = commission(&app, &c).await;
    assert_eq!(v["status"], "on_hold");
    let held = app.admin_get("/commissions?status=on_hold").await;
    assert_eq!(
        held.assert_status(200)["commissions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Not approvable, not payable, in no balance.
    app.admin_post(&format!("/commissions/{c}/approve"), json!({"force": true}))
        .await
        .assert_error(409, "invalid_transition");
    let run = app
        .admin_post("/payouts/run", json!({"dryRun": true}))
        .await;
    assert_eq!(run.assert_status(200)["payouts"], json!([]));
    let bal = app.admin_get(&format!("/partners/{pid}/balance")).await;
    assert_eq!(bal.assert_status(200)["balances"][0]["accrued"], "0.00");
    // Won: back to what it was.
    let e = send(
        &app,
        "evt_d1w",
        "charge.dispute.closed",
        dispute("dp_1", "in_d1", "won"),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    assert_eq!(commission(&app, &c).await["status"], "accrued");
    // Another, lost: reversed.
    let c2 = sold(&app, &link, "d2", 10_000).await;
    app.admin_post(
        &format!("/commissions/{c2}/approve"),
        json!({"force": true}),
    )
    .await
    .assert_status(200);
    send(
        &app,
        "evt_d2",
        "charge.dispute.created",
        dispute("dp_2", "in_d2", "needs_response"),
    )
    .await;
    assert_eq!(commission(&app, &c2).await["status"], "on_hold");
    let e = send(
        &app,
        "evt_d2l",
        "charge.dispute.closed",
        dispute("dp_2", "in_d2", "lost"),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let v = commission(&app, &c2).await;
    assert_eq!(
        (v["status"].as_str(), v["reversedAmount"].as_str()),
        (Some("reversed"), Some("10.00"))
    );
    // Disputed after payout: nothing to hold; lost, it is clawed back.
    let c3 = sold(&app, &link, "d3", 20_000).await; // 20.00
    app.admin_post(
        &format!("/commissions/{c3}/approve"),
        json!({"force": true}),
    )
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
    let e = send(
        &app,
        "evt_d3",
        "charge.dispute.created",
        dispute("dp_3", "in_d3", "needs_response"),
    )
    .await;
    assert_eq!(outcome(&e), ("ignored", "ignored"));
    assert_eq!(commission(&app, &c3).await["status"], "paid");
    send(
        &app,
        "evt_d3l",
        "charge.dispute.closed",
        dispute("dp_3", "in_d3", "lost"),
    )
    .await;
    assert_eq!(commission(&app, &c3).await["status"], "reversed");
    let bal = app.admin_get(&format!("/partners/{pid}/balance")).await;
    assert_eq!(bal.assert_status(200)["balances"][0]["clawback"], "20.00");
    // Redelivered: 200, nothing changes.
    post(
        &app,
        "evt_d2l",
        "charge.dispute.closed",
        dispute("dp_2", "in_d2", "won"),
    )
    .await;
    assert_eq!(commission(&app, &c2).await["status"], "reversed");
    // Out of order: the closure (won) arrives before the opening. No hold is left behind.
    let c4 = sold(&app, &link, "d4", 10_000).await;
    let e = send(
        &app,
        "evt_d4w",
        "charge.dispute.closed",
        dispute("dp_4", "in_d4", "won"),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "duplicate"));
    let e = send(
        &app,
        "evt_d4",
        "charge.dispute.created",
        dispute("dp_4", "in_d4", "needs_response"),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "duplicate"));
    assert_eq!(commission(&app, &c4).await["status"], "accrued");
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
    events_of_the_other_mode_are_ignored,
    an_invoice_paid_before_the_click_earns_nothing,
    concurrent_refunds_reverse_once,
    invoices_priced_first_then_subsequent_once_per_pair,
    checkout_attribution_in_jpy_and_kwd,
    refunds_full_partial_and_after_payout,
    a_refund_before_its_invoice_waits,
    disputes_hold_release_and_reverse,
);
