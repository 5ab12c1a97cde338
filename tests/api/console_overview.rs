//! The console's Overview (`GET /stats/overview` and its page), API keys and Settings pages:
//! the figures over HTTP, the pages in headless Chromium with screenshots at desktop and phone
//! width (`target/screenshots/console-extra-*`).

use openpartner::clock::Clock;
use openpartner::domain::time::Timestamp;
use serde_json::{Value, json};

use crate::both_backends;
use crate::console::Browser;
use crate::helpers::{Backend, TestApp, spawn_app};

both_backends!(overview_figures, admin_uses_overview_keys_and_settings);

/// Two partners with a link each; the first sells 100.00 USD and 20.00 EUR, the second 40.00
/// USD; one commission approved. Returns (partner a, partner b, program).
async fn business(app: &TestApp) -> (String, String, String) {
    let program = app
        .create_program(
            "https://shop.example/",
            json!({"type": "percent", "value": 10}),
        )
        .await;
    let a = app
        .admin_post(
            "/partners",
            json!({"email": "top@example.com", "name": "Top <Seller>", "sendInvite": false}),
        )
        .await;
    let a = a.assert_status(201)["id"].as_str().unwrap().to_string();
    let b = app.create_partner("second@example.com", false).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.create_link(&a, "top-link", &program).await;
    app.create_link(&b, "second-link", &program).await;
    let ca = app.click("top-link").await;
    app.click("top-link").await;
    let cb = app.click("second-link").await;
    let sale = app.sale("o-1", "100.00", &ca).await;
    let commission = sale.assert_status(201)["commission"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.admin_post(
        "/events",
        json!({"externalEventId": "o-2", "type": "sale", "value": "20.00", "currency": "EUR", "clickId": ca}),
    )
    .await
    .assert_status(201);
    app.sale("o-3", "40.00", &cb).await.assert_status(201);
    app.admin_post(
        &format!("/commissions/{commission}/approve"),
        json!({"force": true}),
    )
    .await
    .assert_status(200);
    (a, b, program)
}

async fn overview_figures(b: Backend) {
    let app = spawn_app(b).await;
    let (a, second, program) = business(&app).await;
    let o = app.admin_get("/stats/overview").await;
    let o = o.assert_status(200).clone();
    assert_eq!(o["clicks"], 3, "{o}");
    assert_eq!(o["conversions"], 3);
    assert_eq!(o["revenue"], json!({"USD": "140.00", "EUR": "20.00"}));
    assert_eq!(o["commissions"]["approved"], json!({"USD": "10.00"}));
    assert_eq!(
        o["commissions"]["accrued"],
        json!({"USD": "4.00", "EUR": "2.00"})
    );
    assert_eq!(o["payoutsDue"], json!({"USD": "10.00"}));
    // Ranked within each currency (EUR first, then USD), never across them.
    let currencies: Vec<&str> = o["topPartners"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["currency"].as_str().unwrap())
        .collect();
    assert_eq!(currencies, ["EUR", "USD", "USD"], "{o}");
    let top: Vec<&Value> = o["topPartners"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["currency"] == "USD")
        .collect();
    assert_eq!(top[0]["id"], a.as_str());
    assert_eq!(top[0]["name"], "Top <Seller>");
    assert_eq!(top[0]["revenue"], "100.00");
    assert_eq!(top[0]["currency"], "USD");
    assert_eq!(top[1]["id"], second.as_str());
    let links = o["topLinks"].as_array().unwrap();
    assert_eq!(links[1]["linkKey"], "top-link");
    assert_eq!(links[1]["currency"], "USD");
    assert_eq!(links[1]["partnerId"], a.as_str());
    assert_eq!(links.len(), 3, "{o}");
    // The partner list filters by program and status.
    app.call(
        reqwest::Method::PATCH,
        &format!("/partners/{second}"),
        Some(&app.admin_key.clone()),
        Some(json!({"programIds": []})),
    )
    .await
    .assert_status(200);
    let ids = |a: &crate::helpers::Answer| -> Vec<String> {
        a.body["partners"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap().to_string())
            .collect()
    };
    let in_program = app
        .admin_get(&format!("/partners?programId={program}"))
        .await;
    in_program.assert_status(200);
    assert_eq!(ids(&in_program), vec![a.clone()]);
    // Ids match exactly, on both backends: another case is another program.
    let upper = app
        .admin_get(&format!("/partners?programId={}", program.to_uppercase()))
        .await;
    assert!(ids(&upper).is_empty(), "{}", upper.text);
    app.admin_post(&format!("/partners/{second}/revoke"), json!({}))
        .await
        .assert_status(200);
    let revoked = app.admin_get("/partners?status=revoked").await;
    revoked.assert_status(200);
    assert_eq!(ids(&revoked), vec![second.clone()]);
    let pending = app.admin_get("/partners?status=pending_review").await;
    pending.assert_status(200);
    assert!(ids(&pending).is_empty());
    app.admin_get("/partners?status=sleeping")
        .await
        .assert_error(400, "invalid_query");
    app.admin_get("/partners?programId=a%25b")
        .await
        .assert_error(400, "invalid_query");
    // Admin only, bounded.
    let key = app.partner_key(&a).await;
    app.get("/stats/overview", &key)
        .await
        .assert_error(403, "forbidden");
    app.admin_get("/stats/overview?since=2020-01-01T00:00:00Z")
        .await
        .assert_error(400, "invalid_query");
    app.admin_get("/stats/overview?until=1969-01-01T00:00:00Z")
        .await
        .assert_error(400, "invalid_query");
}

async fn admin_uses_overview_keys_and_settings(b: Backend) {
    let app = spawn_app(b).await;
    let (top, _, program) = business(&app).await;
    let browser = Browser::start(&format!("console-extra-{b:?}").to_lowercase()).await;
    let web = &browser.client;

    // The console's home is the overview.
    web.goto(&app.url("/admin")).await.unwrap();
    browser.visible("#signin-form").await;
    browser.fill("#key", &app.admin_key).await;
    browser.click("#signin-button").await;
    browser
        .url_until("the overview", |u| u == app.url("/admin/overview"))
        .await;
    browser
        .text_until("#totals", "the totals", |t| {
            t.contains("140.00 USD") && t.contains("20.00 EUR")
        })
        .await;
    browser.visible("#charts svg").await;
    browser
        .text_until("#top-partners", "the top partner by name", |t| {
            t.starts_with("Top <Seller>")
        })
        .await;
    browser
        .text_until("#top-links", "the top link", |t| t.contains("top-link"))
        .await;
    browser
        .text_until("#network-line", "the Network line", |t| {
            t.contains("not connected")
        })
        .await;
    browser.shots("overview").await;

    // API keys: a scoped key shown once, copied, then revoked.
    web.goto(&app.url("/admin/api-keys")).await.unwrap();
    browser.visible("#key-form").await;
    browser.fill("#key-label", "Reporting").await;
    browser.click("#kind-scoped").await;
    browser
        .click("#key-scopes input[value='commissions:read']")
        .await;
    browser.click("#key-button").await;
    let key = browser
        .text_until("#new-key-value", "the new key", |t| t.starts_with("op_"))
        .await;
    let whoami = app.get("/auth/whoami", &key).await;
    assert_eq!(
        whoami.assert_status(200)["scopes"],
        json!(["commissions:read"])
    );
    browser.click("#copy-key").await;
    browser
        .text_until("#copy-status", "copied", |t| t == "Copied.")
        .await;
    browser
        .text_until("#keys-body", "the key listed", |t| t.contains("Reporting"))
        .await;
    browser.shots("api-keys").await;
    let list = app.admin_get("/api-keys").await;
    let id = list.assert_status(200)["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["label"] == "Reporting")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    web.execute("window.confirm = () => true;", vec![])
        .await
        .unwrap();
    browser
        .click(&format!("#keys-body tr[data-key='{id}'] button"))
        .await;
    browser
        .text_until("#keys-status", "revoked", |t| t.starts_with("Revoked"))
        .await;
    app.get("/auth/whoami", &key)
        .await
        .assert_error(401, "unauthorized");

    // Settings: sign-up policy, a program opened to sign-up, payout schedule and minimum.
    web.goto(&app.url("/admin/settings")).await.unwrap();
    // Loaded: the programs are listed once the current settings are in the form.
    browser.visible("#signup-programs input").await;
    web.find(fantoccini::Locator::Css("#signup-policy"))
        .await
        .unwrap()
        .select_by_value("require_review")
        .await
        .unwrap();
    browser.click("#signup-programs input").await;
    browser.click("#signup-button").await;
    browser
        .text_until("#signup-status", "saved", |t| t == "Saved.")
        .await;
    let policy = app.admin_get("/config/partner-signup").await;
    assert_eq!(policy.assert_status(200)["policy"], "require_review");
    let programs = app.admin_get("/programs").await;
    assert!(
        programs.assert_status(200)["programs"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["openToSignup"] == true)
    );
    web.find(fantoccini::Locator::Css("#payout-schedule"))
        .await
        .unwrap()
        .select_by_value("weekly")
        .await
        .unwrap();
    browser.fill("#payout-minimums", "USD 50.00").await;
    // Mid-June, so the tests' tick (1 January only) is months away whatever today's date.
    let was = app.clock.now();
    app.clock.set(Timestamp::from_millis(1_781_524_800_000)); // 2026-06-15
    browser.click("#payout-button").await;
    browser
        .text_until("#payout-status", "saved", |t| t == "Saved.")
        .await;
    let payouts = app.admin_get("/config/payouts").await;
    let payouts = payouts.assert_status(200);
    assert_eq!(payouts["schedule"], "weekly");
    assert_eq!(payouts["minimumAmounts"], json!({"USD": "50.00"}));
    // The tests' tick fires on 1 January only: a weekly schedule has no run to show, and the
    // page says why instead of claiming payouts are manual.
    assert!(payouts["nextRunAt"].is_null());
    browser
        .text_until("#payout-next", "no scheduled run", |t| {
            t.starts_with("No scheduled run in the next two months")
        })
        .await;
    app.clock.set(was);
    // The brand name: shown, changed, refused when empty, and the header follows.
    let shown = web
        .find(fantoccini::Locator::Css("#brand-name"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(shown.as_deref(), Some("OpenPartner"));
    browser.fill("#brand-name", "Acme Shoes").await;
    browser.click("#brand-button").await;
    browser
        .text_until("#brand-status", "saved", |t| {
            t == "Saved: partners now see Acme Shoes."
        })
        .await;
    browser
        .text_until("#brand", "the header", |t| t == "Acme Shoes")
        .await;
    let brand = app.admin_get("/config/brand").await;
    assert_eq!(brand.assert_status(200)["brandName"], "Acme Shoes");
    browser.shots("settings").await;
    web.execute(
        "document.getElementById('brand-name').removeAttribute('required');",
        vec![],
    )
    .await
    .unwrap();
    browser.fill("#brand-name", "   ").await;
    browser.click("#brand-button").await;
    browser
        .text_until("#brand-status", "the refusal", |t| {
            t.starts_with("Failed: brandName: must not be empty")
        })
        .await;
    web.refresh().await.unwrap();
    browser
        .text_until("#brand", "the stored name after a reload", |t| {
            t == "Acme Shoes"
        })
        .await;

    // A partner signs up (the policy now asks for review): the Partners page filters the
    // pending ones and approves.
    app.call(
        reqwest::Method::POST,
        "/partner-signup",
        None,
        Some(json!({"email": "newbie@example.com", "name": "Newbie"})),
    )
    .await
    .assert_status(201);
    let token = app.latest_token("newbie@example.com", 1).await;
    let (verified, _) = app.verify(&token).await;
    assert_eq!(verified.assert_status(200)["status"], "pending_review");
    web.goto(&app.url("/admin/partners")).await.unwrap();
    browser
        .text_until("#filter-program", "the programs by name", |t| {
            t.contains("Program")
        })
        .await;
    web.find(fantoccini::Locator::Css("#filter-status"))
        .await
        .unwrap()
        .select_by_value("pending_review")
        .await
        .unwrap();
    browser
        .text_until("#partners-body", "only the pending partner", |t| {
            t.contains("Newbie") && !t.contains("Top <Seller>")
        })
        .await;
    browser.shots("partners-pending").await;
    browser.click("#partners-body button").await;
    browser
        .text_until("#partners-status", "approved", |t| t.contains("approved"))
        .await;
    let newbie = app.partner_id_by_email("newbie@example.com").await;
    let p = app.admin_get(&format!("/partners/{newbie}")).await;
    assert_eq!(p.assert_status(200)["status"], "active");

    // The partner page: program names, the chart, the balance and payouts.
    web.goto(&app.url(&format!("/admin/partners/{top}")))
        .await
        .unwrap();
    browser.visible("#charts svg").await;
    browser
        .text_until("#partner-details", "the program by name", |t| {
            t.contains("Program") && !t.contains(&program)
        })
        .await;
    browser
        .text_until("#balance-body", "the balance", |t| t.contains("USD"))
        .await;
    browser.shots("partner").await;
    browser.close().await;
}
