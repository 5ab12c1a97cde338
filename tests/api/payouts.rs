//! Payouts: auto-approval after the holdback, runs grouped per partner and currency with
//! minimums and skip reasons, concurrent runs that never pay twice, the manual rail (CSV,
//! mark paid, cancel), clawbacks netted, balances, and the Network's metering report.

use std::collections::HashSet;
use std::time::Duration;

use openpartner::network_sim::Fault;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with, spawn_with_network};

/// A partner with a link on `program`; returns (partner id, link key).
pub(crate) async fn partner(
    app: &TestApp,
    email: &str,
    program: &str,
    body: Value,
) -> (String, String) {
    let mut b =
        json!({"email": email, "name": email, "sendInvite": false, "programIds": [program]});
    if let (Some(b), Some(extra)) = (b.as_object_mut(), body.as_object()) {
        b.extend(extra.clone());
    }
    let id = app.admin_post("/partners", b).await.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let key = format!("p-{}", &id[id.len() - 8..]).to_lowercase();
    app.create_link(&id, &key, program).await;
    (id, key)
}

/// A sale through the partner's link in `currency`; returns the commission id.
pub(crate) async fn sale(
    app: &TestApp,
    link: &str,
    ext: &str,
    value: &str,
    currency: &str,
) -> String {
    let click = app.click(link).await;
    let a = app
        .admin_post(
            "/events",
            json!({"externalEventId": ext, "value": value, "currency": currency, "clickId": click}),
        )
        .await;
    a.assert_status(201)["commission"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub(crate) async fn approved(
    app: &TestApp,
    link: &str,
    ext: &str,
    value: &str,
    currency: &str,
) -> String {
    let id = sale(app, link, ext, value, currency).await;
    app.admin_post(&format!("/commissions/{id}/approve"), json!({}))
        .await
        .assert_status(200);
    id
}

async fn run(app: &TestApp, body: Value) -> crate::helpers::Answer {
    app.admin_post("/payouts/run", body).await
}

async fn auto_approve_waits_for_maturity(b: Backend) {
    let app = spawn_app(b).await;
    for (id, auto) in [("cmp_default", true)] {
        app.call(
            Method::PATCH,
            &format!("/programs/{id}"),
            Some(&app.admin_key),
            Some(json!({"holdbackDays": 14, "autoApprove": auto})),
        )
        .await
        .assert_status(200);
    }
    let manual = app
        .admin_post(
            "/programs",
            json!({"name": "Manual", "destinationUrl": "https://m.example.com",
                   "commission": {"type": "percent", "value": 10}, "autoApprove": false}),
        )
        .await;
    let manual = manual.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        app.admin_get("/programs/cmp_default").await.body["autoApprove"],
        true
    );
    let (_, auto_link) = partner(&app, "a@example.com", "cmp_default", json!({})).await;
    let (_, manual_link) = partner(&app, "m@example.com", &manual, json!({})).await;
    let held = sale(&app, &auto_link, "s1", "100.00", "USD").await;
    let other = sale(&app, &manual_link, "s2", "100.00", "USD").await;
    let status = |id: String| {
        let app = &app;
        async move {
            app.admin_get("/commissions?limit=500").await.body["commissions"]
                .as_array()
                .unwrap()
                .iter()
                .find(|c| c["id"] == id.as_str())
                .unwrap()["status"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    // Before matureAt nothing is approved.
    openpartner::service::payout_jobs::auto_approve(&app.state)
        .await
        .unwrap();
    assert_eq!(status(held.clone()).await, "accrued");
    app.clock.advance(Duration::from_secs(14 * 86_400));
    let n = openpartner::service::payout_jobs::auto_approve(&app.state)
        .await
        .unwrap();
    assert_eq!(
        n, 1,
        "only the matured commission of the auto-approve program"
    );
    assert_eq!(status(held).await, "approved");
    assert_eq!(status(other).await, "accrued");
}

/// The production tick (the test default fires on 1 January only, so it names no next run).
pub(crate) const DAILY_TICK: (&str, &str) = ("OPENPARTNER_PAYOUT_SCHEDULE_CRON", "0 0 9 * * *");

async fn runs_group_and_skip_with_reasons(b: Backend) {
    let app = spawn_app_with(b, &[DAILY_TICK]).await;
    app.call(
        Method::PUT,
        "/config/payouts",
        Some(&app.admin_key),
        Some(json!({"schedule": "weekly", "minimumAmounts": {"USD": "10.00", "EUR": 5}})),
    )
    .await
    .assert_status(200);
    let s = app.admin_get("/config/payouts").await;
    assert_eq!(
        s.assert_status(200)["minimumAmounts"],
        json!({"EUR": "5.00", "USD": "10.00"})
    );
    assert_eq!(s.body["schedule"], "weekly");
    assert!(s.body["nextRunAt"].is_string());
    app.call(
        Method::PUT,
        "/config/payouts",
        Some(&app.admin_key),
        Some(json!({"minimumAmounts": {"usd": "1.001"}})),
    )
    .await
    .assert_error(400, "invalid_body");
    let (a, la) = partner(&app, "a@example.com", "cmp_default", json!({})).await;
    let (low, ll) = partner(&app, "low@example.com", "cmp_default", json!({})).await;
    let (gone, lg) = partner(&app, "gone@example.com", "cmp_default", json!({})).await;
    approved(&app, &la, "a1", "300.00", "USD").await; // 30.00
    approved(&app, &la, "a2", "200.00", "USD").await; // 20.00
    approved(&app, &la, "a3", "100.00", "EUR").await; // 10.00 EUR
    approved(&app, &ll, "l1", "50.00", "USD").await; // 5.00 < 10.00
    approved(&app, &lg, "g1", "500.00", "USD").await;
    app.admin_post(
        &format!("/partners/{gone}/revoke"),
        json!({"reason": "fraud"}),
    )
    .await
    .assert_status(200);
    // A dry run previews and writes nothing.
    let preview = run(&app, json!({"dryRun": true})).await;
    assert_eq!(
        preview.assert_status(200)["payouts"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(app.admin_get("/payouts").await.body["payouts"], json!([]));
    let r = run(&app, json!({})).await;
    let body = r.assert_status(201).clone();
    let payouts = body["payouts"].as_array().unwrap();
    assert_eq!(payouts.len(), 2);
    let usd = payouts.iter().find(|p| p["currency"] == "USD").unwrap();
    assert_eq!(usd["partnerId"], a.as_str());
    assert_eq!(usd["amount"], "50.00");
    assert_eq!(usd["method"], "manual");
    assert_eq!(usd["status"], "pending");
    assert_eq!(usd["commissionIds"].as_array().unwrap().len(), 2);
    let eur = payouts.iter().find(|p| p["currency"] == "EUR").unwrap();
    assert_eq!(eur["amount"], "10.00");
    let skipped = body["skipped"].as_array().unwrap();
    let reason = |p: &str| {
        skipped
            .iter()
            .find(|s| s["partnerId"] == p)
            .map(|s| s["reason"].as_str().unwrap().to_string())
    };
    assert_eq!(reason(&low).as_deref(), Some("below_minimum"));
    assert_eq!(reason(&gone).as_deref(), Some("partner_revoked"));
    // Nothing is paid twice: a second run finds nothing; a partner with nothing is said so.
    let again = run(&app, json!({"partnerIds": [a, "01NOBODY"]})).await;
    let again = again.assert_status(201).clone();
    assert_eq!(again["payouts"], json!([]));
    assert!(
        again["skipped"]
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s["reason"] == "no_commissions")
    );
    // includeRevoked pays the revoked partner; currency narrows the run.
    let r = run(
        &app,
        json!({"includeRevoked": true, "currency": "USD", "partnerIds": [gone]}),
    )
    .await;
    assert_eq!(r.assert_status(201)["payouts"][0]["amount"], "50.00");
    // Reads.
    let list = app
        .admin_get(&format!("/payouts?partnerId={a}&status=pending"))
        .await;
    assert_eq!(
        list.assert_status(200)["payouts"].as_array().unwrap().len(),
        2
    );
    let id = usd["id"].as_str().unwrap();
    let one = app.admin_get(&format!("/payouts/{id}")).await;
    assert_eq!(
        one.assert_status(200)["commissionIds"],
        usd["commissionIds"]
    );
    app.admin_get("/payouts?status=bogus")
        .await
        .assert_error(400, "invalid_query");
}

async fn concurrent_runs_never_pay_twice(b: Backend) {
    let app = spawn_app(b).await;
    let mut commissions = HashSet::new();
    for i in 0..6 {
        let (_, link) = partner(&app, &format!("c{i}@example.com"), "cmp_default", json!({})).await;
        for j in 0..3 {
            commissions.insert(approved(&app, &link, &format!("c{i}-{j}"), "10.00", "USD").await);
        }
    }
    let answers = app
        .concurrently(
            5,
            Method::POST,
            "/payouts/run",
            Some(&app.admin_key),
            |_| Some(json!({})),
        )
        .await;
    let mut held: Vec<String> = Vec::new();
    let mut count = 0;
    for a in &answers {
        for p in a.assert_status(201)["payouts"].as_array().unwrap() {
            count += 1;
            for c in p["commissionIds"].as_array().unwrap() {
                held.push(c.as_str().unwrap().to_string());
            }
        }
    }
    assert_eq!(count, 6, "one payout per partner across all runs");
    let unique: HashSet<String> = held.iter().cloned().collect();
    assert_eq!(held.len(), unique.len(), "a commission in two payouts");
    assert_eq!(unique, commissions);
    let all = app.admin_get("/payouts?limit=200").await;
    assert_eq!(all.body["payouts"].as_array().unwrap().len(), 6);
}

async fn the_manual_rail(b: Backend) {
    let app = spawn_app_with(b, &[("OPENPARTNER_WEBHOOKS_ALLOW_PRIVATE", "true")]).await;
    // A webhook endpoint for the payout events (deliveries are recorded with each change).
    let hook = app
        .admin_post(
            "/webhooks",
            json!({"url": "http://127.0.0.1:9/hook",
                   "events": ["payout.created", "payout.paid", "commission.paid"]}),
        )
        .await;
    let hook = hook.assert_status(201)["id"].as_str().unwrap().to_string();
    let (pid, link) = partner(
        &app,
        "manual@example.com",
        "cmp_default",
        json!({"name": "=HYPERLINK(\"x\")"}),
    )
    .await;
    let c1 = approved(&app, &link, "m1", "123.40", "USD").await;
    let r = run(&app, json!({})).await;
    let p = r.assert_status(201)["payouts"][0].clone();
    let id = p["id"].as_str().unwrap().to_string();
    // The CSV for a mass-pay batch: header, one row, formula defused.
    let csv = app
        .client
        .get(app.url("/payouts/export.csv?status=pending"))
        .bearer_auth(&app.admin_key)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let text = csv.text().await.unwrap();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines[0],
        "payout_id,partner_id,email,name,amount,currency,method"
    );
    assert_eq!(lines.len(), 2);
    assert_eq!(
        lines[1],
        format!("{id},{pid},manual@example.com,\"'=HYPERLINK(\"\"x\"\")\",12.34,USD,manual")
    );
    // Cancel frees the commission; the next run takes it again.
    app.admin_post(&format!("/payouts/{id}/cancel"), json!({}))
        .await
        .assert_status(200);
    app.admin_post(&format!("/payouts/{id}/mark-paid"), json!({}))
        .await
        .assert_error(409, "invalid_transition");
    let r = run(&app, json!({})).await;
    let id2 = r.assert_status(201)["payouts"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(id, id2);
    // Reversing a commission in an unpaid payout is refused.
    app.admin_post(&format!("/commissions/{c1}/reverse"), json!({}))
        .await
        .assert_error(409, "in_payout");
    let a = app
        .admin_post(
            &format!("/payouts/{id2}/mark-paid"),
            json!({"reference": "PAYPAL-42"}),
        )
        .await;
    let paid = a.assert_status(200);
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["reference"], "PAYPAL-42");
    assert!(paid["paidAt"].is_string());
    let c = app.admin_get(&format!("/partners/{pid}/commissions")).await;
    assert_eq!(c.body["commissions"][0]["status"], "paid");
    assert!(c.body["commissions"][0]["paidAt"].is_string());
    app.admin_post(&format!("/payouts/{id2}/cancel"), json!({}))
        .await
        .assert_error(409, "invalid_transition");
    app.admin_post(&format!("/payouts/{id2}/retry"), json!({}))
        .await
        .assert_error(409, "invalid_transition");
    let deliveries = app.admin_get(&format!("/webhooks/{hook}/deliveries")).await;
    let types: Vec<String> = deliveries.assert_status(200)["deliveries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["type"].as_str().unwrap().to_string())
        .collect();
    for t in ["payout.created", "payout.paid", "commission.paid"] {
        assert!(types.iter().any(|x| x == t), "{t} not recorded: {types:?}");
    }
    // "You've been paid", with the amount and reference.
    let mails = app.wait_for_mails("manual@example.com", 1).await;
    let mail = mails.last().unwrap();
    assert!(
        mail.raw.contains("12.34") && mail.raw.contains("PAYPAL-42"),
        "{}",
        mail.raw
    );
    // The partner sees its own payouts.
    let key = app
        .admin_post(&format!("/partners/{pid}/api-keys"), json!({}))
        .await
        .body["plaintext"]
        .as_str()
        .unwrap()
        .to_string();
    let mine = app.get(&format!("/partners/{pid}/payouts"), &key).await;
    assert_eq!(
        mine.assert_status(200)["payouts"].as_array().unwrap().len(),
        2
    );
}

async fn clawbacks_are_netted(b: Backend) {
    let app = spawn_app(b).await;
    let (pid, link) = partner(&app, "claw@example.com", "cmp_default", json!({})).await;
    let c1 = approved(&app, &link, "k1", "300.00", "USD").await; // 30.00
    let id = run(&app, json!({})).await.body["payouts"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.admin_post(&format!("/payouts/{id}/mark-paid"), json!({}))
        .await
        .assert_status(200);
    // Refunded after payment: a clawback.
    let a = app
        .admin_post(
            &format!("/commissions/{c1}/reverse"),
            json!({"reason": "refunded"}),
        )
        .await;
    assert_eq!(a.assert_status(200)["status"], "reversed");
    let bal = app.admin_get(&format!("/partners/{pid}/balance")).await;
    assert_eq!(
        bal.assert_status(200)["balances"],
        json!([{"currency": "USD", "accrued": "0.00", "approved": "0.00", "inPayout": "0.00", "clawback": "30.00"}])
    );
    // 20.00 earned since: less than the clawback, so nothing is paid and nothing goes negative.
    approved(&app, &link, "k2", "200.00", "USD").await;
    let r = run(&app, json!({})).await;
    let body = r.assert_status(201).clone();
    assert_eq!(body["payouts"], json!([]));
    assert_eq!(body["skipped"][0]["reason"], "negative_balance");
    assert_eq!(body["skipped"][0]["balance"], "-10.00");
    // 25.00 more: 45.00 - 30.00 = 15.00.
    approved(&app, &link, "k3", "250.00", "USD").await;
    let r = run(&app, json!({})).await;
    let p = r.assert_status(201)["payouts"][0].clone();
    assert_eq!(p["amount"], "15.00");
    assert_eq!(p["gross"], "45.00");
    assert_eq!(p["clawback"], "30.00");
    let bal = app.admin_get(&format!("/partners/{pid}/balance")).await;
    assert_eq!(bal.body["balances"][0]["clawback"], "0.00");
    assert_eq!(bal.body["balances"][0]["inPayout"], "45.00");
}

async fn the_network_metering_report(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    let vendor = app.connect_hosted().await;
    let (_, link) = partner(
        &app,
        "net@example.com",
        "cmp_default",
        json!({"metadata": {"source": "openpartner_network"}}),
    )
    .await;
    let (_, own) = partner(&app, "own@example.com", "cmp_default", json!({})).await;
    approved(&app, &link, "n1", "123.40", "USD").await;
    approved(&app, &own, "o1", "500.00", "USD").await;
    approved(&app, &link, "n2", "100.00", "EUR").await;
    let r = run(&app, json!({})).await;
    for p in r.assert_status(201)["payouts"].as_array().unwrap() {
        let id = p["id"].as_str().unwrap();
        app.admin_post(&format!("/payouts/{id}/mark-paid"), json!({}))
            .await
            .assert_status(200);
    }
    // A failed report does not advance the mark.
    app.clock.advance(Duration::from_secs(120));
    sim.inject(Fault {
        count: 1,
        path: Some("/vendors/me/report-payouts".into()),
        status: Some(500),
        ..Default::default()
    });
    assert!(
        openpartner::service::payout_jobs::report_to_network(&app.state)
            .await
            .is_err()
    );
    assert_eq!(sim.payout_reports(&vendor).len(), 0);
    let sent = openpartner::service::payout_jobs::report_to_network(&app.state)
        .await
        .unwrap();
    assert_eq!(
        sent,
        Some(1234),
        "only USD paid to Network-sourced partners"
    );
    let reports = sim.payout_reports(&vendor);
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0]["amountUsd"], json!(12.34));
    assert!(reports[0]["sinceIso"].is_string() && reports[0]["untilIso"].is_string());
    // Nothing new: the mark advances, nothing is sent.
    app.clock.advance(Duration::from_secs(60));
    let sent = openpartner::service::payout_jobs::report_to_network(&app.state)
        .await
        .unwrap();
    assert_eq!(sent, Some(0));
    assert_eq!(sim.payout_reports(&vendor).len(), 1);
}

both_backends!(
    auto_approve_waits_for_maturity,
    runs_group_and_skip_with_reasons,
    concurrent_runs_never_pay_twice,
    the_manual_rail,
    clawbacks_are_netted,
    the_network_metering_report,
);
