use super::*;

async fn push_now_reports_each_failure_exactly(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    let a = app.admin_post("/admin/network/heartbeat", json!({})).await;
    assert_eq!(
        a.assert_status(200),
        &json!({"sent": false, "reason": "network_not_configured"})
    );
    let vendor = app.connect_hosted().await;
    app.create_partner("one@example.com", false).await;
    let p2 = app.create_partner("two@example.com", false).await;
    app.create_partner("three@example.com", true).await;
    app.admin_post(
        &format!("/partners/{}/revoke", p2["id"].as_str().unwrap()),
        json!({"notify": false}),
    )
    .await;
    app.heartbeat_idle().await;

    let a = app.admin_post("/admin/network/heartbeat", json!({})).await;
    assert_eq!(
        a.assert_status(200),
        &json!({"sent": true, "partnerCount": 2}),
        "pending included, revoked not"
    );
    let last = sim.heartbeats(&vendor).last().cloned().unwrap();
    assert_eq!(last["partnerCount"], 2);
    assert_eq!(last["logoUrl"], "");

    sim.inject(Fault {
        count: 1,
        path: Some("/vendors/me/heartbeat".into()),
        status: Some(401),
        body: Some(r#"{"error":"invalid_token"}"#.into()),
        ..Default::default()
    });
    let a = app.admin_post("/admin/network/heartbeat", json!({})).await;
    assert_eq!(
        a.body,
        json!({"sent": false, "reason": r#"network 401: {"error":"invalid_token"}"#})
    );
    let long = "x".repeat(300);
    sim.inject(Fault {
        count: 1,
        status: Some(500),
        body: Some(format!("boom: {long}")),
        ..Default::default()
    });
    let a = app.admin_post("/admin/network/heartbeat", json!({})).await;
    let reason = a.body["reason"].as_str().unwrap().to_string();
    assert_eq!(
        reason,
        format!("network 500: boom: {}", &long[..194]),
        "first 200 chars of the body"
    );
    sim.inject(Fault {
        count: 1,
        drop: Some(true),
        ..Default::default()
    });
    let a = app.admin_post("/admin/network/heartbeat", json!({})).await;
    assert_eq!(a.body["sent"], false);
    assert!(
        a.body["reason"]
            .as_str()
            .unwrap()
            .starts_with("network_unreachable: "),
        "{}",
        a.body
    );
    // The local count failing is named as such.
    sqlx::query("ALTER TABLE partner_counts RENAME TO partner_counts_away")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    let a = app.admin_post("/admin/network/heartbeat", json!({})).await;
    sqlx::query("ALTER TABLE partner_counts_away RENAME TO partner_counts")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(a.body["sent"], false);
    assert!(
        a.body["reason"]
            .as_str()
            .unwrap()
            .starts_with("local_partner_count_failed: "),
        "{}",
        a.body
    );
    // The count follows a reinstatement (it is kept by triggers, not recounted).
    app.admin_post(
        &format!("/partners/{}/reinstate", p2["id"].as_str().unwrap()),
        json!({}),
    )
    .await
    .assert_status(200);
    app.heartbeat_idle().await;
    let a = app.admin_post("/admin/network/heartbeat", json!({})).await;
    assert_eq!(a.body, json!({"sent": true, "partnerCount": 3}));
    app.admin_post(
        &format!("/partners/{}/revoke", p2["id"].as_str().unwrap()),
        json!({"notify": false}),
    )
    .await;
    sqlx::query("ALTER TABLE partner_counts RENAME TO partner_counts_away")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    app.admin_post("/admin/network/heartbeat", json!({})).await;
    sqlx::query("ALTER TABLE partner_counts_away RENAME TO partner_counts")
        .execute(app.state.db.pool())
        .await
        .unwrap();
    // The result is recorded (read without triggering another heartbeat)...
    let network = db::network::get(app.state.db.pool()).await.unwrap();
    assert_eq!(network.last_heartbeat_sent, Some(false));
    assert!(
        network
            .last_heartbeat_reason
            .unwrap()
            .starts_with("local_partner_count_failed")
    );
    // ...and the panel shows the last result (its own load fires a fresh one meanwhile).
    let me = app.admin_get("/admin/network/me").await;
    let hb = &me.body["lastHeartbeat"];
    assert!(hb["at"].is_string());
    assert!(hb["sent"].is_boolean());
}

async fn each_panel_load_fires_one_background_heartbeat(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    let a = app.admin_get("/admin/network/me").await;
    assert_eq!(a.assert_status(200), &json!({"connected": false}));
    let vendor = app.connect_hosted().await;
    app.heartbeat_idle().await;
    let count = || sim.heartbeats(&vendor).len();
    for _ in 0..3 {
        let before = count();
        let a = app.admin_get("/admin/network/me").await;
        let me = a.assert_status(200);
        assert_eq!(me["connected"], true);
        assert_eq!(me["vendorId"], vendor.as_str());
        assert_eq!(me["status"], "active");
        assert_eq!(me["network"]["status"], "active");
        assert_eq!(me["networkHost"], "127.0.0.1");
        eventually("the load's heartbeat", || count() == before + 1).await;
        app.heartbeat_idle().await;
        assert_eq!(count(), before + 1, "exactly one per load");
    }
    // A burst while the Network is slow: one in flight, the rest coalesce into one more.
    sim.inject(Fault {
        count: 10,
        path: Some("/vendors/me/heartbeat".into()),
        delay_ms: Some(300),
        ..Default::default()
    });
    let before = count();
    let loads = app
        .concurrently(
            10,
            Method::GET,
            "/admin/network/me",
            Some(&app.admin_key),
            |_| None,
        )
        .await;
    assert!(loads.iter().all(|a| a.status == 200));
    eventually("the burst's heartbeat", || count() > before).await;
    app.heartbeat_idle().await;
    let sent = count() - before;
    assert!(
        (1..=2).contains(&sent),
        "{sent} heartbeats for a burst of 10 loads"
    );
    // The suspended status is shown.
    sim.set_status(&vendor, "suspended");
    let me = app.admin_get("/admin/network/me").await;
    assert_eq!(me.body["status"], "suspended");
}

async fn logo_upload_is_validated_and_announced(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    let vendor = app.connect_hosted().await;
    app.heartbeat_idle().await;
    let png: Vec<u8> = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDRfake-but-starts-right".to_vec();
    let upload = |ct: &'static str, body: Vec<u8>| {
        app.client
            .post(app.url("/uploads/logo"))
            .bearer_auth(&app.admin_key)
            .header("content-type", ct)
            .body(body)
            .send()
    };
    let a = crate::helpers::answer(upload("image/png", png.clone()).await.unwrap()).await;
    let url = a.assert_status(200)["logoUrl"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(url.starts_with("http://localhost:8080/uploads/logo?v="));
    eventually("a heartbeat carrying the logo", || {
        sim.heartbeats(&vendor)
            .iter()
            .any(|h| h["logoUrl"] == url.as_str())
    })
    .await;
    let res = app
        .client
        .get(app.url("/uploads/logo"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["content-type"], "image/png");
    assert_eq!(res.bytes().await.unwrap().to_vec(), png);

    let a = crate::helpers::answer(upload("text/plain", png.clone()).await.unwrap()).await;
    a.assert_error(415, "unsupported_media_type");
    let a = crate::helpers::answer(upload("image/jpeg", png.clone()).await.unwrap()).await;
    a.assert_error(400, "invalid_image");
    let a = crate::helpers::answer(
        upload("image/png", b"<svg onload=alert(1)>".to_vec())
            .await
            .unwrap(),
    )
    .await;
    a.assert_error(400, "invalid_image");
    let mut big = png.clone();
    big.resize(2 * 1024 * 1024 + 1, 0);
    let a = crate::helpers::answer(upload("image/png", big).await.unwrap()).await;
    a.assert_error(413, "payload_too_large");
    let mut ok_big = png.clone();
    ok_big.resize(2 * 1024 * 1024, 0);
    crate::helpers::answer(upload("image/png", ok_big).await.unwrap())
        .await
        .assert_status(200);
    let webp = b"RIFF\0\0\0\0WEBPVP8 ".to_vec();
    crate::helpers::answer(upload("image/webp", webp).await.unwrap())
        .await
        .assert_status(200);
    let key = app.scoped_key(&["partners:write"]).await;
    let res = app
        .client
        .post(app.url("/uploads/logo"))
        .bearer_auth(key)
        .header("content-type", "image/png")
        .body(png)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
}

async fn cron_fires_once_per_slot_across_two_instances(b: Backend) {
    let every_2s = [("OPENPARTNER_HEARTBEAT_CRON", "*/2 * * * * *")];
    let (app, sim) = spawn_with_network(b, true, &every_2s).await;
    let env: Vec<(String, String)> = app.env.clone().into_iter().collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let replica = spawn_replica(b, &env).await;
    let vendor = app.connect_hosted().await;
    app.heartbeat_idle().await;
    let slots = || async {
        use sqlx::Row;
        sqlx::query("SELECT COUNT(*) FROM job_slots WHERE job = 'heartbeat'")
            .fetch_one(app.state.db.pool())
            .await
            .unwrap()
            .get::<i64, _>(0)
    };
    let start_slots = slots().await;
    let start_beats = sim.heartbeats(&vendor).len() as i64;
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    loop {
        let claimed = slots().await - start_slots;
        let beats = sim.heartbeats(&vendor).len() as i64 - start_beats;
        assert!(
            beats <= claimed + 1,
            "{beats} heartbeats for {claimed} slots: a slot fired twice"
        );
        if claimed >= 3 && beats == claimed {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "cron did not fire: {claimed} slots, {beats} heartbeats"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(replica);
}

both_backends!(
    push_now_reports_each_failure_exactly,
    each_panel_load_fires_one_background_heartbeat,
    logo_upload_is_validated_and_announced,
    cron_fires_once_per_slot_across_two_instances,
);
