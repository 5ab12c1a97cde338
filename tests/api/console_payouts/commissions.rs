use super::*;

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

both_backends!(commissions_are_filtered_approved_and_reversed,);
