use super::*;

async fn admin_bodies_stay_strict(b: Backend) {
    let app = spawn_app(b).await;
    let (partner, _) = federate(
        &app,
        &app.admin_key,
        "s@example.com",
        "cmp_default",
        json!({}),
    )
    .await;
    let path = format!("/partners/{partner}/commission-snapshot");
    let put = |body: Value| app.call(Method::PUT, &path, Some(&app.admin_key), Some(body));
    put(json!({"commissionRules": [{"trigger": "every", "type": "percent", "value": 10, "typo": 1}]}))
        .await
        .assert_error(400, "invalid_body");
    put(json!({"commissionType": "percent", "commissionValue": 10, "holdbakDays": 3}))
        .await
        .assert_error(400, "invalid_body");
    put(json!({"holdbackDays": 3}))
        .await
        .assert_error(400, "invalid_body");
    put(json!({"commissionRules": []}))
        .await
        .assert_error(400, "invalid_body");
    let eleven: Vec<Value> = (0..11)
        .map(|_| json!({"trigger": "every", "type": "percent", "value": 1}))
        .collect();
    put(json!({"commissionRules": eleven}))
        .await
        .assert_error(400, "invalid_body");
    for bad in [
        json!({"trigger": "sometimes", "type": "percent", "value": 1}),
        json!({"trigger": "every", "type": "percent", "value": -1}),
        json!({"trigger": "every", "type": "percent", "value": 101}),
        json!({"trigger": "every", "type": "percent", "value": 1, "recurringMonths": 0}),
        json!({"trigger": "every", "type": "percent", "value": 1, "recurringMonths": 601}),
        json!({"trigger": "every", "type": "percent", "value": 1, "eventType": ""}),
        json!({"trigger": "every", "type": "percent", "value": 1, "eventType": "x".repeat(81)}),
        json!({"trigger": "every", "type": "fixed", "value": 1, "currency": "dollars"}),
        json!({"type": "percent", "value": 1}),
    ] {
        put(json!({"commissionRules": [bad.clone()]}))
            .await
            .assert_error(400, "invalid_body");
    }
    // Legacy-only, recurring false: one `first` rule; the view mirrors it.
    let a = put(json!({"commissionType": "percent", "commissionValue": "20", "recurring": false}))
        .await;
    let s = &a.assert_status(200)["snapshot"];
    assert_eq!(
        s["commissionRules"],
        json!([{"trigger": "first", "type": "percent", "value": 20}])
    );
    assert_eq!(s["recurring"], false);
    // Programs: unknown keys in a rule are refused; the legacy `commission` is one `every` rule.
    app.admin_post(
        "/programs",
        json!({"name": "P", "destinationUrl": "https://x.example.com",
               "commissionRules": [{"trigger": "every", "type": "percent", "value": 1, "x": 1}]}),
    )
    .await
    .assert_error(400, "invalid_body");
    let a = app
        .admin_post(
            "/programs",
            json!({"name": "P", "destinationUrl": "https://x.example.com",
                   "commission": {"type": "fixed", "value": "5.00", "currency": "EUR"}}),
        )
        .await;
    let p = a.assert_status(201);
    assert_eq!(
        p["commissionRules"],
        json!([{"trigger": "every", "type": "fixed", "value": 5}])
    );
    assert_eq!(p["currency"], "EUR");
    assert_eq!(p["commission"]["value"], "5.00");
    let id = p["id"].as_str().unwrap().to_string();
    let a = app
        .call(
            Method::PATCH,
            &format!("/programs/{id}"),
            Some(&app.admin_key),
            Some(json!({"commissionRules": [
                {"trigger": "first", "type": "percent", "value": 30},
                {"trigger": "every", "type": "percent", "value": 12.5, "recurringMonths": 12}]})),
        )
        .await;
    let p = a.assert_status(200);
    assert_eq!(p["commissionRules"][1]["value"], json!(12.5));
    // The mirror is the first `every` rule.
    assert_eq!(p["commission"]["type"], "percent");
    assert_eq!(p["commission"]["value"], "12.5");
    assert!(a.text.contains(r#""value":12.5"#), "{}", a.text);
}

async fn commissions_read_as_the_network_reads_them(b: Backend) {
    let app = spawn_app(b).await;
    let key = app.scoped_key(FEDERATION).await;
    let (partner, link) = federate(&app, &key, "many@example.com", "cmp_default", json!({})).await;
    let click = app.click(&link).await;
    for i in 0..105 {
        app.sale(&format!("bulk-{i}"), "1.00", &click)
            .await
            .assert_status(201);
    }
    let path = format!("/partners/{partner}/commissions");
    let a = app.get(&format!("{path}?limit=500"), &key).await;
    let rows = a.assert_status(200)["commissions"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rows.len(), 105);
    assert_eq!(a.body["nextCursor"], Value::Null);
    let c = &rows[0];
    for field in [
        "id",
        "partnerId",
        "programId",
        "amount",
        "currency",
        "status",
        "accruedAt",
        "matureAt",
        "paidAt",
    ] {
        assert!(c.get(field).is_some(), "{field} missing: {c}");
    }
    assert_eq!(c["amount"], "0.10");
    assert_eq!(c["paidAt"], Value::Null);
    // Default 100; at most 500.
    let a = app.get(&path, &key).await;
    assert_eq!(
        a.assert_status(200)["commissions"]
            .as_array()
            .unwrap()
            .len(),
        100
    );
    app.get(&format!("{path}?limit=501"), &key)
        .await
        .assert_error(400, "invalid_query");
    app.get("/commissions?limit=500&someNewParam=1", &key)
        .await
        .assert_status(200);
    // Paying stamps paidAt.
    let id = c["id"].as_str().unwrap();
    app.admin_post(&format!("/commissions/{id}/approve"), json!({}))
        .await
        .assert_status(200);
    let paid = app
        .admin_post(&format!("/commissions/{id}/pay"), json!({}))
        .await;
    assert!(paid.assert_status(200)["paidAt"].is_string());
}

async fn dashboard_numbers_and_by_currency(b: Backend) {
    let app = spawn_app(b).await;
    let key = app.scoped_key(FEDERATION).await;
    let prog = program(
        &app,
        json!([{"trigger": "every", "type": "percent", "value": 10}]),
    )
    .await;
    let (partner, link) = federate(&app, &key, "dash@example.com", &prog, json!({})).await;
    let c1 = app.click(&link).await;
    let c2 = app.click(&link).await;
    let c3 = app.click(&link).await;
    for (id, value, currency, click) in [
        ("d1", "10.20", "USD", &c1),
        ("d2", "2.30", "USD", &c2),
        ("d3", "7.000", "KWD", &c3),
    ] {
        app.admin_post(
            "/events",
            json!({"externalEventId": id, "value": value, "currency": currency, "clickId": click}),
        )
        .await
        .assert_status(201);
    }
    let a = app
        .get(&format!("/partners/{partner}/dashboard"), &key)
        .await;
    let d = a.assert_status(200);
    assert_eq!(d["clicks"], json!(3));
    assert_eq!(d["attributedEvents"], json!(3));
    assert_eq!(d["currency"], "USD");
    // Numbers, with their exact decimal digits.
    assert!(a.text.contains(r#""attributedRevenue":12.5"#), "{}", a.text);
    assert!(a.text.contains(r#""accrued":1.25"#), "{}", a.text);
    assert_eq!(d["commissionByStatus"]["approved"], json!(0));
    let kwd = &d["byCurrency"]["KWD"];
    assert_eq!(kwd["attributedRevenue"], json!(7));
    assert_eq!(kwd["commissionByStatus"]["accrued"], json!(0.7));
    assert_eq!(d["byCurrency"]["USD"]["attributedEvents"], json!(2));
    // `since` defaults to 30 days ago and is an ISO timestamp.
    let since = chrono::DateTime::parse_from_rfc3339(d["since"].as_str().unwrap()).unwrap();
    let days = (chrono::Utc::now() - since.with_timezone(&chrono::Utc)).num_days();
    assert!((29..=30).contains(&days), "since is {days} days ago");
    // An explicit `since` after the sales excludes them.
    let later = (chrono::Utc::now() + chrono::Duration::hours(1)).to_rfc3339();
    let a = app
        .get(
            &format!(
                "/partners/{partner}/dashboard?since={}",
                later.replace('+', "%2B")
            ),
            &key,
        )
        .await;
    assert_eq!(a.assert_status(200)["attributedEvents"], json!(0));
    assert_eq!(a.body["attributedRevenue"], json!(0));
}

both_backends!(
    admin_bodies_stay_strict,
    commissions_read_as_the_network_reads_them,
    dashboard_numbers_and_by_currency,
);
