//! Time series (`/partners/:id/timeseries`, `/stats/timeseries`) and `/me/programs`.

use std::time::Duration;

use openpartner::domain::time::Timestamp;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app};

both_backends!(
    timeseries_counts_each_day_per_currency,
    timeseries_is_bounded_and_guarded,
    me_programs_lists_granted_terms_in_words,
);

fn at(s: &str) -> Timestamp {
    Timestamp::parse_rfc3339(s).unwrap()
}

/// A program at 10 %, a partner with one link in it: (program, partner, link key).
async fn setup(app: &TestApp, email: &str, key: &str) -> (String, String) {
    let program = app
        .create_program(
            "https://shop.example/",
            json!({"type": "percent", "value": 10}),
        )
        .await;
    let partner = app.create_partner(email, false).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.create_link(&partner, key, &program).await;
    (program, partner)
}

async fn sale(app: &TestApp, id: &str, value: &str, currency: &str, click: &str) {
    app.admin_post(
        "/events",
        json!({"externalEventId": id, "type": "sale", "value": value, "currency": currency, "clickId": click}),
    )
    .await
    .assert_status(201);
}

fn bucket<'a>(series: &'a Value, start: &str) -> &'a Value {
    series["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["start"] == start)
        .unwrap_or_else(|| panic!("no bucket {start}: {series}"))
}

async fn timeseries_counts_each_day_per_currency(b: Backend) {
    let app = spawn_app(b).await;
    app.clock.set(at("2026-03-10T09:00:00Z"));
    let (_, partner) = setup(&app, "ts@example.com", "ts-link").await;
    let (_, other) = setup(&app, "ts-other@example.com", "ts-other").await;

    // Tuesday: 2 clicks, a 100.00 USD sale and a 50.00 EUR sale.
    let c1 = app.click("ts-link").await;
    let _c2 = app.click("ts-link").await;
    sale(&app, "ts-1", "100.00", "USD", &c1).await;
    sale(&app, "ts-2", "50.00", "EUR", &c1).await;
    // The other partner's click never shows in this partner's series.
    app.click("ts-other").await;
    // Wednesday: one click, a 20.00 USD sale.
    app.clock.advance(Duration::from_secs(86_400));
    let c3 = app.click("ts-link").await;
    sale(&app, "ts-3", "20.00", "USD", &c3).await;

    let s = app
        .admin_get(&format!(
            "/partners/{partner}/timeseries?since=2026-03-09T00:00:00Z&until=2026-03-12T00:00:00Z&interval=day"
        ))
        .await;
    let s = s.assert_status(200).clone();
    assert_eq!(s["buckets"].as_array().unwrap().len(), 3, "{s}");
    let mon = bucket(&s, "2026-03-09T00:00:00.000Z");
    assert_eq!(mon["clicks"], 0);
    assert_eq!(mon["revenue"], json!({}));
    let tue = bucket(&s, "2026-03-10T00:00:00.000Z");
    assert_eq!(tue["clicks"], 2, "{s}");
    assert_eq!(tue["conversions"], 2);
    assert_eq!(tue["revenue"], json!({"USD": "100.00", "EUR": "50.00"}));
    assert_eq!(tue["commission"], json!({"USD": "10.00", "EUR": "5.00"}));
    let wed = bucket(&s, "2026-03-11T00:00:00.000Z");
    assert_eq!(wed["clicks"], 1);
    assert_eq!(wed["conversions"], 1);
    assert_eq!(wed["revenue"], json!({"USD": "20.00"}));
    assert_eq!(wed["commission"], json!({"USD": "2.00"}));

    // A week (from Monday) and a month hold the same figures, currencies kept apart.
    let w = app
        .admin_get(&format!(
            "/partners/{partner}/timeseries?since=2026-03-10T00:00:00Z&until=2026-03-12T00:00:00Z&interval=week"
        ))
        .await;
    let w = w.assert_status(200).clone();
    assert_eq!(w["buckets"].as_array().unwrap().len(), 1);
    let week = bucket(&w, "2026-03-09T00:00:00.000Z");
    assert_eq!(week["clicks"], 3);
    assert_eq!(week["revenue"], json!({"USD": "120.00", "EUR": "50.00"}));
    assert_eq!(week["commission"], json!({"USD": "12.00", "EUR": "5.00"}));
    let m = app
        .admin_get(&format!(
            "/partners/{partner}/timeseries?since=2026-01-15T00:00:00Z&until=2026-04-01T00:00:00Z&interval=month"
        ))
        .await;
    let m = m.assert_status(200).clone();
    assert_eq!(m["buckets"].as_array().unwrap().len(), 3);
    assert_eq!(bucket(&m, "2026-03-01T00:00:00.000Z")["clicks"], 3);

    // The whole program: both partners.
    let all = app
        .admin_get("/stats/timeseries?since=2026-03-10T00:00:00Z&until=2026-03-11T00:00:00Z")
        .await;
    let all = all.assert_status(200).clone();
    assert_eq!(bucket(&all, "2026-03-10T00:00:00.000Z")["clicks"], 3);

    // A reversed commission no longer counts.
    let list = app
        .admin_get(&format!("/commissions?partnerId={partner}"))
        .await;
    let eur = list.assert_status(200)["commissions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["currency"] == "EUR")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.admin_post(&format!("/commissions/{eur}/reverse"), json!({}))
        .await
        .assert_status(200);
    let s = app
        .admin_get(&format!(
            "/partners/{partner}/timeseries?since=2026-03-10T00:00:00Z&until=2026-03-11T00:00:00Z"
        ))
        .await;
    assert_eq!(
        bucket(s.assert_status(200), "2026-03-10T00:00:00.000Z")["commission"],
        json!({"USD": "10.00"})
    );
    // Default range: the 30 days up to now.
    let d = app
        .admin_get(&format!("/partners/{other}/timeseries"))
        .await;
    let d = d.assert_status(200).clone();
    assert_eq!(d["interval"], "day");
    let buckets = d["buckets"].as_array().unwrap();
    assert!((30..=31).contains(&buckets.len()), "{d}");
    let clicks: i64 = buckets.iter().map(|b| b["clicks"].as_i64().unwrap()).sum();
    assert_eq!(clicks, 1);
}

async fn timeseries_is_bounded_and_guarded(b: Backend) {
    let app = spawn_app(b).await;
    let (_, partner) = setup(&app, "guard@example.com", "guard-link").await;
    let (_, other) = setup(&app, "guard2@example.com", "guard-link2").await;
    let path = format!("/partners/{partner}/timeseries");
    for q in [
        "interval=hour",
        "since=yesterday",
        "since=2026-03-10T00:00:00Z&until=2026-03-01T00:00:00Z",
        "since=2020-01-01T00:00:00Z&until=2026-01-01T00:00:00Z&interval=day",
        "since=1900-01-01T00:00:00Z&until=2026-01-01T00:00:00Z&interval=month",
        "since=%00",
    ] {
        app.admin_get(&format!("{path}?{q}"))
            .await
            .assert_error(400, "invalid_query");
        app.admin_get(&format!("/stats/timeseries?{q}"))
            .await
            .assert_error(400, "invalid_query");
    }
    // The partner itself, partners:read, not another partner, not a scope without it.
    let mine = app.partner_key(&partner).await;
    app.get(&path, &mine).await.assert_status(200);
    app.get(&format!("/partners/{other}/timeseries"), &mine)
        .await
        .assert_error(404, "not_found");
    app.get("/stats/timeseries", &mine)
        .await
        .assert_error(403, "forbidden");
    let reader = app.scoped_key(&["partners:read"]).await;
    app.get(&path, &reader).await.assert_status(200);
    app.get("/stats/timeseries", &reader)
        .await
        .assert_error(403, "forbidden");
    let events = app.scoped_key(&["events:write"]).await;
    app.get(&path, &events)
        .await
        .assert_error(403, "forbidden_scope");
    app.admin_get("/partners/prt_nope/timeseries")
        .await
        .assert_error(404, "not_found");
}

async fn me_programs_lists_granted_terms_in_words(b: Backend) {
    let app = spawn_app(b).await;
    let a = app
        .admin_post(
            "/programs",
            json!({"name": "Shoes", "destinationUrl": "https://shoes.example/", "holdbackDays": 14,
            "commissionRules": [
                {"trigger": "first", "type": "percent", "value": 30},
                {"trigger": "subsequent", "type": "percent", "value": 10, "recurringMonths": 12}
            ]}),
        )
        .await;
    let shoes = a.assert_status(201)["id"].as_str().unwrap().to_string();
    let hats = app
        .create_program(
            "https://hats.example/",
            json!({"type": "fixed", "value": "5.00"}),
        )
        .await;
    let partner = app.create_partner("me@example.com", false).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let patch = app
        .call(
            reqwest::Method::PATCH,
            &format!("/partners/{partner}"),
            Some(&app.admin_key.clone()),
            Some(json!({"programIds": [shoes]})),
        )
        .await;
    patch.assert_status(200);
    let key = app.partner_key(&partner).await;
    let me = app.get("/me/programs", &key).await;
    let programs = me.assert_status(200)["programs"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(programs.len(), 1, "{}", me.text);
    assert_eq!(programs[0]["id"], shoes.as_str());
    assert_eq!(programs[0]["name"], "Shoes");
    assert_eq!(programs[0]["commissionRules"].as_array().unwrap().len(), 2);
    assert_eq!(
        programs[0]["terms"],
        "30 % of the first sale, then 10 % of each later sale for 12 months; paid after a 14-day holdback"
    );
    assert!(!me.text.contains(&hats));
    // Only partners.
    app.admin_get("/me/programs")
        .await
        .assert_error(403, "partner_only");
    let scoped = app.scoped_key(&["partners:read"]).await;
    app.get("/me/programs", &scoped)
        .await
        .assert_error(403, "partner_only");
}
