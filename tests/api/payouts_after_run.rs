//! Payouts, gaps left by payouts.rs and payouts_stripe.rs (part 2, after the run): who may read
//! a partner's payouts, cancelling a failed Stripe payout, the "You've been paid" mail, and the
//! Network metering report's high-water mark. Helpers are payouts_more.rs's.

use std::time::Duration;

use openpartner::clock::Clock;
use openpartner::service::payout_jobs;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, spawn_app, spawn_with_network, spawn_with_stripe};
use crate::payouts_more::{approved, commission, partner, run};
use crate::payouts_stripe::{payable, settle};

async fn a_partner_reads_only_its_own_payouts(b: Backend) {
    let app = spawn_app(b).await;
    let (a, la) = partner(&app, "own@example.com", "cmp_default", json!({})).await;
    let (other, lo) = partner(&app, "other@example.com", "cmp_default", json!({})).await;
    approved(&app, &la, "o1", "100.00", "USD").await;
    approved(&app, &lo, "o2", "200.00", "USD").await;
    let made = run(&app, json!({})).await;
    let own = made
        .iter()
        .find(|p| p["partnerId"] == a.as_str())
        .unwrap()
        .clone();
    let key = app.partner_key(&a).await;
    let mine = app.get(&format!("/partners/{a}/payouts"), &key).await;
    let mine = mine.assert_status(200).clone();
    assert_eq!(mine["payouts"], json!([own]));
    assert!(mine["nextCursor"].is_null());
    let paid = app
        .get(&format!("/partners/{a}/payouts?status=paid"), &key)
        .await;
    assert_eq!(paid.assert_status(200)["payouts"], json!([]));
    // Another partner's payouts are "no such partner", like one that does not exist.
    app.get(&format!("/partners/{other}/payouts"), &key)
        .await
        .assert_error(404, "not_found");
    app.get("/partners/01NOSUCHPARTNER/payouts", &key)
        .await
        .assert_error(404, "not_found");
    // The admin lists (the list endpoints are admin-only) and so does no scoped key.
    let theirs = app.admin_get(&format!("/partners/{other}/payouts")).await;
    assert_eq!(
        theirs.assert_status(200)["payouts"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.get("/payouts", &key)
        .await
        .assert_error(403, "forbidden");
    let own_id = own["id"].as_str().unwrap();
    app.get(&format!("/payouts/{own_id}"), &key)
        .await
        .assert_error(403, "forbidden");
    let scoped = app.scoped_key(&["commissions:read", "partners:read"]).await;
    app.get(&format!("/partners/{a}/payouts"), &scoped)
        .await
        .assert_error(403, "forbidden");
    app.admin_get("/partners/01NOSUCHPARTNER/payouts")
        .await
        .assert_error(404, "not_found");
}

async fn a_failed_stripe_payout_can_be_canceled(b: Backend) {
    let (app, sim) = spawn_with_stripe(b, &[]).await;
    sim.set_balance("usd", 0);
    let (pid, _) = payable(&app, "cancel@example.com", "100.00").await;
    let first = run(&app, json!({})).await;
    let id = first[0]["id"].as_str().unwrap().to_string();
    let held = first[0]["commissionIds"].clone();
    assert_eq!(settle(&app, &id).await["status"], "failed");
    let a = app
        .admin_post(&format!("/payouts/{id}/cancel"), json!({}))
        .await;
    let canceled = a.assert_status(200).clone();
    assert_eq!(canceled["status"], "canceled");
    assert_eq!(
        canceled["commissionIds"], held,
        "a canceled payout still lists what it held"
    );
    assert_eq!(
        app.admin_get(&format!("/payouts/{id}")).await.body["status"],
        "canceled"
    );
    app.admin_post(&format!("/payouts/{id}/retry"), json!({}))
        .await
        .assert_error(409, "invalid_transition");
    app.admin_post(&format!("/payouts/{id}/cancel"), json!({}))
        .await
        .assert_error(409, "invalid_transition");
    let bal = app.admin_get(&format!("/partners/{pid}/balance")).await;
    let bal = &bal.assert_status(200)["balances"][0];
    assert_eq!(
        (bal["approved"].as_str(), bal["inPayout"].as_str()),
        (Some("10.00"), Some("0.00"))
    );
    // Its commission is free: a new run pays it once there is money.
    sim.set_balance("usd", 1_000_000);
    let again = run(&app, json!({})).await;
    assert_eq!(again.len(), 1);
    let new_id = again[0]["id"].as_str().unwrap().to_string();
    assert_ne!(new_id, id);
    assert_eq!(again[0]["commissionIds"], held);
    assert_eq!(again[0]["method"], "stripe");
    assert_eq!(settle(&app, &new_id).await["status"], "paid");
    assert_eq!(sim.balance("usd"), 1_000_000 - 1000);
    let transfers: Vec<_> = sim
        .transfers()
        .into_iter()
        .filter_map(|t| t.transfer_group)
        .collect();
    assert_eq!(
        transfers,
        vec![new_id.clone()],
        "no transfer for the canceled payout"
    );
    assert_eq!(
        app.admin_get(&format!("/payouts/{id}")).await.body["status"],
        "canceled"
    );
    let cid = held[0].as_str().unwrap();
    assert_eq!(commission(&app, &pid, cid).await["status"], "paid");
}

async fn the_paid_mail_names_amount_method_and_reference(b: Backend) {
    let app = spawn_app(b).await;
    let (_, lu) = partner(&app, "usd@example.com", "cmp_default", json!({})).await;
    let (_, le) = partner(&app, "eur@example.com", "cmp_default", json!({})).await;
    approved(&app, &lu, "u1", "123.40", "USD").await;
    approved(&app, &le, "e1", "75.00", "EUR").await;
    // Mail is queued in the change's transaction: the outbox shows at once what was queued.
    let queued = || async {
        let (pending, sent, dead) = openpartner::db::mail::counts(app.state.db.pool())
            .await
            .unwrap();
        pending + sent + dead
    };
    let before = queued().await;
    let made = run(&app, json!({})).await;
    assert_eq!(queued().await, before, "no mail before it is paid");
    let of = |currency: &str| {
        made.iter().find(|p| p["currency"] == currency).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let a = app
        .admin_post(
            &format!("/payouts/{}/mark-paid", of("USD")),
            json!({"reference": "REF-123"}),
        )
        .await;
    assert_eq!(a.assert_status(200)["reference"], "REF-123");
    let mails = app.wait_for_mails("usd@example.com", 1).await;
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.subject(), "You've been paid by OpenPartner");
    assert!(
        mail.raw
            .contains("OpenPartner paid you 12.34 USD (manual)."),
        "{}",
        mail.raw
    );
    assert!(mail.raw.contains("Reference: REF-123"), "{}", mail.raw);
    // Without a reference the mail has no reference line.
    app.admin_post(&format!("/payouts/{}/mark-paid", of("EUR")), json!({}))
        .await
        .assert_status(200);
    let mails = app.wait_for_mails("eur@example.com", 1).await;
    let mail = &mails[0];
    assert_eq!(mail.subject(), "You've been paid by OpenPartner");
    assert!(
        mail.raw.contains("OpenPartner paid you 7.50 EUR (manual)."),
        "{}",
        mail.raw
    );
    assert!(!mail.raw.contains("Reference:"), "{}", mail.raw);
    assert_eq!(queued().await, before + 2, "one mail per payout");
}

/// Extends payouts.rs's the_network_metering_report: the mark after a report, a payout paid
/// inside the 60 s margin, and a later report of the new amount only.
async fn the_metering_report_moves_its_mark(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    let vendor = app.connect_hosted().await;
    let reports = || sim.calls_to("/vendors/me/report-payouts");
    let (_, link) = partner(
        &app,
        "mark@example.com",
        "cmp_default",
        json!({"metadata": {"source": "openpartner_network"}}),
    )
    .await;
    let pay = |ext: &'static str, value: &'static str| {
        let (app, link) = (&app, &link);
        async move {
            approved(app, link, ext, value, "USD").await;
            let made = run(app, json!({})).await;
            let id = made[0]["id"].as_str().unwrap().to_string();
            app.admin_post(&format!("/payouts/{id}/mark-paid"), json!({}))
                .await
                .assert_status(200);
        }
    };
    pay("r1", "123.40").await; // 12.34
    app.clock.advance(Duration::from_secs(120));
    let first_until = app.clock.now().plus_millis(-60_000).to_rfc3339();
    assert_eq!(
        payout_jobs::report_to_network(&app.state).await.unwrap(),
        Some(1234)
    );
    assert_eq!(reports(), 1);
    // Nothing paid since: nothing sent, however often the job runs.
    for _ in 0..2 {
        app.clock.advance(Duration::from_secs(3_600));
        assert_eq!(
            payout_jobs::report_to_network(&app.state).await.unwrap(),
            Some(0)
        );
    }
    assert_eq!(reports(), 1);
    // Paid 30 s before the job: inside the margin, so left for the next report.
    pay("r2", "50.00").await; // 5.00
    app.clock.advance(Duration::from_secs(30));
    let second_since = app.clock.now().plus_millis(-60_000).to_rfc3339();
    assert_eq!(
        payout_jobs::report_to_network(&app.state).await.unwrap(),
        Some(0)
    );
    assert_eq!(reports(), 1);
    app.clock.advance(Duration::from_secs(120));
    let second_until = app.clock.now().plus_millis(-60_000).to_rfc3339();
    assert_eq!(
        payout_jobs::report_to_network(&app.state).await.unwrap(),
        Some(500),
        "only the new payout"
    );
    assert_eq!(reports(), 2);
    let sent = sim.payout_reports(&vendor);
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[0]["amountUsd"], json!(12.34));
    assert_eq!(sent[0]["untilIso"], first_until.as_str());
    assert_eq!(sent[1]["amountUsd"], json!(5.0));
    assert_eq!(sent[1]["sinceIso"], second_since.as_str());
    assert_eq!(sent[1]["untilIso"], second_until.as_str());
}

both_backends!(
    a_partner_reads_only_its_own_payouts,
    a_failed_stripe_payout_can_be_canceled,
    the_paid_mail_names_amount_method_and_reference,
    the_metering_report_moves_its_mark,
);
