use super::*;

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
    the_manual_rail,
    the_network_metering_report,
);
