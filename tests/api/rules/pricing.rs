use super::*;

async fn event(app: &TestApp, id: &str, value: &str, currency: &str, user: &str) -> Value {
    app.admin_post(
        "/events",
        json!({"externalEventId": id, "type": "sale", "value": value, "currency": currency,
               "userId": user}),
    )
    .await
    .assert_status(201)
    .clone()
}

async fn identified_click(app: &TestApp, link: &str, user: &str) {
    let c = app.click(link).await;
    app.admin_post("/identify", json!({"clickId": c, "userId": user}))
        .await
        .assert_status(200);
}

async fn compound_snapshot_federated_and_priced(b: Backend) {
    let app = spawn_app(b).await;
    let key = app.scoped_key(FEDERATION).await;
    let prog = program(
        &app,
        json!([{"trigger": "every", "type": "percent", "value": 5}]),
    )
    .await;
    let snapshot = json!({
        "commissionRules": [
            {"trigger": "first", "type": "percent", "value": 30, "someFutureKey": "x"},
            {"trigger": "subsequent", "type": "percent", "value": 10, "recurringMonths": 12},
        ],
        // Legacy mirror fields sent beside: the rules win.
        "commissionType": "percent", "commissionValue": 99, "recurring": true,
        "holdbackDays": 14, "tierName": "gold",
    });
    let (partner, link) = federate(&app, &key, "c1@example.com", &prog, snapshot).await;
    let s = app
        .get(&format!("/partners/{partner}/commission-snapshot"), &key)
        .await;
    let s = &s.assert_status(200)["snapshot"];
    assert_eq!(
        s["commissionRules"],
        json!([
            {"trigger": "first", "type": "percent", "value": 30},
            {"trigger": "subsequent", "type": "percent", "value": 10, "recurringMonths": 12},
        ])
    );
    // The legacy mirror of a set with no `every` rule is its first rule: not recurring.
    assert_eq!(s["commissionType"], "percent");
    assert_eq!(s["commissionValue"], "30");
    assert_eq!(s["recurring"], false);
    assert_eq!(s["holdbackDays"], 14);

    identified_click(&app, &link, "cust-a").await;
    let first = event(&app, "s1", "100.00", "USD", "cust-a").await;
    assert_eq!(first["commission"]["amount"], "30.00");
    assert_eq!(first["commission"]["trigger"], "first");
    assert_eq!(first["commission"]["ruleSource"], "snapshot");
    let next = event(&app, "s2", "100.00", "USD", "cust-a").await;
    assert_eq!(next["commission"]["amount"], "10.00");
    assert_eq!(next["commission"]["trigger"], "subsequent");
    // Another customer of the same partner starts again at `first`.
    identified_click(&app, &link, "cust-b").await;
    let other = event(&app, "s3", "50.00", "USD", "cust-b").await;
    assert_eq!(other["commission"]["amount"], "15.00");
    // A partner without a snapshot is priced by the program's live rules.
    let (_, plain) = federate(&app, &key, "c2@example.com", &prog, json!({})).await;
    identified_click(&app, &plain, "cust-c").await;
    let live = event(&app, "s4", "100.00", "USD", "cust-c").await;
    assert_eq!(live["commission"]["amount"], "5.00");
    assert_eq!(live["commission"]["ruleSource"], "program");
}

async fn recurring_months_end_a_rule(b: Backend) {
    let app = spawn_app(b).await;
    let prog = program(
        &app,
        json!([{"trigger": "every", "type": "percent", "value": 10, "recurringMonths": 2}]),
    )
    .await;
    let (_, link) = federate(&app, &app.admin_key, "m@example.com", &prog, json!({})).await;
    identified_click(&app, &link, "cust").await;
    let at = |id: &str, ts: &str| {
        app.admin_post(
            "/events",
            json!({"externalEventId": id, "value": "100.00", "userId": "cust", "ts": ts}),
        )
    };
    let now = chrono::Utc::now();
    let iso = |d: chrono::DateTime<chrono::Utc>| d.to_rfc3339();
    let a = at("r1", &iso(now)).await;
    assert_eq!(a.assert_status(201)["commission"]["amount"], "10.00");
    let a = at("r2", &iso(now + chrono::Months::new(1))).await;
    assert_eq!(a.assert_status(201)["commission"]["amount"], "10.00");
    let last_day = now + chrono::Months::new(2) - chrono::Duration::seconds(1);
    assert_eq!(
        at("r3", &iso(last_day)).await.body["commission"]["amount"],
        "10.00"
    );
    // Two calendar months after the first commission the rule has ended.
    let a = at("r4", &iso(now + chrono::Months::new(2))).await;
    let body = a.assert_status(201);
    assert_eq!(body["attributed"], true);
    assert_eq!(body["commission"], Value::Null);
    assert_eq!(body["reason"], "recurring_period_ended");
}

async fn concurrent_first_events_give_one_first(b: Backend) {
    let app = spawn_app(b).await;
    let prog = program(
        &app,
        json!([{"trigger": "every", "type": "percent", "value": 10}]),
    )
    .await;
    // Legacy non-recurring terms: one `first` rule.
    let (_, once) = federate(
        &app,
        &app.admin_key,
        "once@example.com",
        &prog,
        json!({"commissionType": "percent", "commissionValue": 20, "recurring": false}),
    )
    .await;
    // First and subsequent rules.
    let (_, tiered) = federate(
        &app,
        &app.admin_key,
        "tiered@example.com",
        &prog,
        json!({"commissionRules": [
            {"trigger": "first", "type": "percent", "value": 30},
            {"trigger": "subsequent", "type": "percent", "value": 10}]}),
    )
    .await;
    identified_click(&app, &once, "u-once").await;
    identified_click(&app, &tiered, "u-tiered").await;
    for (user, tag) in [("u-once", "o"), ("u-tiered", "t")] {
        let answers = app
            .concurrently(12, Method::POST, "/events", Some(&app.admin_key), |i| {
                Some(
                    json!({"externalEventId": format!("{tag}-{i}"), "value": "100.00",
                            "userId": user}),
                )
            })
            .await;
        let firsts: Vec<&Value> = answers
            .iter()
            .map(|a| a.assert_status(201))
            .filter(|b| b["commission"]["trigger"] == "first")
            .collect();
        assert_eq!(firsts.len(), 1, "{user}: exactly one first");
        let others: Vec<&Value> = answers
            .iter()
            .map(|a| &a.body)
            .filter(|b| b["commission"]["trigger"] != "first")
            .collect();
        assert_eq!(others.len(), 11);
        if user == "u-once" {
            assert_eq!(firsts[0]["commission"]["amount"], "20.00");
            for o in others {
                assert_eq!(o["commission"], Value::Null);
                assert_eq!(o["reason"], "not_recurring");
            }
        } else {
            assert_eq!(firsts[0]["commission"]["amount"], "30.00");
            for o in others {
                assert_eq!(o["commission"]["amount"], "10.00");
                assert_eq!(o["commission"]["trigger"], "subsequent");
            }
        }
    }
}

async fn fixed_rules_pay_in_their_currency(b: Backend) {
    let app = spawn_app(b).await;
    let prog = program(
        &app,
        json!([{"trigger": "every", "type": "fixed", "value": 50, "currency": "USD"},
               {"trigger": "every", "eventType": "signup", "type": "fixed", "value": 2.5}]),
    )
    .await;
    let (_, link) = federate(&app, &app.admin_key, "fx@example.com", &prog, json!({})).await;
    identified_click(&app, &link, "buyer").await;
    // A yen sale earns nothing from a dollar rule, and says why.
    let yen = event(&app, "jp-1", "5000", "JPY", "buyer").await;
    assert_eq!(yen["attributed"], true);
    assert_eq!(yen["commission"], Value::Null);
    assert_eq!(yen["reason"], "currency_mismatch");
    let usd = event(&app, "us-1", "10.00", "USD", "buyer").await;
    assert_eq!(usd["commission"]["amount"], "50.00");
    assert_eq!(usd["commission"]["currency"], "USD");
    // The eventType rule wins for its type; it pays in the program currency (USD).
    let a = app
        .admin_post(
            "/events",
            json!({"externalEventId": "sg-1", "type": "signup", "userId": "buyer"}),
        )
        .await;
    assert_eq!(a.assert_status(201)["commission"]["amount"], "2.50");
    // A percent rule pays in the sale's own currency, exactly (JPY has no minor unit).
    let pct = program(
        &app,
        json!([{"trigger": "every", "type": "percent", "value": 12.5}]),
    )
    .await;
    let (_, l2) = federate(&app, &app.admin_key, "pct@example.com", &pct, json!({})).await;
    identified_click(&app, &l2, "jp-buyer").await;
    let a = event(&app, "jp-2", "1001", "JPY", "jp-buyer").await;
    assert_eq!(a["commission"]["amount"], "125");
    assert_eq!(a["commission"]["currency"], "JPY");
}

async fn flagged_clicks_earn_nothing(b: Backend) {
    let app = spawn_app(b).await;
    let key = app.scoped_key(FEDERATION).await;
    let (_, link) = federate(&app, &key, "flag@example.com", "cmp_default", json!({})).await;
    for (id, flag) in [("net-1", Some("velocity")), ("net-2", None)] {
        let mut body = json!({"id": id, "linkKey": link, "landingUrl": "https://shop.example.com",
                              "country": "US", "someNewField": [1, 2]});
        if let Some(flag) = flag {
            body["fraudFlag"] = json!(flag);
        }
        app.post("/clicks", &key, body).await.assert_status(201);
    }
    let a = app.sale("flagged-sale", "100.00", "net-1").await;
    let body = a.assert_status(201);
    assert_eq!(body["commission"], Value::Null);
    assert_eq!(body["reason"], "click_flagged");
    let a = app.sale("clean-sale", "100.00", "net-2").await;
    assert_eq!(a.assert_status(201)["commission"]["amount"], "10.00");
    // The country is stored in lower case.
    let country: Option<String> =
        sqlx::query_scalar("SELECT country FROM clicks WHERE id = 'net-1'")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap();
    assert_eq!(country.as_deref(), Some("us"));
}

async fn removed_grant_stops_commissions(b: Backend) {
    let app = spawn_app(b).await;
    let (partner, link) = federate(
        &app,
        &app.admin_key,
        "g@example.com",
        "cmp_default",
        json!({}),
    )
    .await;
    let click = app.click(&link).await;
    app.call(
        Method::PATCH,
        &format!("/partners/{partner}"),
        Some(&app.admin_key),
        Some(json!({"programIds": []})),
    )
    .await
    .assert_status(200);
    let a = app.sale("ungranted", "100.00", &click).await;
    let body = a.assert_status(201);
    assert_eq!(body["commission"], Value::Null);
    assert_eq!(body["reason"], "program_not_granted");
}

both_backends!(
    compound_snapshot_federated_and_priced,
    recurring_months_end_a_rule,
    concurrent_first_events_give_one_first,
    fixed_rules_pay_in_their_currency,
    flagged_clicks_earn_nothing,
    removed_grant_stops_commissions,
);
