//! The figures the portal shows beside a partner's links (clicks, conversions, revenue per
//! currency) and beside its commissions (the sale each came from, without the customer).

use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app};

both_backends!(links_carry_their_figures, commissions_show_their_sale);

/// A partner in a 10 % USD program; returns (partner id, program id, the partner's key).
async fn partner_in_program(app: &TestApp, email: &str) -> (String, String, String) {
    let program = app
        .create_program(
            "https://shop.example/",
            json!({"type": "percent", "value": 10}),
        )
        .await;
    let a = app
        .admin_post(
            "/partners",
            json!({"email": email, "name": "P", "sendInvite": false, "programIds": [program]}),
        )
        .await;
    let id = a.assert_status(201)["id"].as_str().unwrap().to_string();
    let key = app.partner_key(&id).await;
    (id, program, key)
}

async fn sale(app: &TestApp, external: &str, value: &str, currency: &str, click: &str) -> Value {
    let a = app
        .admin_post(
            "/events",
            json!({"externalEventId": external, "type": "sale", "value": value,
                "currency": currency, "clickId": click, "userId": "customer-42@example.com"}),
        )
        .await;
    a.assert_status(201).clone()
}

async fn links_carry_their_figures(b: Backend) {
    let app = spawn_app(b).await;
    let (partner, program, key) = partner_in_program(&app, "ada@example.com").await;
    let (other, other_program, _) = partner_in_program(&app, "bo@example.com").await;
    app.create_link(&partner, "ada-main", &program).await;
    app.create_link(&partner, "ada-quiet", &program).await;
    app.create_link(&other, "bo-main", &other_program).await;

    // ada-main: 3 clicks, two USD sales and one EUR sale; ada-quiet: one click, no sale.
    let c1 = app.click("ada-main").await;
    let c2 = app.click("ada-main").await;
    app.click("ada-main").await;
    app.click("ada-quiet").await;
    sale(&app, "o-1", "10.00", "USD", &c1).await;
    sale(&app, "o-2", "5.55", "USD", &c2).await;
    sale(&app, "o-3", "7.00", "EUR", &c2).await;
    // Another partner's sale counts for its own link only.
    let bo = app.click("bo-main").await;
    sale(&app, "o-4", "99.00", "USD", &bo).await;

    let a = app.get(&format!("/partners/{partner}/links"), &key).await;
    let links = a.assert_status(200)["links"].as_array().unwrap().clone();
    let by_key = |k: &str| links.iter().find(|l| l["linkKey"] == k).cloned().unwrap();
    let main = by_key("ada-main");
    assert_eq!(main["clicks"], 3);
    assert_eq!(main["conversions"], 3);
    assert_eq!(main["revenue"], json!({"EUR": "7.00", "USD": "15.55"}));
    assert_eq!(main["shareUrl"], "http://localhost:8080/r/ada-main");
    assert_eq!(main["programId"], program.as_str());
    let quiet = by_key("ada-quiet");
    assert_eq!(
        (&quiet["clicks"], &quiet["conversions"], &quiet["revenue"]),
        (&json!(1), &json!(0), &json!({}))
    );
    assert_eq!(links.len(), 2);
    // The admin sees the same figures.
    let admin = app.admin_get(&format!("/partners/{partner}/links")).await;
    assert_eq!(admin.assert_status(200)["links"], json!(links));
    // Another partner's links stay hidden.
    app.get(&format!("/partners/{other}/links"), &key)
        .await
        .assert_error(404, "not_found");
}

async fn commissions_show_their_sale(b: Backend) {
    let app = spawn_app(b).await;
    let (partner, program, key) = partner_in_program(&app, "ada@example.com").await;
    app.create_link(&partner, "ada-main", &program).await;
    let click = app.click("ada-main").await;
    let first = sale(&app, "order-1001", "120.00", "USD", &click).await;
    app.clock.advance(std::time::Duration::from_secs(60));
    sale(&app, "stripe:invoice:in_42", "80.50", "USD", &click).await;

    let a = app
        .get(&format!("/partners/{partner}/commissions"), &key)
        .await;
    assert!(!a.text.contains("customer-42"), "no customer: {}", a.text);
    let list = a.assert_status(200)["commissions"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(list.len(), 2);
    // Newest first.
    assert_eq!(list[0]["amount"], "8.05");
    assert_eq!(
        list[0]["sale"],
        json!({"type": "sale", "amount": "80.50", "currency": "USD",
            "at": list[0]["sale"]["at"], "reference": "stripe:invoice:in_42"})
    );
    assert_eq!(list[1]["amount"], "12.00");
    assert_eq!(list[1]["eventId"], first["id"]);
    assert_eq!(
        list[1]["sale"],
        json!({"type": "sale", "amount": "120.00", "currency": "USD",
            "at": list[1]["sale"]["at"], "reference": "order-1001"})
    );
    assert!(list[0]["sale"]["at"].as_str().unwrap() > list[1]["sale"]["at"].as_str().unwrap());
    // The admin's list carries the sale too, page after page.
    let page = app.admin_get("/commissions?limit=1").await;
    let page = page.assert_status(200);
    assert_eq!(
        page["commissions"][0]["sale"]["reference"],
        "stripe:invoice:in_42"
    );
    let cursor = page["nextCursor"].as_str().unwrap();
    let next = app
        .admin_get(&format!("/commissions?limit=1&cursor={cursor}"))
        .await;
    assert_eq!(
        next.assert_status(200)["commissions"][0]["sale"]["reference"],
        "order-1001"
    );
    app.admin_get("/commissions?cursor=forged")
        .await
        .assert_error(400, "invalid_cursor");
}
