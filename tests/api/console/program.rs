use super::*;

async fn admin_runs_the_program_from_the_console(b: Backend) {
    let (app, sim) = spawn_reachable(b, false).await;
    // An existing roster for the backfill.
    for i in 0..3 {
        app.create_partner(&format!("roster{i}@example.com"), false)
            .await;
    }
    let prefix = format!("{b:?}").to_lowercase();
    let browser = Browser::start(&prefix).await;
    let web = &browser.client;

    // Sign in: the console sends us to the sign-in page first.
    web.goto(&app.url("/admin/network")).await.unwrap();
    browser.visible("#signin-form").await;
    browser.shot("login").await;
    browser
        .fill("#key", "op_wrong_key_wrong_key_wrong_key_wrong_key_000000")
        .await;
    browser.click("#signin-button").await;
    browser
        .text_until("#signin-status", "a failure message", |t| {
            t.starts_with("Failed:")
        })
        .await;
    browser.fill("#key", &app.admin_key).await;
    browser.click("#signin-button").await;

    // Not connected: one-click is for the hosted tier, so the email form appears.
    browser.visible("#one-click").await;
    browser.shot("network-not-connected").await;
    browser.click("#one-click").await;
    browser.visible("#start-connect-form").await;
    browser.fill("#contact-email", "ops@brand.example").await;
    browser.fill("#display-name", "Brand Co").await;
    browser.click("#send-verification").await;
    browser
        .text_until("#start-connect-status", "the email sent", |t| {
            t.contains("Verification email sent")
        })
        .await;
    browser.shot("network-email-sent").await;
    // Signed out (say, the email opened in another browser).
    web.delete_all_cookies().await.unwrap();
    // A sign-in link that would send the admin off-site afterwards lands on the console.
    web.goto(&app.url("/admin/login?next=https%3A%2F%2Fevil.example%2Fadmin%2Fnetwork"))
        .await
        .unwrap();
    browser.fill("#key", &app.admin_key).await;
    browser.click("#signin-button").await;
    browser
        .url_until("the console's own page", |u| {
            u == app.url("/admin/overview")
        })
        .await;
    web.delete_all_cookies().await.unwrap();
    // The emailed link opens the completion page: it asks to sign in, then comes back.
    let link = sim.lock().verifications[0].link.clone();
    web.goto(&link).await.unwrap();
    browser.visible("#signin-needed").await;
    browser.shot("network-complete-sign-in").await;
    browser.click("#signin").await;
    browser.fill("#key", &app.admin_key).await;
    browser.click("#signin-button").await;
    browser
        .url_until("back on the completion page", |u| u == link)
        .await;
    browser.enabled("#go").await;
    browser.click("#go").await;
    browser
        .text_until("#msg", "connected", |t| {
            t.starts_with("Connected as Brand Co")
        })
        .await;
    browser.shot("network-complete").await;

    // Connected panel.
    web.goto(&app.url("/admin/network")).await.unwrap();
    browser.visible("#connected").await;
    browser
        .text_until("#display", "the display name", |t| t == "Brand Co")
        .await;
    browser
        .text_until("#vendor-status", "the status", |t| t == "active")
        .await;
    app.heartbeat_idle().await;
    // Push now with a forced failure: the reason is shown inline.
    sim.inject(Fault {
        count: 100,
        path: Some("/vendors/me/heartbeat".into()),
        status: Some(500),
        body: Some("boom".into()),
        ..Default::default()
    });
    browser.click("#push-now").await;
    browser
        .text_until("#push-status", "the failure reason", |t| {
            t == "Failed: network 500: boom"
        })
        .await;
    browser.shot("network-push-failed").await;
    sim.lock().faults.clear();
    browser.click("#push-now").await;
    browser
        .text_until("#push-status", "sent", |t| t == "Sent")
        .await;

    // Auto-enroll toggle.
    browser.click("#auto-enroll").await;
    browser
        .text_until("#auto-enroll-status", "auto-enroll on", |t| {
            t == "Auto-enroll is on."
        })
        .await;
    assert_eq!(
        app.admin_get("/config/network").await.body["autoEnroll"],
        true
    );

    // Backfill, watched to the end.
    browser.click("#backfill-now").await;
    browser
        .text_until("#backfill-status", "the backfill done", |t| {
            t.starts_with("Done: 3 of 3 pushed")
        })
        .await;
    browser.shot("network-backfill-done").await;

    // A creator applies; approve from the panel (the Network federates it in).
    app.admin_post("/programs", json!({"name": "Creators", "destinationUrl": "https://shop.example.com/",
        "commission": {"type": "percent", "value": 10}, "shareOnNetwork": true, "marketplaceDescription": "Join"}))
        .await
        .assert_status(201);
    let vendor = app.admin_get("/config/network").await.body["vendorId"]
        .as_str()
        .unwrap()
        .to_string();
    let deadline = Instant::now() + Duration::from_secs(10);
    while sim.lock().vendors[&vendor].offerings.is_empty() {
        assert!(Instant::now() < deadline, "offering not published");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sim.apply(&vendor, None, "newcreator@example.com", "New Creator")
        .unwrap();
    web.goto(&app.url("/admin/network")).await.unwrap();
    browser
        .text_until("#requests-body", "the application", |t| {
            t.contains("New Creator")
        })
        .await;
    browser.shot("network-connected").await;
    browser.click("#requests-body button").await;
    browser
        .text_until("#requests-status", "approved", |t| {
            t.contains("approved and added as a partner")
        })
        .await;
    assert_eq!(
        app.admin_get("/partners?email=newcreator@example.com")
            .await
            .body["partners"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Partners: invite, then revoke with a reason.
    web.goto(&app.url("/admin/partners")).await.unwrap();
    browser.fill("#invite-email", "invitee@example.com").await;
    browser.fill("#invite-name", "Invitee").await;
    browser.click("#invite-button").await;
    browser
        .text_until("#invite-status", "invited", |t| {
            t.starts_with("Invited invitee@example.com")
        })
        .await;
    browser
        .text_until("#partners-body", "the new partner listed", |t| {
            t.contains("invitee@example.com")
        })
        .await;
    browser.fill("#search-email", "invitee@example.com").await;
    browser.click("#search-button").await;
    browser
        .text_until("#partners-body", "one row", |t| {
            t.contains("invitee@example.com") && !t.contains("roster0")
        })
        .await;
    browser
        .fill("#partners-body input[type=text]", "Broke the rules")
        .await;
    browser.click("#partners-body button.danger").await;
    browser
        .text_until("#partners-status", "revoked", |t| t.contains("revoked"))
        .await;
    browser.shot("partners").await;
    let p = app
        .admin_get("/partners?email=invitee@example.com")
        .await
        .body["partners"][0]
        .clone();
    assert_eq!(p["revokeReason"], "Broke the rules");
    // Its own page.
    web.goto(&app.url(&format!("/admin/partners/{}", p["id"].as_str().unwrap())))
        .await
        .unwrap();
    browser
        .text_until("#partner-details", "details", |t| {
            t.contains("invitee@example.com")
        })
        .await;
    browser.shot("partner").await;

    // Programs: create one shared on the Network.
    web.goto(&app.url("/admin/programs")).await.unwrap();
    browser.fill("#program-name", "Summer").await;
    browser
        .fill("#program-destination", "https://shop.example.com/summer")
        .await;
    browser.fill("#program-value", "12.5").await;
    browser.click("#program-share").await;
    browser
        .fill("#program-description", "Summer collection")
        .await;
    browser.click("#program-save").await;
    browser
        .text_until("#program-status", "created", |t| {
            t.starts_with("Created Summer")
        })
        .await;
    browser
        .text_until("#programs-body", "listed", |t| {
            t.contains("Summer") && t.contains("12.5 %")
        })
        .await;
    browser.shot("programs").await;

    // A phone-width layout.
    web.set_window_size(390, 844).await.unwrap();
    web.goto(&app.url("/admin/network")).await.unwrap();
    browser.visible("#connected").await;
    browser.shot("network-phone").await;
    browser.close().await;
}

both_backends!(admin_runs_the_program_from_the_console);
