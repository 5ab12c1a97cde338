use super::*;

async fn snapshot_terms_survive_a_program_change(b: Backend) {
    let app = spawn_app(b).await;
    let prog = app
        .create_program(
            "https://shop.example.com",
            json!({"type": "percent", "value": 10}),
        )
        .await;
    // Approved under 10 %: the Network grandfathers the terms with a snapshot.
    let (old, old_link) = partner_with_link(
        &app,
        "old@example.com",
        &prog,
        Some(json!({"commissionType": "percent", "commissionValue": "10"})),
    )
    .await;
    // A partner without a snapshot follows the live rule.
    let (live, live_link) = partner_with_link(&app, "live@example.com", &prog, None).await;
    app.call(
        Method::PATCH,
        &format!("/programs/{prog}"),
        Some(&app.admin_key),
        Some(json!({"commission": {"type": "percent", "value": "20"}})),
    )
    .await
    .assert_status(200);
    // Approved after the change: snapshotted at the new 20 %.
    let (new, new_link) = partner_with_link(
        &app,
        "new@example.com",
        &prog,
        Some(json!({"commissionType": "percent", "commissionValue": "20"})),
    )
    .await;

    let c = app.click(&old_link).await;
    let a = app.sale("o-old", "100.00", &c).await;
    let body = a.assert_status(201);
    assert_eq!(body["partnerId"], old.as_str());
    assert_eq!(body["commission"]["amount"], "10.00");
    assert_eq!(body["commission"]["ruleSource"], "snapshot");
    let c = app.click(&live_link).await;
    let a = app.sale("o-live", "100.00", &c).await;
    assert_eq!(a.assert_status(201)["commission"]["amount"], "20.00");
    assert_eq!(a.body["partnerId"], live.as_str());
    assert_eq!(a.body["commission"]["ruleSource"], "program");
    let c = app.click(&new_link).await;
    let a = app.sale("o-new", "100.00", &c).await;
    assert_eq!(a.assert_status(201)["commission"]["amount"], "20.00");
    assert_eq!(a.body["partnerId"], new.as_str());

    // Fixed terms, exact rounding of odd percentages.
    let fixed = app
        .create_program(
            "https://shop.example.com",
            json!({"type": "fixed", "value": "4.99"}),
        )
        .await;
    let (_, flink) = partner_with_link(&app, "fixed@example.com", &fixed, None).await;
    let c = app.click(&flink).await;
    assert_eq!(
        app.sale("o-fixed", "1000.00", &c).await.body["commission"]["amount"],
        "4.99"
    );
    let odd = app
        .create_program(
            "https://shop.example.com",
            json!({"type": "percent", "value": "12.5"}),
        )
        .await;
    let (_, olink) = partner_with_link(&app, "odd@example.com", &odd, None).await;
    let c = app.click(&olink).await;
    // 12.5 % of 0.04 = 0.005 → half up to 0.01; of 19.99 = 2.49875 → 2.50.
    assert_eq!(
        app.sale("o-odd1", "0.04", &c).await.body["commission"]["amount"],
        "0.01"
    );
    assert_eq!(
        app.sale("o-odd2", 19.99.to_string().as_str(), &c)
            .await
            .body["commission"]["amount"],
        "2.50"
    );
}

async fn attribution_window_edge(b: Backend) {
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
        Some(json!({"attributionWindowDays": 7})),
    )
    .await;
    let (_, link) = partner_with_link(&app, "win@example.com", &prog, None).await;
    let inside = app.click(&link).await;
    let outside = app.click(&link).await;
    app.clock.advance(Duration::from_secs(7 * 86_400));
    // Exactly at the window's end: still attributed.
    let a = app.sale("edge-in", "10.00", &inside).await;
    assert_eq!(a.assert_status(201)["attributed"], true);
    app.clock.advance(Duration::from_millis(1));
    let a = app.sale("edge-out", "10.00", &outside).await;
    let body = a.assert_status(201);
    assert_eq!(body["attributed"], false);
    assert_eq!(body["reason"], "outside_attribution_window");
    assert_eq!(body["commission"], Value::Null);
    // An event without a known click is recorded, unattributed.
    let a = app
        .admin_post(
            "/events",
            json!({"externalEventId": "orphan", "value": "1.00", "clickId": "nope"}),
        )
        .await;
    assert_eq!(a.assert_status(201)["attributed"], false);
}

async fn revoked_partner_earns_nothing_but_keeps_history(b: Backend) {
    let app = spawn_app(b).await;
    let (pid, link) = partner_with_link(&app, "rev@example.com", "cmp_default", None).await;
    let before = app.click(&link).await;
    app.sale("before", "100.00", &before)
        .await
        .assert_status(201);
    app.admin_post(&format!("/partners/{pid}/revoke"), json!({"notify": false}))
        .await
        .assert_status(200);
    // Both an old click and a new click fail to earn now.
    let after = app.click(&link).await;
    for (ext, click) in [("after-old", &before), ("after-new", &after)] {
        let a = app.sale(ext, "100.00", click).await;
        let body = a.assert_status(201);
        assert_eq!(body["attributed"], false, "{ext}");
        assert_eq!(body["reason"], "partner_revoked");
    }
    let list = app.admin_get(&format!("/partners/{pid}/commissions")).await;
    let rows = list.assert_status(200)["commissions"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rows.len(), 1, "historical commission kept, nothing new");
    assert_eq!(rows[0]["amount"], "10.00");
}

async fn recurring_revenue_through_identify(b: Backend) {
    let app = spawn_app(b).await;
    let (_, link) = partner_with_link(
        &app,
        "rec@example.com",
        "cmp_default",
        Some(json!({"commissionType": "percent", "commissionValue": 10, "recurring": false})),
    )
    .await;
    let (_, link2) = partner_with_link(&app, "rec2@example.com", "cmp_default", None).await;
    let c = app.click(&link).await;
    let c2 = app.click(&link2).await;
    app.admin_post("/identify", json!({"clickId": c, "userId": "cust-1"}))
        .await
        .assert_status(200);
    app.admin_post("/identify", json!({"clickId": c2, "userId": "cust-2"}))
        .await
        .assert_status(200);
    app.admin_post("/identify", json!({"clickId": "nope", "userId": "cust-1"}))
        .await
        .assert_error(404, "click_not_found");
    let month = |n: &str, user: &str| {
        app.admin_post(
            "/events",
            json!({"externalEventId": n, "value": "30.00", "userId": user}),
        )
    };
    assert_eq!(
        month("m1", "cust-1").await.body["commission"]["amount"],
        "3.00"
    );
    // Non-recurring terms: the second payment of the same customer earns nothing.
    let a = month("m2", "cust-1").await;
    assert_eq!(a.body["attributed"], true);
    assert_eq!(a.body["reason"], "not_recurring");
    assert_eq!(a.body["commission"], Value::Null);
    // The live rule is recurring.
    assert_eq!(
        month("n1", "cust-2").await.body["commission"]["amount"],
        "3.00"
    );
    assert_eq!(
        month("n2", "cust-2").await.body["commission"]["amount"],
        "3.00"
    );
    let key = app.scoped_key(&["events:write"]).await;
    app.post(
        "/events",
        &key,
        json!({"externalEventId": "s1", "value": 1}),
    )
    .await
    .assert_status(201);
    let other = app.scoped_key(&["partners:write"]).await;
    let a = app
        .post(
            "/events",
            &other,
            json!({"externalEventId": "s2", "value": 1}),
        )
        .await;
    assert_eq!(
        a.assert_error(403, "forbidden_scope")["required"],
        "events:write"
    );
    for bad in [
        json!({"value": 1}),
        json!({"externalEventId": "v", "value": "-1"}),
        json!({"externalEventId": "v", "value": "1.001"}),
        json!({"externalEventId": "v", "value": 1, "currency": "usdollar"}),
        json!({"externalEventId": "v", "ts": "now"}),
    ] {
        app.admin_post("/events", bad)
            .await
            .assert_error(400, "invalid_body");
    }
}

both_backends!(
    snapshot_terms_survive_a_program_change,
    attribution_window_edge,
    revoked_partner_earns_nothing_but_keeps_history,
    recurring_revenue_through_identify,
);
