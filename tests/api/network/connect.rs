use super::*;

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
    both_connect_flows_end_in_the_same_state,
    network_errors_during_connect_are_reported,
    the_vendor_token_never_leaves,
    there_is_no_disconnect,
);
