use super::*;

async fn disputes_hold_release_and_reverse(b: Backend) {
    let (app, _sim) = spawn_with_stripe(b, &[]).await;
    let (pid, link) = partner(&app, "dispute@example.com", "cmp_default").await;
    let c = sold(&app, &link, "d1", 10_000).await;
    let e = send(
        &app,
        "evt_d1",
        "charge.dispute.created",
        dispute("dp_1", "in_d1", "needs_response"),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let v = commission(&app, &c).await;
    assert_eq!(v["status"], "on_hold");
    let held = app.admin_get("/commissions?status=on_hold").await;
    assert_eq!(
        held.assert_status(200)["commissions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Not approvable, not payable, in no balance.
    app.admin_post(&format!("/commissions/{c}/approve"), json!({"force": true}))
        .await
        .assert_error(409, "invalid_transition");
    let run = app
        .admin_post("/payouts/run", json!({"dryRun": true}))
        .await;
    assert_eq!(run.assert_status(200)["payouts"], json!([]));
    let bal = app.admin_get(&format!("/partners/{pid}/balance")).await;
    assert_eq!(bal.assert_status(200)["balances"][0]["accrued"], "0.00");
    // Won: back to what it was.
    let e = send(
        &app,
        "evt_d1w",
        "charge.dispute.closed",
        dispute("dp_1", "in_d1", "won"),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    assert_eq!(commission(&app, &c).await["status"], "accrued");
    // Another, lost: reversed.
    let c2 = sold(&app, &link, "d2", 10_000).await;
    app.admin_post(
        &format!("/commissions/{c2}/approve"),
        json!({"force": true}),
    )
    .await
    .assert_status(200);
    send(
        &app,
        "evt_d2",
        "charge.dispute.created",
        dispute("dp_2", "in_d2", "needs_response"),
    )
    .await;
    assert_eq!(commission(&app, &c2).await["status"], "on_hold");
    let e = send(
        &app,
        "evt_d2l",
        "charge.dispute.closed",
        dispute("dp_2", "in_d2", "lost"),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "recorded"));
    let v = commission(&app, &c2).await;
    assert_eq!(
        (v["status"].as_str(), v["reversedAmount"].as_str()),
        (Some("reversed"), Some("10.00"))
    );
    // Disputed after payout: nothing to hold; lost, it is clawed back.
    let c3 = sold(&app, &link, "d3", 20_000).await; // 20.00
    app.admin_post(
        &format!("/commissions/{c3}/approve"),
        json!({"force": true}),
    )
    .await
    .assert_status(200);
    let run = app.admin_post("/payouts/run", json!({})).await;
    let payout = run.assert_status(201)["payouts"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.admin_post(&format!("/payouts/{payout}/mark-paid"), json!({}))
        .await
        .assert_status(200);
    let e = send(
        &app,
        "evt_d3",
        "charge.dispute.created",
        dispute("dp_3", "in_d3", "needs_response"),
    )
    .await;
    assert_eq!(outcome(&e), ("ignored", "ignored"));
    assert_eq!(commission(&app, &c3).await["status"], "paid");
    send(
        &app,
        "evt_d3l",
        "charge.dispute.closed",
        dispute("dp_3", "in_d3", "lost"),
    )
    .await;
    assert_eq!(commission(&app, &c3).await["status"], "reversed");
    let bal = app.admin_get(&format!("/partners/{pid}/balance")).await;
    assert_eq!(bal.assert_status(200)["balances"][0]["clawback"], "20.00");
    // Redelivered: 200, nothing changes.
    post(
        &app,
        "evt_d2l",
        "charge.dispute.closed",
        dispute("dp_2", "in_d2", "won"),
    )
    .await;
    assert_eq!(commission(&app, &c2).await["status"], "reversed");
    // Out of order: the closure (won) arrives before the opening. No hold is left behind.
    let c4 = sold(&app, &link, "d4", 10_000).await;
    let e = send(
        &app,
        "evt_d4w",
        "charge.dispute.closed",
        dispute("dp_4", "in_d4", "won"),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "duplicate"));
    let e = send(
        &app,
        "evt_d4",
        "charge.dispute.created",
        dispute("dp_4", "in_d4", "needs_response"),
    )
    .await;
    assert_eq!(outcome(&e), ("processed", "duplicate"));
    assert_eq!(commission(&app, &c4).await["status"], "accrued");
}

both_backends!(disputes_hold_release_and_reverse,);
