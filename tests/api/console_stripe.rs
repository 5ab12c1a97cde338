//! The console's Stripe page in headless Chromium: the webhook URL to paste into Stripe's
//! dashboard, the received events with their outcomes, the status filter, and retrying a dead
//! event. Screenshots land in `target/screenshots/`.

use std::time::Duration;

use openpartner::stripe::signature::sign;
use serde_json::{Value, json};

use crate::both_backends;
use crate::console::open_signed_in;
use crate::helpers::{Backend, STRIPE_WEBHOOK_SECRET, TestApp, answer, spawn_with_stripe};

async fn deliver(app: &TestApp, id: &str, event_type: &str, object: Value) {
    let body = json!({"id": id, "object": "event", "api_version": "2024-06-20",
        "created": chrono::Utc::now().timestamp(), "data": {"object": object},
        "livemode": false, "type": event_type})
    .to_string();
    let t = app.state.clock.now().millis() / 1000;
    let res = app
        .client
        .post(app.url("/webhooks/stripe"))
        .header("content-type", "application/json")
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

async fn admin_reads_stripe_events_and_retries_a_dead_one(b: Backend) {
    let (app, _sim) = spawn_with_stripe(b, &[]).await;
    // One the app cannot read (dead after its tries), one without attribution, one ignored.
    deliver(&app, "evt_console_bad", "account.updated",
        json!({"id": "acct_x", "object": "account", "details_submitted": true, "payouts_enabled": "yes"})).await;
    app.stripe_event_when("evt_console_bad", |e| e["attempts"] == 1)
        .await;
    for _ in 0..openpartner::domain::backoff::SCHEDULE_SECS.len() {
        app.clock.advance(Duration::from_secs(13 * 3600));
        openpartner::service::stripe_events::process_due(&app.state)
            .await
            .unwrap();
    }
    app.stripe_event_when("evt_console_bad", |e| e["status"] == "dead")
        .await;
    deliver(
        &app,
        "evt_console_inv",
        "invoice.paid",
        json!({"id": "in_console", "object": "invoice", "amount_paid": 1000, "currency": "usd",
            "customer": "cus_unknown", "status": "paid"}),
    )
    .await;
    app.stripe_event_when("evt_console_inv", |e| e["status"] == "ignored")
        .await;
    deliver(
        &app,
        "evt_console_bal",
        "balance.available",
        json!({"object": "balance"}),
    )
    .await;

    let browser = open_signed_in(b, &app, "stripe", "/admin/stripe").await;
    browser
        .text_until("#stripe-webhook-url", "the webhook URL", |t| {
            t == "http://localhost:8080/webhooks/stripe"
        })
        .await;
    browser
        .text_until("#stripe-events-body", "the events and outcomes", |t| {
            t.contains("evt_console_bad")
                && t.contains("dead")
                && t.contains("no attribution")
                && t.contains("balance.available")
                && t.contains("payouts_enabled")
        })
        .await;
    browser.shot("stripe-events").await;

    // The filter shows the dead one alone; its retry queues it again and attempts it now.
    let filter = browser.visible("#stripe-filter").await;
    filter.select_by_value("dead").await.unwrap();
    browser
        .text_until("#stripe-events-body", "only the dead event", |t| {
            t.contains("evt_console_bad") && !t.contains("evt_console_inv")
        })
        .await;
    browser
        .click("#stripe-events-body tr[data-id='evt_console_bad'] button[data-action='retry']")
        .await;
    browser
        .text_until("#stripe-status", "the retry said", |t| {
            t.starts_with("Retrying evt_console_bad")
        })
        .await;
    let e = app
        .stripe_event_when("evt_console_bad", |e| e["attempts"] == 1)
        .await;
    assert_eq!(e["status"], "pending");
    filter.select_by_value("").await.unwrap();
    browser
        .text_until("#stripe-events-body", "the event pending again", |t| {
            t.contains("pending")
        })
        .await;
    browser.shot("stripe-retried").await;
    browser.close().await;
}

both_backends!(admin_reads_stripe_events_and_retries_a_dead_one);
