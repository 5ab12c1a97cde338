use super::*;

async fn payouts_run_previewed_marked_paid_and_canceled(b: Backend) {
    let app = spawn_app(b).await;
    let (ada, ada_key) =
        partner_on(&app, "ada@example.com", "Ada Lovelace", &["cmp_default"]).await;
    let (bob, bob_key) = partner_on(&app, "bob@example.com", "Bob Stone", &["cmp_default"]).await;
    for (key, ext, value) in [
        (&ada_key, "a1", "100.00"),
        (&ada_key, "a2", "20.00"),
        (&bob_key, "b1", "30.00"),
    ] {
        let id = sale(&app, key, ext, value).await;
        app.admin_post(&format!("/commissions/{id}/approve"), json!({}))
            .await
            .assert_status(200);
    }

    let browser = open_signed_in(b, &app, "payouts", "/admin/payouts").await;
    browser
        .text_until("#payouts-body", "no payouts yet", |t| {
            t.contains("No payouts")
        })
        .await;
    // The preview writes nothing.
    browser.click("#run-preview").await;
    browser
        .text_until("#preview-body", "both partners due", |t| {
            t.contains("Ada Lovelace")
                && t.contains("12.00 USD")
                && t.contains("Bob Stone")
                && t.contains("3.00 USD")
        })
        .await;
    browser
        .text_until("#run-confirm", "the confirm button", |t| {
            t == "Pay 2 payouts"
        })
        .await;
    browser.shot("payouts-preview").await;
    // The preview names the commissions each payout would take.
    let preview = app
        .admin_post("/payouts/run", json!({"dryRun": true}))
        .await;
    let ada_preview = preview.assert_status(200)["payouts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["partnerId"] == ada.as_str())
        .unwrap()
        .clone();
    assert_eq!(ada_preview["commissionIds"].as_array().unwrap().len(), 2);
    let none = app.admin_get("/payouts").await;
    assert!(
        none.assert_status(200)["payouts"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    browser.click("#run-confirm").await;
    browser
        .text_until("#run-status", "created", |t| {
            t == "2 payouts created; 2 to pay manually."
        })
        .await;
    browser
        .text_until("#payouts-body", "two pending", |t| {
            t.matches("pending").count() == 2
        })
        .await;
    let list = app.admin_get("/payouts").await;
    let payouts = list.assert_status(200)["payouts"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(payouts.len(), 2);
    let of = |pid: &str| {
        payouts.iter().find(|p| p["partnerId"] == pid).unwrap()["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    let (ada_payout, bob_payout) = (of(&ada), of(&bob));

    // The CSV export is a link the browser downloads with its session.
    let href = browser
        .visible("#export-csv")
        .await
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(href, "/payouts/export.csv?status=pending");
    let csv: String = browser
        .client
        .execute_async(
            "const done = arguments[0]; fetch('/payouts/export.csv?status=pending', {credentials: 'same-origin'}).then((r) => r.text()).then(done, (e) => done('failed: ' + e));",
            vec![],
        )
        .await
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        csv.starts_with("payout_id,partner_id,email,name,amount,currency,method"),
        "{csv}"
    );
    assert!(
        csv.contains(&format!(
            "{ada_payout},{ada},ada@example.com,Ada Lovelace,12.00,USD,manual"
        )),
        "{csv}"
    );

    // Mark Ada's paid with a reference, asked for in a dialog.
    let row = format!("#payouts-body tr[data-payout='{ada_payout}']");
    browser
        .click(&format!("{row} button[data-action='mark-paid']"))
        .await;
    browser.visible("#payout-dialog").await;
    browser.fill("#payout-reference", "PAYPAL-BATCH-7").await;
    browser.shot("payouts-mark-paid").await;
    browser.click("#payout-dialog-confirm").await;
    browser
        .text_until("#payouts-status", "marked paid", |t| {
            t == "Marked 12.00 USD paid."
        })
        .await;
    let paid = app.admin_get(&format!("/payouts/{ada_payout}")).await;
    assert_eq!(paid.assert_status(200)["status"], "paid");
    assert_eq!(paid.body["reference"], "PAYPAL-BATCH-7");

    // Cancel Bob's: asked first (going back changes nothing); its commission is free again.
    let row = format!("#payouts-body tr[data-payout='{bob_payout}']");
    browser
        .click(&format!("{row} button[data-action='cancel']"))
        .await;
    browser.visible("#payout-dialog").await;
    browser.click("#payout-dialog-cancel").await;
    assert_eq!(
        app.admin_get(&format!("/payouts/{bob_payout}")).await.body["status"],
        "pending"
    );
    browser
        .click(&format!("{row} button[data-action='cancel']"))
        .await;
    browser.click("#payout-dialog-confirm").await;
    browser
        .text_until("#payouts-status", "canceled", |t| t.starts_with("Canceled"))
        .await;
    assert_eq!(
        app.admin_get(&format!("/payouts/{bob_payout}")).await.body["status"],
        "canceled"
    );
    browser
        .text_until("#payouts-body", "the outcomes listed", |t| {
            t.contains("PAYPAL-BATCH-7") && t.contains("canceled")
        })
        .await;
    browser.shot("payouts-list").await;
    // Bob's balance, looked up by email: approved again, nothing in a payout.
    browser.fill("#balance-partner", "bob@example.com").await;
    browser.click("#balance-show").await;
    browser
        .text_until("#balance-body", "Bob's balance", |t| {
            t.starts_with("USD 0.00 3.00 0.00 0.00")
        })
        .await;
    browser.click("#run-preview").await;
    browser
        .text_until("#preview-body", "Bob due again", |t| {
            t.contains("Bob Stone") && t.contains("3.00 USD") && !t.contains("Ada")
        })
        .await;
    browser.close().await;
}

async fn a_refused_stripe_payout_is_retried_from_the_console(b: Backend) {
    let (app, sim) = spawn_with_stripe(b, &[]).await;
    sim.set_balance("usd", 0);
    crate::payouts_stripe::payable(&app, "sam@example.com", "40.00").await;
    let run = app.admin_post("/payouts/run", json!({})).await;
    let payout = run.assert_status(201)["payouts"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    eventually(&app, &format!("/payouts/{payout}"), |p| {
        p["status"] == "failed"
    })
    .await;

    let browser = open_signed_in(b, &app, "payouts-stripe", "/admin/payouts").await;
    let row = format!("#payouts-body tr[data-payout='{payout}']");
    browser
        .text_until(&row, "the refusal shown", |t| {
            t.contains("failed") && t.contains("balance_insufficient")
        })
        .await;
    browser.shot("payouts-failed").await;
    sim.set_balance("usd", 1_000_000);
    browser
        .click(&format!("{row} button[data-action='retry']"))
        .await;
    browser
        .text_until("#payouts-status", "retried", |t| {
            t.starts_with("Retry: processing") || t.starts_with("Paid")
        })
        .await;
    eventually(&app, &format!("/payouts/{payout}"), |p| {
        p["status"] == "paid"
    })
    .await;
    browser.click("#payouts-refresh").await;
    browser
        .text_until(&row, "paid", |t| t.contains("paid") && t.contains("tr_"))
        .await;
    browser.close().await;
}

/// Polls an admin GET until `want` holds (bounded), sending due Stripe payouts meanwhile.
async fn eventually(app: &TestApp, path: &str, want: impl Fn(&Value) -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        openpartner::service::payouts::send_due(&app.state)
            .await
            .unwrap();
        let a = app.admin_get(path).await;
        if want(&a.body) {
            return;
        }
        assert!(Instant::now() < deadline, "{path}: {}", a.text);
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

both_backends!(
    payouts_run_previewed_marked_paid_and_canceled,
    a_refused_stripe_payout_is_retried_from_the_console,
);
