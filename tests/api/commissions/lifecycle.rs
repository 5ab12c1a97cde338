use super::*;

async fn events_are_idempotent_under_concurrent_duplicates(b: Backend) {
    let app = spawn_app(b).await;
    let (_, link) = partner_with_link(&app, "dup@example.com", "cmp_default", None).await;
    let click = app.click(&link).await;
    let body = json!({"externalEventId": "order-77", "type": "sale", "value": 50, "currency": "USD", "clickId": click});
    let answers: Vec<(u16, Value)> = app
        .concurrently(12, Method::POST, "/events", Some(&app.admin_key), |_| {
            Some(body.clone())
        })
        .await
        .into_iter()
        .map(|a| (a.status.as_u16(), a.body))
        .collect();
    assert_eq!(
        answers.iter().filter(|(s, _)| *s == 201).count(),
        1,
        "{:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    assert!(answers.iter().all(|(s, _)| *s == 201 || *s == 200));
    let first = &answers[0].1;
    assert!(
        answers.iter().all(|(_, body)| body == first),
        "every answer is the original result"
    );
    let list = app.admin_get("/commissions").await;
    assert_eq!(
        list.body["commissions"].as_array().unwrap().len(),
        1,
        "one commission"
    );
    assert_eq!(list.body["commissions"][0]["amount"], "5.00");
}

async fn commission_state_machine(b: Backend) {
    let app = spawn_app(b).await;
    let (_, link) = partner_with_link(&app, "sm@example.com", "cmp_default", None).await;
    let mut ids = Vec::new();
    for n in 0..3 {
        let c = app.click(&link).await;
        ids.push(
            app.sale(&format!("sm{n}"), "10.00", &c).await.body["commission"]["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    let app_ref = &app;
    let go = |id: &str, action: &str| {
        let path = format!("/commissions/{id}/{action}");
        async move { app_ref.admin_post(&path, json!({})).await }
    };
    go(&ids[0], "pay")
        .await
        .assert_error(409, "invalid_transition");
    assert_eq!(
        go(&ids[0], "approve").await.assert_status(200)["status"],
        "approved"
    );
    go(&ids[0], "approve")
        .await
        .assert_error(409, "invalid_transition");
    assert_eq!(
        go(&ids[0], "pay").await.assert_status(200)["status"],
        "paid"
    );
    // Reversing a paid commission is allowed: it becomes a clawback (payouts).
    assert_eq!(
        go(&ids[0], "reverse").await.assert_status(200)["status"],
        "reversed"
    );
    go(&ids[0], "reverse")
        .await
        .assert_error(409, "invalid_transition");
    assert_eq!(
        go(&ids[1], "reverse").await.assert_status(200)["status"],
        "reversed"
    );
    go(&ids[1], "approve")
        .await
        .assert_error(409, "invalid_transition");
    go("nope", "approve").await.assert_error(404, "not_found");
    let reader = app.scoped_key(&["commissions:read"]).await;
    app.post(
        &format!("/commissions/{}/approve", ids[2]),
        &reader,
        json!({}),
    )
    .await
    .assert_error(403, "forbidden");
    let a = app.get("/commissions?status=accrued", &reader).await;
    let rows = a.assert_status(200)["commissions"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rows.len(), 1);
    for f in [
        "id",
        "partnerId",
        "programId",
        "eventId",
        "amount",
        "currency",
        "status",
        "accruedAt",
        "matureAt",
    ] {
        assert!(rows[0].get(f).is_some(), "{f}");
    }
    app.get("/commissions?status=lost", &reader)
        .await
        .assert_error(400, "invalid_query");
    // Pages of one.
    let first = app.get("/commissions?limit=1", &reader).await;
    let cursor = first.body["nextCursor"].as_str().unwrap().to_string();
    let second = app
        .get(&format!("/commissions?limit=1&cursor={cursor}"), &reader)
        .await;
    assert_ne!(
        first.body["commissions"][0]["id"],
        second.body["commissions"][0]["id"]
    );
    app.get("/commissions?cursor=bogus", &reader)
        .await
        .assert_error(400, "invalid_cursor");
}

async fn dashboard_matches_a_hand_computed_scenario(b: Backend) {
    let app = spawn_app(b).await;
    let prog = app
        .create_program(
            "https://shop.example.com",
            json!({"type": "percent", "value": 10}),
        )
        .await;
    app.call(
        Method::PATCH,
        &format!("/programs/{prog}"),
        Some(&app.admin_key),
        Some(json!({"holdbackDays": 30})),
    )
    .await;
    let (pid, link) = partner_with_link(&app, "dash@example.com", &prog, None).await;
    let (_, other) = partner_with_link(&app, "noise@example.com", &prog, None).await;
    // Before `since`: one click, one sale of 100.00.
    let old = app.click(&link).await;
    app.sale("d-old", "100.00", &old).await.assert_status(201);
    app.clock.advance(Duration::from_secs(3600));
    let since = openpartner::clock::Clock::now(&*app.clock).to_rfc3339();
    // After: 5 clicks, sales of 49.99 + 20.01 + 30.00 (one reversed, one approved), noise elsewhere.
    let mut clicks = Vec::new();
    for _ in 0..5 {
        clicks.push(app.click(&link).await);
    }
    app.click(&other).await;
    let c1 = app.sale("d1", "49.99", &clicks[0]).await.body["commission"].clone();
    let c2 = app.sale("d2", "20.01", &clicks[1]).await.body["commission"].clone();
    let c3 = app.sale("d3", "30.00", &clicks[2]).await.body["commission"].clone();
    assert_eq!(c1["amount"], "5.00"); // 4.999 → 5.00
    assert_eq!(c2["amount"], "2.00"); // 2.001 → 2.00
    assert_eq!(c3["amount"], "3.00");
    let accrued =
        openpartner::domain::time::Timestamp::parse_rfc3339(c1["accruedAt"].as_str().unwrap())
            .unwrap();
    assert_eq!(
        c1["matureAt"],
        accrued.plus_days(30).to_rfc3339(),
        "holdbackDays sets matureAt"
    );
    // Within the 30-day holdback: approving needs force.
    app.admin_post(
        &format!("/commissions/{}/approve", c2["id"].as_str().unwrap()),
        json!({"force": true}),
    )
    .await
    .assert_status(200);
    app.admin_post(
        &format!("/commissions/{}/reverse", c3["id"].as_str().unwrap()),
        json!({}),
    )
    .await
    .assert_status(200);

    let a = app
        .admin_get(&format!(
            "/partners/{pid}/dashboard?since={}",
            since.replace('+', "%2B")
        ))
        .await;
    let d = a.assert_status(200);
    assert_eq!(d["partnerId"], pid.as_str());
    assert_eq!(d["clicks"], 5);
    assert_eq!(d["attributedEvents"], 3);
    // Figures are JSON numbers (the Network adds them up).
    assert_eq!(d["attributedRevenue"], json!(100));
    assert_eq!(
        d["commissionByStatus"],
        json!({"accrued": 5, "approved": 2, "paid": 0, "reversed": 3})
    );
    assert_eq!(d["links"][0]["clicks"], 5);
    // The default window is the last 30 days: everything here.
    let a = app.admin_get(&format!("/partners/{pid}/dashboard")).await;
    assert_eq!(a.body["clicks"], 6);
    assert_eq!(a.body["attributedRevenue"], json!(200));
    assert_eq!(a.body["commissionByStatus"]["accrued"], json!(15));
    // The partner sees its own dashboard, not another's; bad `since` is a 400.
    let key = app
        .admin_post(&format!("/partners/{pid}/api-keys"), json!({}))
        .await
        .body["plaintext"]
        .as_str()
        .unwrap()
        .to_string();
    app.get(&format!("/partners/{pid}/dashboard"), &key)
        .await
        .assert_status(200);
    app.get(&format!("/partners/{pid}/commissions"), &key)
        .await
        .assert_status(200);
    app.get("/commissions", &key)
        .await
        .assert_error(403, "forbidden");
    app.admin_get(&format!("/partners/{pid}/dashboard?since=last-week"))
        .await
        .assert_error(400, "invalid_query");
}

both_backends!(
    events_are_idempotent_under_concurrent_duplicates,
    commission_state_machine,
    dashboard_matches_a_hand_computed_scenario,
);
