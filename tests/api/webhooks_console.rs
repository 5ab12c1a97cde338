//! The console's Webhooks page in headless Chromium: add an endpoint (the secret shown once,
//! copied), choose its events, send a test, read the delivery log, retry, disable, delete.
//! Screenshots land in `target/screenshots/`.

use serde_json::json;

use crate::both_backends;
use crate::console::Browser;
use crate::helpers::Backend;
use crate::webhook_receiver::assert_verified;
use crate::webhooks::{deliver, deliveries, setup};

async fn admin_manages_webhooks_in_the_console(b: Backend) {
    let (app, rx) = setup(b, &[]).await;
    let browser = Browser::start(&format!("{b:?}-webhooks").to_lowercase()).await;
    let web = &browser.client;
    web.goto(&app.url("/admin/webhooks")).await.unwrap();
    browser.visible("#signin-form").await;
    browser.fill("#key", &app.admin_key).await;
    browser.click("#signin-button").await;
    browser
        .url_until("back on the webhooks page", |u| {
            u == app.url("/admin/webhooks")
        })
        .await;
    browser
        .text_until("#webhooks-body", "the empty list", |t| {
            t.contains("No endpoints yet")
        })
        .await;

    // Add an endpoint for two events; the secret is shown once, with a copy button.
    let url = rx.url("/console");
    browser.fill("#webhook-url", &url).await;
    browser.fill("#webhook-description", "Slack").await;
    browser.click("#event-all").await;
    browser.click("input[value='partner.created']").await;
    browser.click("input[value='link.created']").await;
    browser.click("#webhook-add").await;
    browser
        .text_until("#webhook-status", "added", |t| t.starts_with("Added"))
        .await;
    let secret = browser
        .text_until("#secret-value", "the secret", |t| t.starts_with("whsec_"))
        .await;
    browser.click("#secret-copy").await;
    browser
        .text_until("#secret-status", "copied or selected", |t| !t.is_empty())
        .await;
    browser.shot("webhooks-added").await;
    browser
        .text_until("#webhooks-body", "the endpoint listed", |t| {
            t.contains(&url) && t.contains("link.created, partner.created")
        })
        .await;
    let listed = app.admin_get("/webhooks").await;
    let endpoint = listed.assert_status(200)["webhooks"][0].clone();
    assert_eq!(
        endpoint["events"],
        json!(["link.created", "partner.created"])
    );
    assert_eq!(endpoint["description"], "Slack");
    let id = endpoint["id"].as_str().unwrap().to_string();

    // A test event goes out at once, signed with the secret the page showed.
    browser
        .click("#webhooks-body button[data-action='send-test']")
        .await;
    browser
        .text_until("#webhooks-status", "delivered", |t| {
            t.starts_with("Test event: Delivered (HTTP 200")
        })
        .await;
    assert_verified(&secret, &rx.accepted());

    // The receiver fails: the page says so, the log shows it, and a retry sends it.
    rx.answer_with(500);
    browser
        .click("#webhooks-body button[data-action='send-test']")
        .await;
    browser
        .text_until("#webhooks-status", "not delivered", |t| {
            t.contains("Not delivered: HTTP 500")
        })
        .await;
    browser
        .click("#webhooks-body button[data-action='deliveries']")
        .await;
    browser
        .text_until("#deliveries-body", "the log", |t| {
            t.contains("pending") && t.contains("delivered") && t.contains("receiver down")
        })
        .await;
    browser.shot("webhooks-deliveries").await;
    rx.answer_with(200);
    browser
        .click("#deliveries-body button[data-action='retry']")
        .await;
    browser
        .text_until("#deliveries-status", "retried", |t| {
            t.starts_with("Retry: Delivered")
        })
        .await;
    let log = deliveries(&app, &id).await;
    assert_eq!(log.len(), 2);
    assert!(log.iter().all(|d| d["status"] == "delivered"));
    assert_eq!(log[0]["attempts"], 2);

    // Events it subscribes to appear in the log once the worker sends them.
    app.create_partner("console@example.com", false).await;
    deliver(&app).await;
    browser.click("#deliveries-refresh").await;
    browser
        .text_until("#deliveries-body", "the partner event", |t| {
            t.contains("partner.created")
        })
        .await;
    assert_eq!(
        rx.accepted().len(),
        3,
        "partner.activated is not subscribed"
    );

    // Disable, then delete (a second press confirms).
    browser
        .click("#webhooks-body button[data-action='disable']")
        .await;
    browser
        .text_until("#webhooks-body", "disabled", |t| {
            t.contains("disabled (by an admin)")
        })
        .await;
    assert_eq!(
        app.admin_get(&format!("/webhooks/{id}")).await.body["enabled"],
        false
    );
    browser.shot("webhooks-disabled").await;
    browser
        .click("#webhooks-body button[data-action='delete']")
        .await;
    browser
        .text_until(
            "#webhooks-body button[data-action='delete']",
            "confirm",
            |t| t == "Confirm delete",
        )
        .await;
    browser
        .click("#webhooks-body button[data-action='delete']")
        .await;
    browser
        .text_until("#webhooks-body", "the empty list", |t| {
            t.contains("No endpoints yet")
        })
        .await;
    app.admin_get(&format!("/webhooks/{id}"))
        .await
        .assert_error(404, "not_found");

    web.set_window_size(390, 844).await.unwrap();
    web.goto(&app.url("/admin/webhooks")).await.unwrap();
    browser.visible("#webhook-form").await;
    browser.shot("webhooks-phone").await;
    browser.close().await;
}

both_backends!(admin_manages_webhooks_in_the_console);
