use super::*;

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

both_backends!(
    runs_group_and_skip_with_reasons,
    concurrent_runs_never_pay_twice,
    clawbacks_are_netted,
);
