//! The console's Commissions and Payouts pages in headless Chromium: filtering, approving one
//! or many (refused in the holdback unless forced), reversing with a reason; a payout run
//! previewed then confirmed, the CSV export, mark paid, cancel, and retrying a refused Stripe
//! transfer. Screenshots land in `target/screenshots/`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::both_backends;
use crate::console::open_signed_in;
use crate::helpers::{Backend, TestApp, spawn_app, spawn_with_stripe};

/// A partner named `name` with a link on `program`; returns (partner id, link key).
async fn partner_on(app: &TestApp, email: &str, name: &str, programs: &[&str]) -> (String, String) {
    let p = app
        .admin_post(
            "/partners",
            json!({"email": email, "name": name, "sendInvite": false, "programIds": programs}),
        )
        .await;
    let id = p.assert_status(201)["id"].as_str().unwrap().to_string();
    let key = format!("c-{}", &id[id.len() - 8..]).to_lowercase();
    app.create_link(&id, &key, programs[0]).await;
    (id, key)
}

/// A sale through the link; returns the commission id.
async fn sale(app: &TestApp, key: &str, ext: &str, value: &str) -> String {
    let click = app.click(key).await;
    app.sale(ext, value, &click).await.assert_status(201)["commission"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn commission(app: &TestApp, id: &str) -> Value {
    let list = app.admin_get("/commissions?limit=500").await;
    list.assert_status(200)["commissions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no commission {id}"))
}

async fn commissions_are_filtered_approved_and_reversed(b: Backend) {
    let app = spawn_app(b).await;
    let spring = app
        .admin_post(
            "/programs",
            json!({"name": "Spring launch", "destinationUrl": "https://brand.example/spring",
                   "commission": {"type": "percent", "value": "10"}, "holdbackDays": 14}),
        )
        .await
        .assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (ada, ada_key) = partner_on(&app, "ada@example.com", "Ada Lovelace", &[&spring]).await;
    let (_bob, bob_key) = partner_on(&app, "bob@example.com", "Bob Stone", &["cmp_default"]).await;
    let a1 = sale(&app, &ada_key, "ada-1", "100.00").await;
    let a2 = sale(&app, &ada_key, "ada-2", "50.00").await;
    let b1 = sale(&app, &bob_key, "bob-1", "80.00").await;

    // The API filters the page reads from.
    let by_program = app
        .admin_get(&format!("/commissions?programId={spring}"))
        .await;
    assert_eq!(
        by_program.assert_status(200)["commissions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let by_partner = app
        .admin_get(&format!("/commissions?partnerId={ada}"))
        .await;
    assert_eq!(
        by_partner.assert_status(200)["commissions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    app.admin_get("/commissions?programId=a%20b")
        .await
        .assert_error(400, "invalid_query");

    let browser = open_signed_in(b, &app, "commissions", "/admin/commissions").await;
    // Names, not ids: the partner's name and the program's.
    browser
        .text_until("#commissions-body", "three commissions with names", |t| {
            t.matches("accrued").count() == 3
                && t.contains("Ada Lovelace")
                && t.contains("Bob Stone")
                && t.contains("Spring launch")
        })
        .await;
    browser.shot("commissions-all").await;

    // Filter by partner (by email) and program.
    browser.fill("#filter-partner", "ada@example.com").await;
    browser.click("#filter-apply").await;
    browser
        .text_until("#commissions-body", "Ada's two", |t| {
            t.matches("Ada Lovelace").count() == 2 && !t.contains("Bob Stone")
        })
        .await;

    // Approve both: refused in the 14-day holdback, then forced.
    browser.click("#select-all").await;
    browser
        .text_until("#approve-selected", "two selected", |t| {
            t == "Approve 2 selected"
        })
        .await;
    browser.click("#approve-selected").await;
    browser
        .text_until("#commissions-status", "refused in the holdback", |t| {
            t.starts_with("Approved 0 of 2.") && t.contains("2 still in the holdback")
        })
        .await;
    assert_eq!(commission(&app, &a1).await["status"], "accrued");
    browser.click("#approve-force").await;
    browser.click("#select-all").await;
    browser.click("#approve-selected").await;
    browser
        .text_until("#commissions-status", "approved", |t| {
            t == "Approved 2 of 2."
        })
        .await;
    for id in [&a1, &a2] {
        let c = commission(&app, id).await;
        assert_eq!(c["status"], "approved");
        assert_eq!(c["approvalForced"], true);
    }
    browser
        .text_until("#commissions-body", "shown approved", |t| {
            t.matches("approved (forced)").count() == 2
        })
        .await;

    // Only accrued ones, everyone's: Bob's. One approval from its row (no holdback there).
    browser.fill("#filter-partner", "").await;
    browser.click("#approve-force").await;
    let status = browser.visible("#filter-status").await;
    status.select_by_value("accrued").await.unwrap();
    browser.click("#filter-apply").await;
    browser
        .text_until("#commissions-body", "Bob's only", |t| {
            t.contains("Bob Stone") && !t.contains("Ada Lovelace")
        })
        .await;
    browser
        .click("#commissions-body button[data-action='approve']")
        .await;
    browser
        .text_until("#commissions-status", "approved", |t| {
            t == "Approved 8.00 USD."
        })
        .await;
    assert_eq!(commission(&app, &b1).await["status"], "approved");

    // Reverse one of Ada's with a reason, from a dialog.
    status.select_by_value("").await.unwrap();
    let program = browser.visible("#filter-program").await;
    program.select_by_value(&spring).await.unwrap();
    browser.click("#filter-apply").await;
    browser
        .text_until("#commissions-body", "the program's two", |t| {
            t.matches("Ada Lovelace").count() == 2 && !t.contains("Bob Stone")
        })
        .await;
    browser
        .click(&format!(
            "#commissions-body tr[data-commission='{a2}'] button[data-action='reverse']"
        ))
        .await;
    browser.visible("#reverse-dialog").await;
    browser.fill("#reverse-reason", "refunded").await;
    browser.shot("commissions-reverse").await;
    browser.click("#reverse-confirm").await;
    browser
        .text_until("#commissions-status", "reversed", |t| {
            t.starts_with("Reversed 5.00 USD")
        })
        .await;
    assert_eq!(commission(&app, &a2).await["status"], "reversed");
    browser
        .text_until("#commissions-body", "shown reversed", |t| {
            t.contains("reversed")
        })
        .await;
    browser.shot("commissions-done").await;
    browser.close().await;
}

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
    commissions_are_filtered_approved_and_reversed,
    payouts_run_previewed_marked_paid_and_canceled,
    a_refused_stripe_payout_is_retried_from_the_console,
);
