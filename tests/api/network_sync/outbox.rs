use super::*;

fn outage(sim: &openpartner::network_sim::NetworkSim) {
    sim.inject(Fault {
        count: 100_000,
        path: Some("/partners/upsert".into()),
        status: Some(503),
        body: Some("down for maintenance".into()),
        ..Default::default()
    });
}

async fn auto_enroll_pushes_new_partners_with_dedup(b: Backend) {
    let (app, sim) =
        spawn_with_network(b, true, &[("OPENPARTNER_RATE_LIMIT_PER_MINUTE", "1000")]).await;
    app.connect_hosted().await;
    // Off: nothing is pushed.
    let quiet = app.create_partner("quiet@example.com", false).await;
    assert!(upserts_for(&sim, quiet["id"].as_str().unwrap()).is_empty());
    assert!(quiet["metadata"].get("network").is_none());

    set_auto_enroll(&app, true).await;
    let a = app
        .admin_post(
            "/partners",
            json!({"email": "fresh@example.com", "name": "Fresh"}),
        )
        .await;
    let fresh = a.assert_status(201).clone();
    let id = fresh["id"].as_str().unwrap();
    let pushed = upserts_for(&sim, id);
    assert_eq!(pushed.len(), 1);
    assert_eq!(pushed[0]["email"], "fresh@example.com");
    assert_eq!(pushed[0]["status"], "pending", "invited, not yet accepted");
    assert_eq!(pushed[0]["metadata"]["source"], "admin_invite");
    assert!(pushed[0]["joinedVendorAt"].is_string());
    let net = &fresh["metadata"]["network"];
    assert!(net["networkCreatorId"].as_str().unwrap().starts_with("nc_"));
    assert_eq!(net["preExisting"], false);
    assert_eq!(net["affiliations"], 1);

    // A creator already known from another vendor comes back pre-existing: one identity.
    sim.seed_creator("known@example.com", "Known Creator");
    let a = app
        .admin_post(
            "/partners",
            json!({"email": "Known@Example.com", "name": "Known", "sendInvite": false}),
        )
        .await;
    let known = a.assert_status(201).clone();
    assert_eq!(known["metadata"]["network"]["preExisting"], true);
    assert_eq!(known["metadata"]["network"]["affiliations"], 2);
    let creator = sim.lock().creators["known@example.com"].id.clone();
    assert_eq!(
        known["metadata"]["network"]["networkCreatorId"],
        creator.as_str()
    );
    assert_eq!(
        upserts_for(&sim, known["id"].as_str().unwrap())[0]["status"],
        "active"
    );
    // Visible on later reads too.
    let got = app
        .admin_get(&format!("/partners/{}", known["id"].as_str().unwrap()))
        .await;
    assert_eq!(got.body["metadata"]["network"]["preExisting"], true);

    // Self-signup is pushed as such.
    let a = app
        .call(
            Method::POST,
            "/partner-signup",
            None,
            Some(json!({"email": "self@example.com", "name": "Self"})),
        )
        .await;
    a.assert_status(201);
    let sid = app.partner_id_by_email("self@example.com").await;
    assert_eq!(
        upserts_for(&sim, &sid)[0]["metadata"]["source"],
        "self_signup"
    );

    // Revoke and reinstate are pushed even with auto-enroll off.
    set_auto_enroll(&app, false).await;
    let qid = quiet["id"].as_str().unwrap();
    app.admin_post(&format!("/partners/{qid}/revoke"), json!({"notify": false}))
        .await
        .assert_status(200);
    let pushes = upserts_for(&sim, qid);
    assert_eq!(pushes.len(), 1);
    assert_eq!(pushes[0]["status"], "revoked");
    assert!(pushes[0]["revokedAt"].is_string());
    app.admin_post(&format!("/partners/{qid}/reinstate"), json!({}))
        .await
        .assert_status(200);
    assert_eq!(upserts_for(&sim, qid).last().unwrap()["status"], "active");
}

async fn an_outage_loses_nothing_and_delivers_final_states_in_order(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    app.connect_hosted().await;
    set_auto_enroll(&app, true).await;
    outage(&sim);
    // Every call succeeds although the Network is down.
    let a = app.create_partner("flip@example.com", false).await;
    let a_id = a["id"].as_str().unwrap().to_string();
    assert!(a["metadata"].get("network").is_none());
    app.clock.advance(Duration::from_secs(60));
    app.admin_post(
        &format!("/partners/{a_id}/revoke"),
        json!({"notify": false, "reason": "first"}),
    )
    .await
    .assert_status(200);
    app.clock.advance(Duration::from_secs(60));
    app.admin_post(&format!("/partners/{a_id}/reinstate"), json!({}))
        .await
        .assert_status(200);
    app.clock.advance(Duration::from_secs(60));
    app.admin_post(
        &format!("/partners/{a_id}/revoke"),
        json!({"notify": false, "reason": "final"}),
    )
    .await
    .assert_status(200);
    let b_partner = app.create_partner("steady@example.com", false).await;
    let b_id = b_partner["id"].as_str().unwrap().to_string();
    // One pending row per partner, carrying its latest state.
    let pending = app.admin_get("/admin/network/outbox?status=pending").await;
    let rows = pending.assert_status(200)["rows"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rows.len(), 2, "{rows:?}");
    let row_a = rows
        .iter()
        .find(|r| r["partnerId"] == a_id.as_str())
        .unwrap();
    assert_eq!(row_a["payload"]["status"], "revoked");
    assert!(
        row_a["lastError"]
            .as_str()
            .unwrap()
            .starts_with("network 503: down for maintenance")
    );
    assert!(row_a["nextAttemptAt"].is_string());
    assert_eq!(
        app.admin_get("/admin/network/me").await.body["outbox"],
        json!({"pending": 2, "dead": 0})
    );

    // Twenty minutes of outage, drained every five: retried on the backoff, nothing lost.
    for _ in 0..4 {
        app.clock.advance(Duration::from_secs(300));
        openpartner::network::sync_job(&app.state).await;
    }
    assert_eq!(
        app.admin_get("/admin/network/outbox?status=pending")
            .await
            .body["rows"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert!(sim.lock().upserts.is_empty());
    // The Network is back.
    sim.lock().faults.clear();
    app.clock.advance(Duration::from_secs(900));
    openpartner::network::sync_job(&app.state).await;
    let delivered = upserts_for(&sim, &a_id);
    assert_eq!(
        delivered.len(),
        1,
        "only the final state: a stale 'active' never overtakes the revoke"
    );
    assert_eq!(delivered[0]["status"], "revoked");
    let final_a = app
        .admin_get(&format!("/partners/{a_id}"))
        .await
        .body
        .clone();
    assert_eq!(delivered[0]["revokedAt"], final_a["revokedAt"]);
    assert_eq!(upserts_for(&sim, &b_id)[0]["status"], "active");
    assert!(
        final_a["metadata"]["network"]["networkCreatorId"].is_string(),
        "a retried push still stores the identity"
    );
    assert_eq!(
        app.admin_get("/admin/network/me").await.body["outbox"],
        json!({"pending": 0, "dead": 0})
    );
}

async fn dead_rows_after_the_last_backoff_and_manual_retry(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    app.connect_hosted().await;
    set_auto_enroll(&app, true).await;
    outage(&sim);
    let p = app.create_partner("doomed@example.com", false).await;
    let id = p["id"].as_str().unwrap().to_string();
    for _ in 0..8 {
        app.clock.advance(Duration::from_secs(13 * 3600));
        openpartner::network::sync_job(&app.state).await;
    }
    let dead = app.admin_get("/admin/network/outbox?status=dead").await;
    let rows = dead.assert_status(200)["rows"].as_array().unwrap().clone();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["attempts"], 9, "the inline try and eight retries");
    assert!(rows[0]["lastError"].as_str().unwrap().contains("503"));
    assert_eq!(
        app.admin_get("/admin/network/me").await.body["outbox"],
        json!({"pending": 0, "dead": 1})
    );
    let row_id = rows[0]["id"].as_str().unwrap().to_string();
    app.admin_get("/admin/network/outbox?status=lost")
        .await
        .assert_error(400, "invalid_query");

    sim.lock().faults.clear();
    let a = app
        .admin_post(&format!("/admin/network/outbox/{row_id}/retry"), json!({}))
        .await;
    assert_eq!(a.assert_status(200)["status"], "done");
    let row = app.audited_once("network.outbox_retry", &row_id).await;
    assert_eq!(row["changes"]["status"]["after"], "pending");
    assert_eq!(upserts_for(&sim, &id).len(), 1);
    assert!(
        app.admin_get(&format!("/partners/{id}")).await.body["metadata"]["network"].is_object()
    );
    app.admin_post(&format!("/admin/network/outbox/{row_id}/retry"), json!({}))
        .await
        .assert_error(409, "not_dead");
    // A refused retry changed nothing and records nothing.
    app.audited_once("network.outbox_retry", &row_id).await;
    app.admin_post("/admin/network/outbox/nope/retry", json!({}))
        .await
        .assert_error(404, "not_found");
}

async fn rows_wait_while_the_vendor_is_suspended(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    let vendor = app.connect_hosted().await;
    set_auto_enroll(&app, true).await;
    sim.set_status(&vendor, "suspended");
    let p = app.create_partner("wait@example.com", false).await;
    let id = p["id"].as_str().unwrap().to_string();
    for _ in 0..3 {
        app.clock.advance(Duration::from_secs(3600));
        openpartner::network::sync_job(&app.state).await;
    }
    let rows = app.admin_get("/admin/network/outbox").await.body["rows"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["attempts"], 0, "a suspension is not a failure");
    assert_eq!(app.admin_get("/config/network").await.body["enabled"], true);
    sim.set_status(&vendor, "active");
    openpartner::network::sync_job(&app.state).await;
    assert_eq!(upserts_for(&sim, &id).len(), 1);
}

async fn two_replicas_never_deliver_one_row_twice(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    app.connect_hosted().await;
    set_auto_enroll(&app, true).await;
    outage(&sim);
    for i in 0..40 {
        app.create_partner(&format!("r{i}@example.com"), false)
            .await;
    }
    let env: Vec<(String, String)> = app.env.clone().into_iter().collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let replica = spawn_replica(b, &env).await;
    sim.lock().faults.clear();
    sim.inject(Fault {
        count: 1000,
        path: Some("/partners/upsert".into()),
        delay_ms: Some(10),
        ..Default::default()
    });
    app.clock.advance(Duration::from_secs(60));
    replica
        .clock
        .set(openpartner::clock::Clock::now(&*app.clock));
    let (x, y) = tokio::join!(
        openpartner::network::sync::drain(&app.state),
        openpartner::network::sync::drain(&replica.state)
    );
    let (x, y) = (x.unwrap(), y.unwrap());
    assert_eq!(
        x + y,
        40,
        "each row claimed by exactly one replica ({x} + {y})"
    );
    let mut per_partner: HashMap<String, usize> = HashMap::new();
    for u in sim.lock().upserts.iter() {
        *per_partner
            .entry(u["vendorPartnerId"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(per_partner.len(), 40);
    assert!(
        per_partner.values().all(|n| *n == 1),
        "a row was delivered twice"
    );
}

both_backends!(
    auto_enroll_pushes_new_partners_with_dedup,
    an_outage_loses_nothing_and_delivers_final_states_in_order,
    dead_rows_after_the_last_backoff_and_manual_retry,
    rows_wait_while_the_vendor_is_suspended,
    two_replicas_never_deliver_one_row_twice,
);
