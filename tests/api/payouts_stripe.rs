//! The Stripe rail against the Stripe simulator: the transfer's wire (form fields, lower-case
//! currency, `Idempotency-Key: payout_<id>`), a refusal that frees the commissions and a retry
//! under a new key, and a transfer whose answer is lost (the connection dropped after Stripe
//! made it) paid exactly once.

use std::time::{Duration, Instant};

use openpartner::stripe_sim::{Fault, StripeSim};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_with_stripe};

/// A partner onboarded on Stripe (payouts enabled) with one approved commission of `value`.
pub(crate) async fn payable(app: &TestApp, email: &str, value: &str) -> (String, String) {
    payable_in(app, email, value, "USD").await
}

/// [`payable`] for a sale of `value` in `currency` (the default program pays a percentage).
async fn payable_in(app: &TestApp, email: &str, value: &str, currency: &str) -> (String, String) {
    let p = app.create_partner(email, false).await;
    let id = p["id"].as_str().unwrap().to_string();
    let link = app
        .admin_post(
            &format!("/partners/{id}/connect/start"),
            json!({"returnUrl": app.url("/done"), "refreshUrl": app.url("/again")}),
        )
        .await;
    let url = link.assert_status(200)["url"].as_str().unwrap().to_string();
    let account = link.body["accountId"].as_str().unwrap().to_string();
    // Visiting the link completes onboarding; the signed account.updated reaches us.
    let _ = reqwest::get(&url).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let s = app
            .admin_get(&format!("/partners/{id}/connect/status"))
            .await;
        if s.body["payoutsEnabled"] == true {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "onboarding never completed: {}",
            s.text
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let key = format!("s-{}", &id[id.len() - 8..]).to_lowercase();
    app.create_link(&id, &key, "cmp_default").await;
    let click = app.click(&key).await;
    let c = app
        .admin_post(
            "/events",
            json!({"externalEventId": format!("sale-{email}"), "type": "sale", "value": value,
                   "currency": currency, "clickId": click}),
        )
        .await;
    let cid = c.assert_status(201)["commission"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.admin_post(&format!("/commissions/{cid}/approve"), json!({}))
        .await
        .assert_status(200);
    (id, account)
}

/// Sends due Stripe payouts until `id` leaves `processing` (bounded).
pub(crate) async fn settle(app: &TestApp, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        openpartner::service::payouts::send_due(&app.state)
            .await
            .unwrap();
        let p = app.admin_get(&format!("/payouts/{id}")).await;
        if p.body["status"] != "processing" {
            return p.body;
        }
        assert!(Instant::now() < deadline, "still processing: {}", p.text);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Sends due Stripe payouts until the first transfer call reached Stripe (bounded).
async fn first_attempt(app: &TestApp, sim: &StripeSim) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.requests_to("POST", "/v1/transfers").is_empty() {
        openpartner::service::payouts::send_due(&app.state)
            .await
            .unwrap();
        assert!(Instant::now() < deadline, "no transfer attempted");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn transfers_for(sim: &StripeSim, payout: &str) -> usize {
    sim.transfers()
        .iter()
        .filter(|t| t.transfer_group.as_deref() == Some(payout))
        .count()
}

async fn the_stripe_rail_pays_with_the_right_wire(b: Backend) {
    let (app, sim) = spawn_with_stripe(b, &[]).await;
    sim.set_balance("usd", 1_000_000);
    let (pid, account) = payable(&app, "stripe@example.com", "250.00").await;
    let r = app.admin_post("/payouts/run", json!({})).await;
    let p = r.assert_status(201)["payouts"][0].clone();
    assert_eq!(p["method"], "stripe");
    assert_eq!(p["status"], "processing");
    let id = p["id"].as_str().unwrap().to_string();
    let paid = settle(&app, &id).await;
    assert_eq!(paid["status"], "paid");
    let t = sim
        .transfers()
        .into_iter()
        .find(|t| t.transfer_group.as_deref() == Some(id.as_str()))
        .unwrap();
    assert_eq!(paid["stripeTransferId"], t.id.as_str());
    assert_eq!(t.amount, 2500);
    assert_eq!(t.currency, "usd");
    assert_eq!(t.destination, account);
    assert_eq!(
        t.metadata.get("payout_id").map(String::as_str),
        Some(id.as_str())
    );
    let req = sim.requests_to("POST", "/v1/transfers").pop().unwrap();
    assert_eq!(
        req.idempotency_key.as_deref(),
        Some(format!("payout_{id}").as_str())
    );
    assert_eq!(req.field("amount"), Some("2500"));
    assert_eq!(req.field("currency"), Some("usd"));
    assert_eq!(req.field("transfer_group"), Some(id.as_str()));
    assert_eq!(req.field("metadata[payout_id]"), Some(id.as_str()));
    // Its commission is paid.
    let c = app.admin_get(&format!("/partners/{pid}/commissions")).await;
    assert_eq!(c.body["commissions"][0]["status"], "paid");
    assert_eq!(sim.balance("usd"), 1_000_000 - 2500);
    // "You've been paid", with the transfer as its reference.
    let mails = app.wait_for_mails("stripe@example.com", 1).await;
    let mail = mails.last().unwrap();
    assert!(
        mail.raw.contains("25.00") && mail.raw.contains(t.id.as_str()),
        "{}",
        mail.raw
    );
    // Only a manual payout is marked paid by hand.
    app.admin_post(&format!("/payouts/{id}/mark-paid"), json!({}))
        .await
        .assert_error(409, "not_manual");
}

async fn a_refusal_frees_the_commissions(b: Backend) {
    let (app, sim) = spawn_with_stripe(b, &[]).await;
    sim.set_balance("usd", 0);
    payable(&app, "broke@example.com", "100.00").await;
    let r = app.admin_post("/payouts/run", json!({})).await;
    let id = r.assert_status(201)["payouts"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let failed = settle(&app, &id).await;
    assert_eq!(failed["status"], "failed");
    assert!(
        failed["failureReason"]
            .as_str()
            .unwrap()
            .contains("balance_insufficient"),
        "{failed}"
    );
    // Free for the next run...
    let preview = app
        .admin_post("/payouts/run", json!({"dryRun": true}))
        .await;
    assert_eq!(
        preview.assert_status(200)["payouts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // ...or the failed payout is retried, under a new key (Stripe keeps a refusal under its key).
    sim.set_balance("usd", 1_000_000);
    let a = app
        .admin_post(&format!("/payouts/{id}/retry"), json!({}))
        .await;
    assert_eq!(a.assert_status(200)["status"], "processing");
    let paid = settle(&app, &id).await;
    assert_eq!(paid["status"], "paid");
    let keys: Vec<String> = sim
        .requests_to("POST", "/v1/transfers")
        .into_iter()
        .filter_map(|r| r.idempotency_key)
        .collect();
    assert_eq!(keys[0], format!("payout_{id}"));
    assert!(
        keys.last()
            .unwrap()
            .starts_with(&format!("payout_{id}_retry_")),
        "{keys:?}"
    );
    assert_eq!(transfers_for(&sim, &id), 1);
}

async fn a_retried_payout_still_nets_its_clawbacks(b: Backend) {
    let (app, sim) = spawn_with_stripe(b, &[]).await;
    sim.set_balance("usd", 1_000_000);
    let (pid, _) = payable(&app, "claw@example.com", "300.00").await; // 30.00
    let r = app.admin_post("/payouts/run", json!({})).await;
    let first = r.assert_status(201)["payouts"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(settle(&app, &first).await["status"], "paid");
    // Refunded after payment: a clawback of 30.00.
    let c = app.admin_get(&format!("/partners/{pid}/commissions")).await;
    let paid = c.body["commissions"][0]["id"].as_str().unwrap().to_string();
    app.admin_post(
        &format!("/commissions/{paid}/reverse"),
        json!({"reason": "refund"}),
    )
    .await
    .assert_status(200);
    // 50.00 more, netted: 20.00 — refused first (no balance), then retried.
    let link = format!("s-{}", &pid[pid.len() - 8..]).to_lowercase();
    let click = app.click(&link).await;
    let sale = app.sale("claw-2", "500.00", &click).await;
    let cid = sale.assert_status(201)["commission"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.admin_post(&format!("/commissions/{cid}/approve"), json!({}))
        .await
        .assert_status(200);
    sim.set_balance("usd", 0);
    let r = app.admin_post("/payouts/run", json!({})).await;
    let p = r.assert_status(201)["payouts"][0].clone();
    assert_eq!(p["amount"], "20.00");
    let id = p["id"].as_str().unwrap().to_string();
    assert_eq!(settle(&app, &id).await["status"], "failed");
    sim.set_balance("usd", 1_000_000);
    app.admin_post(&format!("/payouts/{id}/retry"), json!({}))
        .await
        .assert_status(200);
    assert_eq!(settle(&app, &id).await["status"], "paid");
    // The clawback was netted by the retried payout: nothing of it is outstanding.
    let bal = app.admin_get(&format!("/partners/{pid}/balance")).await;
    assert_eq!(bal.assert_status(200)["balances"][0]["clawback"], "0.00");
    let again = app.admin_post("/payouts/run", json!({})).await;
    assert_eq!(again.assert_status(201)["payouts"], json!([]));
}

async fn a_lost_answer_pays_once(b: Backend) {
    let (app, sim) = spawn_with_stripe(b, &[]).await;
    sim.set_balance("usd", 1_000_000);
    payable(&app, "lost@example.com", "80.00").await;
    // Stripe makes the transfer, then the connection drops before we hear of it.
    sim.inject(Fault {
        count: 1,
        path: Some("/v1/transfers".into()),
        drop_after_processing: true,
        ..Default::default()
    });
    let r = app.admin_post("/payouts/run", json!({})).await;
    let id = r.assert_status(201)["payouts"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    first_attempt(&app, &sim).await;
    let p = app.admin_get(&format!("/payouts/{id}")).await;
    assert_eq!(
        p.body["status"], "processing",
        "an unknown outcome stays processing"
    );
    assert_eq!(transfers_for(&sim, &id), 1, "Stripe did make it");
    // The retry first asks Stripe for the payout's transfer group, finds the transfer and
    // pays once, without sending it again (an idempotency key alone expires after 24 hours).
    app.clock.advance(Duration::from_secs(120));
    let paid = settle(&app, &id).await;
    assert_eq!(paid["status"], "paid");
    let made = sim.transfers();
    let made = made
        .iter()
        .find(|t| t.transfer_group.as_deref() == Some(id.as_str()))
        .unwrap();
    assert_eq!(paid["stripeTransferId"], made.id.as_str());
    assert_eq!(transfers_for(&sim, &id), 1);
    assert_eq!(sim.balance("usd"), 1_000_000 - 800);
    let lookups = sim.requests_to("GET", "/v1/transfers");
    assert!(
        lookups.iter().any(|r| r
            .query
            .as_deref()
            .is_some_and(|q| q.contains(&format!("transfer_group={id}")))),
        "{lookups:?}"
    );
    let keys: Vec<Option<String>> = sim
        .requests_to("POST", "/v1/transfers")
        .into_iter()
        .map(|r| r.idempotency_key)
        .collect();
    assert_eq!(keys, vec![Some(format!("payout_{id}"))]);
}

/// A 5xx before Stripe made anything: the retry finds no transfer in the payout's group and
/// sends it again under the same key; paid once.
async fn a_failed_call_is_sent_again_with_its_key(b: Backend) {
    let (app, sim) = spawn_with_stripe(b, &[]).await;
    sim.set_balance("usd", 1_000_000);
    payable(&app, "again@example.com", "80.00").await;
    sim.inject(Fault {
        count: 1,
        path: Some("/v1/transfers".into()),
        status: Some(500),
        ..Default::default()
    });
    let r = app.admin_post("/payouts/run", json!({})).await;
    let id = r.assert_status(201)["payouts"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    first_attempt(&app, &sim).await;
    let p = app.admin_get(&format!("/payouts/{id}")).await;
    assert_eq!(p.body["status"], "processing");
    assert_eq!(transfers_for(&sim, &id), 0);
    app.clock.advance(Duration::from_secs(120));
    let paid = settle(&app, &id).await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(transfers_for(&sim, &id), 1);
    let keys: Vec<Option<String>> = sim
        .requests_to("POST", "/v1/transfers")
        .into_iter()
        .map(|r| r.idempotency_key)
        .collect();
    assert_eq!(keys.len(), 2);
    assert!(
        keys.iter()
            .all(|k| k.as_deref() == Some(format!("payout_{id}").as_str()))
    );
}

/// A transfer's amount is in Stripe's units, which differ from ISO 4217's for a few
/// currencies: ISK is two-decimal at Stripe (zero for us), MGA zero-decimal (two for us). An
/// amount Stripe cannot write exactly is paid by hand.
async fn transfers_are_in_stripes_units(b: Backend) {
    let (app, sim) = spawn_with_stripe(b, &[]).await;
    sim.set_balance("isk", 100_000_000);
    sim.set_balance("mga", 100_000_000);
    payable_in(&app, "isk@example.com", "25000", "ISK").await;
    payable_in(&app, "mga@example.com", "1234.50", "MGA").await;
    let r = app.admin_post("/payouts/run", json!({})).await;
    let payouts = r.assert_status(201)["payouts"].as_array().unwrap().clone();
    let isk = payouts.iter().find(|p| p["currency"] == "ISK").unwrap();
    let mga = payouts.iter().find(|p| p["currency"] == "MGA").unwrap();
    assert_eq!(isk["amount"], "2500");
    assert_eq!(isk["method"], "stripe");
    // 123.45 MGA: Stripe writes MGA without decimals.
    assert_eq!(mga["amount"], "123.45");
    assert_eq!(mga["method"], "manual");
    assert_eq!(mga["status"], "pending");
    let id = isk["id"].as_str().unwrap();
    assert_eq!(settle(&app, id).await["status"], "paid");
    let req = sim.requests_to("POST", "/v1/transfers").pop().unwrap();
    assert_eq!(req.field("currency"), Some("isk"));
    assert_eq!(req.field("amount"), Some("250000"));
    assert_eq!(sim.requests_to("POST", "/v1/transfers").len(), 1);
}

both_backends!(
    a_failed_call_is_sent_again_with_its_key,
    transfers_are_in_stripes_units,
    the_stripe_rail_pays_with_the_right_wire,
    a_retried_payout_still_nets_its_clawbacks,
    a_refusal_frees_the_commissions,
    a_lost_answer_pays_once,
);
