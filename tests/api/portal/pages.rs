use super::*;

/// Opens the magic link and presses its button: the partner lands on the portal's home.
async fn sign_in(app: &TestApp, browser: &Browser, token: &str) {
    browser
        .client
        .goto(&app.url(&format!("/auth/magic?token={token}")))
        .await
        .unwrap();
    browser.click("#go").await;
    browser
        .url_until("the portal", |u| u == app.url("/portal"))
        .await;
    browser.visible("#page-home").await;
}

async fn partner_uses_the_portal(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    let vendor = app.connect_hosted().await;
    sim.lock().vendors.get_mut(&vendor).unwrap().offerings.push(
        json!({"id": "off_hats", "title": "Summer hats", "description": "Hats for the summer",
            "vendorProgramId": "cmp_hats", "published": true}),
    );
    let program = shoes_program(&app).await;
    // A name that would run script if the portal wrote it as HTML.
    let name = "Ada <img src=x onerror=alert(1)>";
    let email = "ada@example.com";
    let (partner, token) = invited(&app, email, name, &program).await;
    sim.affiliate(&vendor, &partner, email, "Ada");

    let browser = Browser::start(&format!("portal-{b:?}").to_lowercase()).await;
    sign_in(&app, &browser, &token).await;
    browser
        .text_until("#who", "the partner's name as text", |t| t == name)
        .await;

    // Earn something: a link, clicks, a 100.00 USD sale (30.00 commission), approved and paid
    // out by hand; then a second sale that stays accrued.
    app.create_link(&partner, "ada-shoes", &program).await;
    let click = app.click("ada-shoes").await;
    app.click("ada-shoes").await;
    let sale = app
        .admin_post(
            "/events",
            json!({"externalEventId": "s-1", "type": "sale", "value": "100.00", "currency": "USD", "clickId": click}),
        )
        .await;
    let commission = sale.assert_status(201)["commission"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.admin_post(&format!("/commissions/{commission}/approve"), json!({}))
        .await
        .assert_status(200);
    let run = app.admin_post("/payouts/run", json!({})).await;
    run.assert_status(201);
    app.sale("s-2", "50.00", &click).await.assert_status(201);

    // Home: earnings, the chart and its table.
    browser.client.goto(&app.url("/portal")).await.unwrap();
    browser.visible("#charts svg").await;
    browser
        .text_until("#earnings-body", "the earnings", |t| t.contains("USD"))
        .await;
    browser.click("details summary").await;
    browser
        .text_until("#chart-table", "today's figures", |t| {
            t.contains("150.00 USD") && t.contains("35.00 USD")
        })
        .await;
    let label = browser
        .client
        .find(fantoccini::Locator::Css("#charts svg"))
        .await
        .unwrap()
        .attr("aria-label")
        .await
        .unwrap()
        .unwrap_or_default();
    assert!(label.starts_with("Clicks over the last 30 days"), "{label}");
    browser.shots("home").await;
    browser.click("#range-365").await;
    browser
        .text_until("#charts figcaption", "the 12 months chart", |t| {
            !t.is_empty()
        })
        .await;
    browser.shots("home-12-months").await;

    // Links: create one with a deep link, see the errors, copy it.
    browser
        .client
        .goto(&app.url("/portal/links"))
        .await
        .unwrap();
    browser
        .text_until("[data-key='ada-shoes']", "the link's figures", |t| {
            t.contains("2 clicks")
                && t.contains("2 conversions")
                && t.contains("Revenue 150.00 USD")
        })
        .await;
    browser.fill("#link-key", "ada-blog").await;
    browser.fill("#link-path", "/blog/summer").await;
    browser.click("#link-button").await;
    browser
        .text_until("#link-status", "the new link", |t| t.contains("Created"))
        .await;
    browser.visible("[data-key='ada-blog']").await;
    browser.fill("#link-key", "ada-blog").await;
    browser.click("#link-button").await;
    browser
        .text_until("#link-status", "linkKey_taken", |t| {
            t.contains("already taken")
        })
        .await;
    browser.fill("#link-key", "ada-away").await;
    browser.fill("#link-path", "//elsewhere.example/x").await;
    browser.click("#link-button").await;
    browser
        .text_until("#link-status", "destination_override_not_allowed", |t| {
            t.contains("program's own site")
        })
        .await;
    browser.click("[data-key='ada-blog'] button").await;
    browser
        .text_until("#copy-status", "copied", |t| t.starts_with("Copied"))
        .await;
    let links = app.admin_get(&format!("/partners/{partner}/links")).await;
    let blog = links.assert_status(200)["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["linkKey"] == "ada-blog")
        .cloned()
        .unwrap();
    assert_eq!(blog["destinationUrl"], "https://shoes.example/blog/summer");
    browser.shots("links").await;

    // Programs: the terms in words.
    browser
        .client
        .goto(&app.url("/portal/programs"))
        .await
        .unwrap();
    browser
        .text_until("#programs-list", "the terms", |t| {
            t.contains("30 % of the first sale, then 10 % of each later sale for 12 months")
        })
        .await;
    browser.shots("programs").await;

    // Commissions, filtered by status.
    browser
        .client
        .goto(&app.url("/portal/commissions"))
        .await
        .unwrap();
    browser
        .text_until(
            "#commissions-body",
            "both commissions and their sales",
            |t| {
                t.contains("30.00 USD")
                    && t.contains("5.00 USD")
                    && t.contains("100.00 USD on")
                    && t.contains("Order s-1")
                    && t.contains("50.00 USD on")
                    && t.contains("Order s-2")
            },
        )
        .await;
    browser
        .client
        .find(fantoccini::Locator::Css("#commission-status"))
        .await
        .unwrap()
        .select_by_value("accrued")
        .await
        .unwrap();
    browser
        .text_until("#commissions-body", "only the accrued one", |t| {
            t.contains("5.00 USD") && !t.contains("30.00 USD")
        })
        .await;
    browser.shots("commissions").await;

    // Payouts: the payout, and the manual payout email (Stripe is off).
    browser
        .client
        .goto(&app.url("/portal/payouts"))
        .await
        .unwrap();
    browser
        .text_until("#payouts-body", "the payout", |t| t.contains("30.00 USD"))
        .await;
    browser
        .text_until("#method-text", "the payout email", |t| t.contains(email))
        .await;
    browser.shots("payouts").await;

    // Network: discover and apply.
    browser
        .client
        .goto(&app.url("/portal/network"))
        .await
        .unwrap();
    browser.visible("[data-offering='off_hats']").await;
    browser
        .fill("[data-offering='off_hats'] input", "I love hats")
        .await;
    browser.click("[data-offering='off_hats'] button").await;
    browser
        .text_until("[data-offering='off_hats'] .status", "applied", |t| {
            t.starts_with("Applied")
        })
        .await;
    browser
        .text_until("#requests-body", "the application", |t| {
            t.contains("pending")
        })
        .await;
    assert_eq!(
        sim.acted_as("POST /offerings/off_hats/apply"),
        vec![partner.clone()]
    );
    let requests: Vec<Value> = sim.lock().requests.clone();
    assert_eq!(requests[0]["message"], "I love hats");
    browser.shots("network").await;

    // Profile, then sign out.
    browser
        .client
        .goto(&app.url("/portal/profile"))
        .await
        .unwrap();
    browser
        .text_until("#profile-dl", "the name", |t| t.contains(name))
        .await;
    browser.shots("profile").await;
    browser.click("#signout").await;
    browser.visible("#signin-form").await;
    browser.shots("signin").await;

    // A revoked partner: the magic link says why.
    app.admin_post(
        &format!("/partners/{partner}/revoke"),
        json!({"reason": "Trademark bidding"}),
    )
    .await
    .assert_status(200);
    browser.client.goto(&app.url("/portal")).await.unwrap();
    browser.visible("#signin-form").await;
    browser.close().await;
}

async fn partner_connects_stripe_from_the_portal(b: Backend) {
    let (app, _stripe) = spawn_with_stripe(b, &[]).await;
    let program = shoes_program(&app).await;
    let (_partner, token) = invited(&app, "grace@example.com", "Grace", &program).await;
    let browser = Browser::start(&format!("portal-stripe-{b:?}").to_lowercase()).await;
    sign_in(&app, &browser, &token).await;
    browser
        .text_until("#payout-info", "no payout method yet", |t| {
            t.contains("Not set up")
        })
        .await;
    browser
        .client
        .goto(&app.url("/portal/payouts"))
        .await
        .unwrap();
    browser
        .text_until("#method-text", "an invitation to connect", |t| {
            t.contains("Connect a Stripe account")
        })
        .await;
    browser.shots("payouts-stripe").await;
    // Onboarding at the simulator completes and comes back to the portal.
    browser.click("#connect-button").await;
    browser
        .url_until("back on the portal", |u| {
            u.starts_with(&app.url("/portal/payouts?stripe=return"))
        })
        .await;
    browser
        .text_until("#method-text", "the account connected", |t| {
            t.contains("Stripe is connected")
        })
        .await;
    browser.shots("payouts-stripe-connected").await;
    // Not connected to the Network: no Network tab.
    let hidden = browser
        .client
        .find(fantoccini::Locator::Css("#nav-network"))
        .await
        .unwrap()
        .is_displayed()
        .await
        .unwrap();
    assert!(!hidden);
    browser.close().await;
}

both_backends!(
    partner_uses_the_portal,
    partner_connects_stripe_from_the_portal,
);
