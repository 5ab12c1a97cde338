//! `POST /webhooks/stripe`: signatures (good, bad, expired, rotated), storage before the answer
//! and replay idempotency, unknown types ignored, processing from storage with waits, retries,
//! dead events and the admin's retry.

use std::time::Duration;

use openpartner::stripe::signature::sign;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{
    Answer, Backend, STRIPE_WEBHOOK_SECRET, TestApp, answer, spawn_app, spawn_with_stripe,
};

fn event(id: &str, event_type: &str, object: Value) -> String {
    json!({"id": id, "object": "event", "api_version": "2024-06-20", "created": chrono::Utc::now().timestamp(),
        "data": {"object": object}, "livemode": false, "pending_webhooks": 1, "type": event_type})
    .to_string()
}

fn account(id: &str, payouts: Value) -> Value {
    json!({"id": id, "object": "account", "details_submitted": true, "payouts_enabled": payouts})
}

/// Posts `body` with this `Stripe-Signature` header (none when `None`).
async fn deliver(app: &TestApp, body: &str, signature: Option<String>) -> Answer {
    let mut req = app
        .client
        .post(app.url("/webhooks/stripe"))
        .header("content-type", "application/json; charset=utf-8")
        .body(body.to_string());
    if let Some(s) = signature {
        req = req.header("stripe-signature", s);
    }
    answer(req.send().await.unwrap()).await
}

/// Signed now (app time) with `secret`.
async fn signed(app: &TestApp, body: &str, secret: &str) -> Answer {
    let t = app.state.clock.now().millis() / 1000;
    deliver(app, body, Some(sign(secret, t, body.as_bytes()))).await
}

async fn list(app: &TestApp, query: &str) -> Vec<Value> {
    let a = app.admin_get(&format!("/admin/stripe/events{query}")).await;
    a.assert_status(200)["events"].as_array().unwrap().clone()
}

async fn signatures_good_bad_expired_and_rotated(b: Backend) {
    let (app, sim) =
        spawn_with_stripe(b, &[("STRIPE_WEBHOOK_SECRET", "whsec_old, whsec_new")]).await;
    sim.set_webhook(&app.url("/webhooks/stripe"), "whsec_new");
    let now = app.state.clock.now().millis() / 1000;
    let body = event(
        "evt_sig_1",
        "balance.available",
        json!({"object": "balance"}),
    );
    // Bad, missing, malformed, tampered, expired or from the future: 400, nothing stored.
    let bad = [
        Some(sign("whsec_unknown", now, body.as_bytes())),
        None,
        Some("t=abc,v1=00".into()),
        Some(sign("whsec_new", now, b"{\"id\":\"evt_other\"}")),
        Some(sign("whsec_new", now - 301, body.as_bytes())),
        Some(sign("whsec_new", now + 301, body.as_bytes())),
    ];
    for signature in bad {
        deliver(&app, &body, signature)
            .await
            .assert_error(400, "invalid_signature");
    }
    assert!(list(&app, "").await.is_empty());
    // Within the tolerance under either secret of a rotation: accepted.
    let ok = deliver(
        &app,
        &body,
        Some(sign("whsec_new", now - 299, body.as_bytes())),
    )
    .await;
    assert_eq!(
        ok.assert_status(200),
        &json!({"received": true, "duplicate": false})
    );
    let body2 = event(
        "evt_sig_2",
        "balance.available",
        json!({"object": "balance"}),
    );
    signed(&app, &body2, "whsec_old").await.assert_status(200);
    // Several v1 entries: one matching is enough.
    let body3 = event("evt_sig_3", "balance.available", json!({}));
    let two = format!(
        "{},v1={}",
        sign("whsec_old", now, body3.as_bytes()),
        "ab".repeat(32)
    );
    deliver(&app, &body3, Some(two)).await.assert_status(200);
    // The simulator signs exactly as Stripe does.
    let d = sim
        .send_event("payout.paid", json!({"id": "po_1", "object": "payout"}))
        .await;
    assert_eq!(d.status, Some(200), "{d:?}");
    assert!(d.signature.unwrap().starts_with("t="));
    assert_eq!(list(&app, "").await.len(), 4);
    // Signed but not an event; larger than 1 MiB.
    signed(&app, "[1,2]", "whsec_new")
        .await
        .assert_error(400, "invalid_event");
    let huge = format!(
        "{{\"id\":\"evt_big\",\"type\":\"x\",\"pad\":\"{}\"}}",
        "a".repeat(1024 * 1024)
    );
    signed(&app, &huge, "whsec_new")
        .await
        .assert_error(413, "payload_too_large");
    assert_eq!(list(&app, "").await.len(), 4);

    // No secret configured: 503, so Stripe keeps retrying until one is.
    let bare = spawn_app(b).await;
    signed(&bare, &body, STRIPE_WEBHOOK_SECRET)
        .await
        .assert_error(503, "stripe_webhook_not_configured");
}

async fn redelivery_changes_nothing_and_unknown_types_are_ignored(b: Backend) {
    let (app, _sim) = spawn_with_stripe(b, &[]).await;
    let body = event(
        "evt_twice",
        "customer.tax_id.created",
        json!({"id": "txi_1"}),
    );
    let first = signed(&app, &body, STRIPE_WEBHOOK_SECRET).await;
    assert_eq!(first.assert_status(200)["duplicate"], false);
    // The same id again, even with another body: 200, one row, the first kept.
    let other = event(
        "evt_twice",
        "account.updated",
        account("acct_x", json!(true)),
    );
    let again = signed(&app, &other, STRIPE_WEBHOOK_SECRET).await;
    assert_eq!(
        again.assert_status(200),
        &json!({"received": true, "duplicate": true})
    );
    let events = list(&app, "").await;
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        (
            e["type"].as_str(),
            e["status"].as_str(),
            e["outcome"].as_str()
        ),
        (
            Some("customer.tax_id.created"),
            Some("ignored"),
            Some("ignored")
        )
    );
    assert_eq!(e["objectId"], "txi_1");
    assert!(
        e["processedAt"].is_string() && e["receivedAt"].is_string() && e["created"].is_string(),
        "{e}"
    );
    // Filters and pages.
    for i in 0..3 {
        signed(
            &app,
            &event(&format!("evt_page_{i}"), "balance.available", json!({})),
            STRIPE_WEBHOOK_SECRET,
        )
        .await
        .assert_status(200);
    }
    let page = app.admin_get("/admin/stripe/events?limit=3").await;
    let page = page.assert_status(200).clone();
    assert_eq!(page["events"].as_array().unwrap().len(), 3);
    assert_eq!(page["webhookUrl"], "http://localhost:8080/webhooks/stripe");
    let cursor = page["nextCursor"].as_str().unwrap();
    let rest = app
        .admin_get(&format!("/admin/stripe/events?limit=3&cursor={cursor}"))
        .await;
    assert_eq!(
        rest.assert_status(200)["events"].as_array().unwrap().len(),
        1
    );
    assert_eq!(rest.body["nextCursor"], json!(null));
    assert!(list(&app, "?status=dead").await.is_empty());
    assert_eq!(list(&app, "?status=ignored").await.len(), 4);
    app.admin_get("/admin/stripe/events?status=lost")
        .await
        .assert_error(400, "invalid_query");
    app.admin_get("/admin/stripe/events?sort=asc")
        .await
        .assert_error(400, "invalid_query");
    app.admin_get("/admin/stripe/events?cursor=forged")
        .await
        .assert_error(400, "invalid_cursor");
    let scoped = app.scoped_key(&["partners:read"]).await;
    app.get("/admin/stripe/events", &scoped)
        .await
        .assert_error(403, "forbidden");
}

/// Moves app time past the event's next attempt and runs the job once.
async fn next_round(app: &TestApp) {
    app.clock.advance(Duration::from_secs(13 * 3600));
    openpartner::service::stripe_events::process_due(&app.state)
        .await
        .unwrap();
}

async fn account_updates_wait_for_their_partner_then_give_up(b: Backend) {
    let (app, _sim) = spawn_with_stripe(b, &[]).await;
    let id = app.create_partner("late@example.com", false).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    // No partner holds the account yet: the event waits (pending, retried)...
    signed(
        &app,
        &event(
            "evt_late",
            "account.updated",
            account("acct_late", json!(true)),
        ),
        STRIPE_WEBHOOK_SECRET,
    )
    .await
    .assert_status(200);
    let e = app
        .stripe_event_when("evt_late", |e| e["attempts"] == 1)
        .await;
    assert_eq!(e["status"], "pending");
    assert!(
        e["lastError"].as_str().unwrap().contains("acct_late"),
        "{e}"
    );
    assert!(e["nextAttemptAt"].is_string());
    // ...and is recorded once the account is the partner's.
    app.call(
        Method::PATCH,
        &format!("/partners/{id}"),
        Some(&app.admin_key),
        Some(json!({"stripeConnectAccountId": "acct_late"})),
    )
    .await
    .assert_status(200);
    next_round(&app).await;
    let e = app
        .stripe_event_when("evt_late", |e| e["status"] != "pending")
        .await;
    assert_eq!(
        (
            e["status"].as_str(),
            e["outcome"].as_str(),
            e["attempts"].as_i64()
        ),
        (Some("processed"), Some("recorded"), Some(2))
    );
    let stored = openpartner::db::stripe::connect_status(
        app.state.db.pool(),
        &openpartner::domain::ids::PartnerId::from_string(id),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(stored.payouts_enabled, Some(true));
    // An older event arriving late changes nothing.
    let old = json!({"id": "evt_old", "object": "event", "created": chrono::Utc::now().timestamp() - 3600, "type": "account.updated",
        "data": {"object": account("acct_late", json!(false))}}).to_string();
    signed(&app, &old, STRIPE_WEBHOOK_SECRET)
        .await
        .assert_status(200);
    let e = app
        .stripe_event_when("evt_old", |e| e["status"] != "pending")
        .await;
    assert_eq!(e["outcome"], "duplicate");

    // An account nobody ever holds: ignored after the waiting attempts, not dead.
    signed(
        &app,
        &event(
            "evt_orphan",
            "account.updated",
            account("acct_orphan", json!(true)),
        ),
        STRIPE_WEBHOOK_SECRET,
    )
    .await
    .assert_status(200);
    app.stripe_event_when("evt_orphan", |e| e["attempts"] == 1)
        .await;
    for _ in 1..openpartner::service::stripe_events::WAIT_ATTEMPTS {
        next_round(&app).await;
    }
    let e = app
        .stripe_event_when("evt_orphan", |e| e["status"] != "pending")
        .await;
    assert_eq!(
        (e["status"].as_str(), e["outcome"].as_str()),
        (Some("ignored"), Some("ignored_no_attribution"))
    );
    assert_eq!(
        e["attempts"],
        openpartner::service::stripe_events::WAIT_ATTEMPTS
    );
}

async fn a_dead_event_is_listed_and_retried(b: Backend) {
    let (app, _sim) = spawn_with_stripe(b, &[]).await;
    // A payload this version cannot read fails every attempt on the backoff schedule.
    signed(
        &app,
        &event(
            "evt_bad",
            "account.updated",
            account("acct_bad", json!("yes")),
        ),
        STRIPE_WEBHOOK_SECRET,
    )
    .await
    .assert_status(200);
    app.stripe_event_when("evt_bad", |e| e["attempts"] == 1)
        .await;
    for round in 2..=openpartner::domain::backoff::SCHEDULE_SECS.len() + 1 {
        next_round(&app).await;
        let e = app
            .stripe_event_when("evt_bad", |e| e["attempts"] == round)
            .await;
        let expected = if round > openpartner::domain::backoff::SCHEDULE_SECS.len() {
            "dead"
        } else {
            "pending"
        };
        assert_eq!(e["status"], expected, "{e}");
    }
    let dead = list(&app, "?status=dead").await;
    assert_eq!(dead.len(), 1);
    assert_eq!(
        (dead[0]["id"].as_str(), dead[0]["outcome"].as_str()),
        (Some("evt_bad"), Some("dead"))
    );
    assert!(
        dead[0]["lastError"]
            .as_str()
            .unwrap()
            .contains("payouts_enabled"),
        "{}",
        dead[0]
    );
    // Only an admin revives it; it is attempted again at once, on a fresh schedule.
    let key = app.scoped_key(&["partners:write"]).await;
    app.post("/admin/stripe/events/evt_bad/retry", &key, json!({}))
        .await
        .assert_error(403, "forbidden");
    let revived = app
        .admin_post("/admin/stripe/events/evt_bad/retry", json!({}))
        .await;
    let r = revived.assert_status(200);
    assert_eq!(
        (r["status"].as_str(), r["attempts"].as_i64()),
        (Some("pending"), Some(0))
    );
    let row = app.audited_once("stripe_event.retry", "evt_bad").await;
    assert_eq!(
        row["changes"],
        json!({"status": {"before": "dead", "after": "pending"}})
    );
    let e = app
        .stripe_event_when("evt_bad", |e| e["attempts"] == 1)
        .await;
    assert_eq!(e["status"], "pending");
    app.admin_post("/admin/stripe/events/evt_bad/retry", json!({}))
        .await
        .assert_error(409, "not_dead");
    app.admin_post("/admin/stripe/events/evt_none/retry", json!({}))
        .await
        .assert_error(404, "not_found");
}

both_backends!(
    signatures_good_bad_expired_and_rotated,
    redelivery_changes_nothing_and_unknown_types_are_ignored,
    account_updates_wait_for_their_partner_then_give_up,
    a_dead_event_is_listed_and_retried,
);
