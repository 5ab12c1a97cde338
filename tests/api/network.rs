//! The Network connection against the simulator: both connect flows, the token kept secret,
//! push-now failure reasons, background heartbeats, logo upload, the cron's slots across two
//! instances, offerings, and the deliberate absence of a disconnect.

use std::time::Duration;

use openpartner::db;
use openpartner::network_sim::Fault;
use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{
    ADMIN_EMAIL, Backend, TestApp, captured_logs, eventually, spawn_replica, spawn_with_network,
};

async fn both_connect_flows_end_in_the_same_state(b: Backend) {
    // Hosted one-click.
    let (hosted, sim) = spawn_with_network(b, true, &[]).await;
    let vendor = hosted.connect_hosted().await;
    let cfg = hosted.admin_get("/config/network").await;
    let c = cfg.assert_status(200).clone();
    assert_eq!(c["enabled"], true);
    assert_eq!(c["vendorId"], vendor.as_str());
    assert_eq!(c["hasVendorToken"], true);
    assert_eq!(c["tier"], "hosted");
    assert_eq!(c["networkHost"], "127.0.0.1");
    assert_eq!(c["autoEnroll"], false);
    let key_id = c["scopedKeyId"].as_str().unwrap().to_string();
    // The Network holds a federation key with exactly the protocol's scopes.
    let fed = sim.lock().vendors[&vendor].scoped_key.clone();
    let a = hosted.get("/auth/introspect", &fed).await;
    assert_eq!(
        a.assert_status(200),
        &json!({"role": "scoped", "scopes": ["partners:read", "partners:write", "links:write", "commissions:read", "clicks:write"]})
    );
    let registered = sim.lock().vendors[&vendor].clone();
    assert_eq!(registered.status, "active");
    assert_eq!(registered.tier, "hosted");
    assert_eq!(
        registered.portal_callback_url,
        "http://localhost:8080/admin/network/complete"
    );
    assert_eq!(registered.instance_url, "http://localhost:8080");
    // The contact is the configured admin, never the no-reply sender; no name, no `null`.
    assert_eq!(registered.contact_email, ADMIN_EMAIL);
    assert_eq!(registered.contact_name, None);

    // Self-host email verify.
    let (own, sim2) = spawn_with_network(b, false, &[]).await;
    own.admin_post("/config/network/auto-enroll", json!({}))
        .await
        .assert_error(503, "admin_token_not_configured");
    let a = own
        .admin_post("/config/network/start-connect", json!({"contactEmail": "Ops@Brand.example", "contactName": "Ops", "displayName": "Brand Co"}))
        .await;
    let started = a.assert_status(202).clone();
    assert_eq!(started["status"], "pending");
    assert_eq!(started["emailSent"], true);
    assert_eq!(
        own.admin_get("/config/network").await.body["enabled"],
        false
    );
    let verification = sim2.lock().verifications[0].clone();
    assert_eq!(verification.email, "ops@brand.example");
    assert!(
        verification
            .link
            .starts_with("http://localhost:8080/admin/network/complete?ntoken=")
    );
    // The emailed link opens a page; its button posts the token.
    let page = own
        .client
        .get(own.url(&format!(
            "/admin/network/complete?ntoken={}",
            verification.token
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(&verification.token) && html.contains("/config/network/complete-connect")
    );
    // Only an admin completes it.
    own.call(
        Method::POST,
        "/config/network/complete-connect",
        None,
        Some(json!({"ntoken": verification.token})),
    )
    .await
    .assert_error(401, "unauthorized");
    assert_eq!(
        own.admin_get("/config/network").await.body["pendingVendorId"],
        started["vendorId"]
    );
    let a = own
        .admin_post(
            "/config/network/complete-connect",
            json!({"ntoken": verification.token}),
        )
        .await;
    let done = a.assert_status(200).clone();
    assert_eq!(
        done,
        json!({"ok": true, "vendorId": started["vendorId"], "displayName": "Brand Co"})
    );
    let c2 = own.admin_get("/config/network").await.body.clone();
    assert_eq!(c2["enabled"], true);
    assert_eq!(c2["hasVendorToken"], true);
    assert_eq!(c2["tier"], "self_hosted");
    let own_vendor = c2["vendorId"].as_str().unwrap().to_string();
    let fed2 = sim2.lock().vendors[&own_vendor].scoped_key.clone();
    own.get("/auth/introspect", &fed2).await.assert_status(200);
    // Same keys, same meaning, in both states.
    let keys = |v: &serde_json::Value| v.as_object().unwrap().keys().cloned().collect::<Vec<_>>();
    assert_eq!(keys(&c), keys(&c2));
    // A used token cannot be replayed: nothing awaits it any more.
    own.admin_post(
        "/config/network/complete-connect",
        json!({"ntoken": verification.token}),
    )
    .await
    .assert_error(409, "no_pending_connect");

    // Reconnecting revokes the previous federation key.
    let again = hosted.connect_hosted().await;
    assert_ne!(again, vendor);
    hosted
        .get("/auth/introspect", &fed)
        .await
        .assert_error(401, "unauthorized");
    let new_fed = sim.lock().vendors[&again].scoped_key.clone();
    hosted
        .get("/auth/introspect", &new_fed)
        .await
        .assert_status(200);
    assert_ne!(
        hosted.admin_get("/config/network").await.body["scopedKeyId"],
        key_id.as_str()
    );
}

/// Every scoped key (the federation keys minted for connect attempts) is revoked.
async fn assert_no_live_scoped_key(app: &TestApp) {
    let keys = app.admin_get("/api-keys").await.body["apiKeys"].clone();
    assert!(
        keys.as_array()
            .unwrap()
            .iter()
            .filter(|k| k["kind"] == "scoped")
            .all(|k| k["revokedAt"].is_string())
    );
}

async fn network_errors_during_connect_are_reported(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    sim.inject(Fault {
        count: 1,
        path: Some("/vendors/signup".into()),
        status: Some(500),
        body: Some("signup exploded".into()),
        ..Default::default()
    });
    let a = app
        .admin_post("/config/network/auto-enroll", json!({}))
        .await;
    let e = a.assert_error(502, "network_signup_failed");
    assert_eq!(e["detail"], "500: signup exploded");
    // The key minted for the failed attempt is revoked; nothing is connected.
    assert_no_live_scoped_key(&app).await;
    assert_eq!(
        app.admin_get("/config/network").await.body["enabled"],
        false
    );
    let a = app
        .admin_post(
            "/config/network/start-connect",
            json!({"contactEmail": "not an email"}),
        )
        .await;
    a.assert_error(400, "invalid_body");
    // The Network refusing the contact is the caller's input, a 4xx with the Network's answer;
    // the key minted for the attempt is revoked all the same.
    sim.inject(Fault {
        count: 1,
        path: Some("/vendors/signup".into()),
        status: Some(422),
        body: Some(r#"{"error":"invalid_email"}"#.into()),
        ..Default::default()
    });
    let a = app
        .admin_post(
            "/config/network/start-connect",
            json!({"contactEmail": "someone@example.com"}),
        )
        .await;
    let e = a.assert_error(400, "network_signup_refused");
    assert_eq!(e["networkStatus"], 422);
    assert!(e["detail"].as_str().unwrap().contains("invalid_email"));
    assert_no_live_scoped_key(&app).await;
    // Without an encryption key there is no connecting.
    let (plain, _) = spawn_with_network(b, true, &[("SECRETS_ENCRYPTION_KEY", "")]).await;
    plain
        .admin_post("/config/network/auto-enroll", json!({}))
        .await
        .assert_error(503, "encryption_key_not_configured");
    // Admin only.
    let key = app.scoped_key(&["partners:write"]).await;
    app.post("/config/network/auto-enroll", &key, json!({}))
        .await
        .assert_error(403, "forbidden");
    app.get("/admin/network/me", &key)
        .await
        .assert_error(403, "forbidden");
}

async fn the_vendor_token_never_leaves(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    let vendor = app.connect_hosted().await;
    let token = sim.lock().vendors[&vendor].token.clone().unwrap();
    app.admin_post("/admin/network/heartbeat", json!({}))
        .await
        .assert_status(200);
    sim.inject(Fault {
        count: 1,
        status: Some(401),
        body: Some(r#"{"error":"invalid_token"}"#.into()),
        ..Default::default()
    });
    app.admin_post("/admin/network/heartbeat", json!({}))
        .await
        .assert_status(200);
    let mut seen = String::new();
    for path in [
        "/config/network",
        "/admin/network/me",
        "/api-keys",
        "/openapi.json",
        "/audit-log?limit=200",
    ] {
        seen.push_str(&app.admin_get(path).await.text);
    }
    // Each "push now" is in the audit log, the one the Network refused too.
    let pushes = app.audit_rows("network.heartbeat").await;
    // (Which push met the refusal depends on the background heartbeat the reads above fire.)
    assert_eq!(pushes.len(), 2, "{pushes:?}");
    assert!(
        pushes
            .iter()
            .all(|r| r["changes"]["sent"]["after"].is_boolean()),
        "{pushes:?}"
    );
    assert!(pushes.iter().all(|r| r["actorLabel"] == "test admin"));
    app.heartbeat_idle().await;
    assert!(
        !seen.contains(&token),
        "the vendor token appeared in a response"
    );
    assert!(
        !captured_logs().contains(&token),
        "the vendor token appeared in a log line"
    );
    use sqlx::Row;
    let stored: String = sqlx::query("SELECT vendor_token_enc FROM network_connection")
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .get(0);
    assert!(
        stored.starts_with("v1:") && !stored.contains(&token),
        "stored encrypted"
    );
}

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

async fn a_reconnect_publishes_offerings_anew(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    let first = app.connect_hosted().await;
    let program = app
        .admin_post(
            "/programs",
            json!({"name": "Shared", "destinationUrl": "https://shop.example.com",
            "commission": {"type": "percent", "value": 10}, "shareOnNetwork": true,
            "marketplaceDescription": "Shared program",
            "commissionRules": [{"trigger": "first", "type": "percent", "value": 30},
                                {"trigger": "subsequent", "type": "percent", "value": 10}]}),
        )
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let offerings = |vendor: &str| {
        sim.lock()
            .vendors
            .get(vendor)
            .map(|v| v.offerings.clone())
            .unwrap_or_default()
    };
    eventually("published to the first vendor", || {
        offerings(&first).len() == 1
    })
    .await;
    // The offering terms carry the rule set and the legacy mirror.
    let terms = offerings(&first)[0]["terms"].clone();
    assert_eq!(terms["commissionRules"][0]["trigger"], "first");
    assert_eq!(terms["commissionRules"][0]["value"], json!(30));
    assert_eq!(terms["payoutHoldbackDays"], json!(0));
    // Connected again, as another vendor: its old offering id means nothing there.
    let second = app.connect_hosted().await;
    assert_ne!(first, second);
    // A background sync may hold the lease: keep asking until it is published (bounded).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while std::time::Instant::now() < deadline {
        openpartner::network::offerings::sync(&app.state)
            .await
            .unwrap();
        if offerings(&second)
            .iter()
            .any(|o| o["vendorProgramId"] == program.as_str())
        {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        offerings(&second)
            .iter()
            .any(|o| o["vendorProgramId"] == program.as_str()),
        "the program is published to the new vendor"
    );
}

async fn offerings_follow_share_on_network(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    // Shared before connecting: published on connect.
    let early = app
        .admin_post("/programs", json!({"name": "Early", "destinationUrl": "https://shop.example.com", "commission": {"type": "percent", "value": 10},
            "shareOnNetwork": true, "marketplaceDescription": "Our first program"}))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let vendor = app.connect_hosted().await;
    let offerings = || sim.lock().vendors[&vendor].offerings.clone();
    eventually("the early program published", || {
        offerings()
            .iter()
            .any(|o| o["vendorProgramId"] == early.as_str())
    })
    .await;
    let o = offerings()[0].clone();
    assert_eq!(o["title"], "Early");
    assert_eq!(o["description"], "Our first program");
    assert_eq!(o["published"], true);
    assert_eq!(o["terms"]["commissionValue"], "10");
    let path = format!("/programs/{early}");
    let get_offering_id = || async { app.admin_get(&path).await.body["networkOfferingId"].clone() };
    let mut offering_id = get_offering_id().await;
    for _ in 0..200 {
        if offering_id.is_string() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        offering_id = get_offering_id().await;
    }
    assert_eq!(offering_id, o["id"]);

    // Turning sharing off unpublishes; editing updates.
    app.call(
        Method::PATCH,
        &path,
        Some(&app.admin_key),
        Some(json!({"shareOnNetwork": false})),
    )
    .await
    .assert_status(200);
    eventually("unpublished", || offerings()[0]["published"] == false).await;
    app.call(
        Method::PATCH,
        &path,
        Some(&app.admin_key),
        Some(json!({"shareOnNetwork": true, "name": "Early 2"})),
    )
    .await
    .assert_status(200);
    eventually("republished with the new title", || {
        offerings()[0]["published"] == true && offerings()[0]["title"] == "Early 2"
    })
    .await;
    assert_eq!(offerings().len(), 1, "updated in place, not duplicated");

    // A Network failure never fails the save; the job retries it.
    sim.inject(Fault {
        count: 1,
        path: Some("/vendors/me/offerings".into()),
        status: Some(503),
        ..Default::default()
    });
    let a = app
        .admin_post("/programs", json!({"name": "Late", "destinationUrl": "https://shop.example.com", "commission": {"type": "fixed", "value": "3"},
            "shareOnNetwork": true, "marketplaceDescription": "Second"}))
        .await;
    let late = a.assert_status(201)["id"].as_str().unwrap().to_string();
    eventually("the failed attempt happened", || {
        sim.calls_to("/vendors/me/offerings") >= 4
    })
    .await;
    eventually("fault consumed", || sim.lock().faults.is_empty()).await;
    // The failed sync gives its claim back just after the Network answered; until then the
    // job leaves the program to it. The job then publishes it.
    let published = || {
        offerings().iter().any(|o| {
            o["vendorProgramId"] == late.as_str() && o["terms"]["commissionValue"] == "3.00"
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while !published() {
        assert!(
            std::time::Instant::now() < deadline,
            "the job never published the late program"
        );
        openpartner::network::sync_job(&app.state).await;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn there_is_no_disconnect(b: Backend) {
    let (app, _sim) = spawn_with_network(b, true, &[]).await;
    app.connect_hosted().await;
    let a = app
        .call(
            Method::DELETE,
            "/config/network",
            Some(&app.admin_key),
            None,
        )
        .await;
    let body = a.assert_error(405, "method_not_allowed");
    assert!(body["detail"].as_str().unwrap().contains("shareOnNetwork"));
    assert!(body["detail"].as_str().unwrap().contains("support"));
    let a = app
        .admin_post("/config/network", json!({"autoEnroll": true}))
        .await;
    assert_eq!(a.assert_status(200)["autoEnroll"], true);
    assert_eq!(
        app.admin_get("/config/network").await.body["autoEnroll"],
        true
    );
    app.admin_post("/config/network", json!({"autoEnroll": "yes"}))
        .await
        .assert_error(400, "invalid_body");
}

both_backends!(
    a_reconnect_publishes_offerings_anew,
    both_connect_flows_end_in_the_same_state,
    network_errors_during_connect_are_reported,
    the_vendor_token_never_leaves,
    push_now_reports_each_failure_exactly,
    each_panel_load_fires_one_background_heartbeat,
    logo_upload_is_validated_and_announced,
    cron_fires_once_per_slot_across_two_instances,
    offerings_follow_share_on_network,
    there_is_no_disconnect,
);
