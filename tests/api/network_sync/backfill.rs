use super::*;

/// Inserts `n` partners straight into storage, as an existing roster.
async fn seed_roster(app: &TestApp, n: usize) {
    use openpartner::db::partners::NewPartner;
    use openpartner::domain::ids::{PartnerId, ProgramId};
    use openpartner::domain::partners::{GrantSource, PartnerSource};
    let programs = vec![ProgramId::from_string("cmp_default")];
    let now = openpartner::clock::Clock::now(&*app.clock);
    for chunk in (0..n).collect::<Vec<_>>().chunks(1000) {
        let mut tx = app.state.db.begin().await.unwrap();
        for i in chunk {
            let id = PartnerId::generate();
            let email = format!("roster{i}@example.com");
            db::partners::insert(
                &mut *tx,
                NewPartner {
                    id: &id,
                    email: &email,
                    name: "Roster",
                    metadata: "{}",
                    program_ids: &programs,
                    profile: None,
                    source: PartnerSource::AdminInvite,
                    campaign_grant_source: GrantSource::Admin,
                    pending_review: false,
                    now: now.plus_millis(-100_000 + *i as i64),
                    activated_at: Some(now),
                },
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
    }
}

async fn backfill_is_idempotent_across_two_runs(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    app.admin_post("/config/network/backfill", json!({}))
        .await
        .assert_error(503, "network_not_configured");
    seed_roster(&app, 10_000).await;
    app.connect_hosted().await;
    sim.seed_creator("roster7@example.com", "Elsewhere");
    let a = app.admin_post("/config/network/backfill", json!({})).await;
    let started = a.assert_status(202).clone();
    assert_eq!(started["total"], 10_000);
    // A second request joins the run in progress.
    let again = app.admin_post("/config/network/backfill", json!({})).await;
    assert_eq!(again.body["runId"], started["runId"]);
    // One row for the run started, none for the request that joined it.
    let row = app
        .audited_once("network.backfill_start", started["runId"].as_str().unwrap())
        .await;
    assert_eq!(row["changes"]["total"]["after"], 10_000);
    assert_eq!(app.audit_rows("network.backfill_start").await.len(), 1);
    let deadline = Instant::now() + Duration::from_secs(120);
    let run = loop {
        let a = app.admin_get("/config/network/backfill").await;
        if a.body["status"] == "done" {
            break a.body.clone();
        }
        assert_eq!(a.body["status"], "running");
        assert!(
            Instant::now() < deadline,
            "backfill did not finish: {}",
            a.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(run["runId"], started["runId"]);
    assert_eq!(run["total"], 10_000);
    assert_eq!(run["pushed"], 10_000);
    assert_eq!(run["preExisting"], 1);
    assert_eq!(run["queued"], 0);
    assert_eq!(run["failed"], 0);
    assert!(run["finishedAt"].is_string());
    let upserts = sim.lock().upserts.clone();
    assert_eq!(upserts.len(), 10_000);
    assert!(
        upserts
            .iter()
            .all(|u| u["metadata"]["source"] == "backfill")
    );
    assert_eq!(
        app.admin_get("/admin/network/me").await.body["backfill"]["status"],
        "done"
    );
    // A second run finds nothing to push.
    let a = app.admin_post("/config/network/backfill", json!({})).await;
    assert_eq!(a.assert_status(202)["total"], 0);
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.admin_get("/config/network/backfill").await.body["status"] != "done" {
        assert!(Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sim.lock().upserts.len(), 10_000);
}

async fn backfill_resumes_after_kill_9(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    seed_roster(&app, 10_000).await;
    app.connect_hosted().await;
    // Slow the Network down so the kill lands mid-run.
    sim.inject(Fault {
        count: 1_000_000,
        path: Some("/partners/upsert".into()),
        delay_ms: Some(2),
        ..Default::default()
    });
    let port = crate::helpers::free_port;
    let serve = |port: u16| {
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_openpartner"));
        cmd.envs(app.env.iter())
            .env("OPENPARTNER_BIND", format!("127.0.0.1:{port}"))
            .env("OPENPARTNER_BACKFILL_LEASE_SECS", "2")
            .env("OPENPARTNER_LOG", "warn")
            .arg("serve")
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        cmd.spawn().unwrap()
    };
    let call = |port: u16, method: Method, path: &'static str| {
        let req = app
            .client
            .request(method, format!("http://127.0.0.1:{port}{path}"))
            .bearer_auth(&app.admin_key);
        async move { req.send().await.ok()?.json::<Value>().await.ok() }
    };
    let first_port = port();
    let mut first = serve(first_port);
    let deadline = Instant::now() + Duration::from_secs(30);
    while call(first_port, Method::GET, "/health").await.is_none() {
        assert!(Instant::now() < deadline, "first process did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let started = call(first_port, Method::POST, "/config/network/backfill")
        .await
        .unwrap();
    assert_eq!(started["total"], 10_000);
    let deadline = Instant::now() + Duration::from_secs(60);
    while sim.lock().upserts.len() < 2_000 {
        assert!(
            Instant::now() < deadline,
            "the first process pushed too little"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.kill().unwrap(); // SIGKILL
    first.wait().unwrap();
    let at_kill = sim.lock().upserts.len();
    assert!(at_kill < 10_000, "the kill came too late to test a resume");

    let second_port = port();
    let mut second = serve(second_port);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(run) = call(second_port, Method::GET, "/config/network/backfill").await {
            if run["status"] == "done" {
                assert_eq!(run["runId"], started["runId"], "the same run, resumed");
                break;
            }
        }
        assert!(Instant::now() < deadline, "the backfill did not resume");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let upserts = sim.lock().upserts.clone();
    let mut per_partner: HashMap<String, usize> = HashMap::new();
    for u in &upserts {
        *per_partner
            .entry(u["vendorPartnerId"].as_str().unwrap().to_string())
            .or_default() += 1;
    }
    assert_eq!(per_partner.len(), 10_000, "everyone pushed");
    let repeated = per_partner.values().filter(|n| **n > 1).count();
    // Only pushes in flight at the instant of the kill can repeat (upsert is idempotent).
    assert!(repeated <= 16, "{repeated} partners pushed twice");
    let again = call(second_port, Method::POST, "/config/network/backfill")
        .await
        .unwrap();
    assert_eq!(again["total"], 0);
    second.kill().unwrap();
    second.wait().unwrap();
}

async fn federation_flow_with_the_federation_key(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    let vendor = app.connect_hosted().await;
    set_auto_enroll(&app, true).await;
    let fed = sim.lock().vendors[&vendor].scoped_key.clone();
    let prog = app
        .create_program(
            "https://shop.example.com/",
            json!({"type": "percent", "value": 20}),
        )
        .await;
    // 1. The Network creates the approved creator.
    let a = app
        .post("/partners", &fed, json!({
            "email": "creator@example.com", "name": "Creator", "sendInvite": false, "programIds": [prog],
            "campaignGrantSource": "offering",
            "commissionSnapshot": {"commissionType": "percent", "commissionValue": "15", "recurring": true},
            "metadata": {"source": "openpartner_network", "networkCreatorId": "nc_123", "creatorHandle": "@creator"}
        }))
        .await;
    let p = a.assert_status(201).clone();
    let pid = p["id"].as_str().unwrap().to_string();
    assert_eq!(p["campaignGrantSource"], "offering");
    assert_eq!(p["programIds"], json!([prog]));
    assert_eq!(p["metadata"]["creatorHandle"], "@creator");
    assert_eq!(p["metadata"]["network"]["networkCreatorId"], "nc_123");
    assert!(
        upserts_for(&sim, &pid).is_empty(),
        "not echoed back to the Network"
    );
    let a = app
        .post(
            "/partners",
            &fed,
            json!({"email": "CREATOR@example.com", "name": "Again", "sendInvite": false}),
        )
        .await;
    a.assert_error(409, "email_taken");
    // Older Networks send campaignIds.
    let a = app.post("/partners", &fed, json!({"email": "old@example.com", "name": "Old", "sendInvite": false, "campaignIds": [prog],
        "campaignGrantSource": "offering", "metadata": {"source": "openpartner_network"}})).await;
    let old_id = a.assert_status(201)["id"].as_str().unwrap().to_string();
    // 2. Its single program-scoped link, in both body shapes.
    let a = app
        .post(
            &format!("/partners/{pid}/links"),
            &fed,
            json!({"linkKey": "creator", "programId": prog}),
        )
        .await;
    assert_eq!(
        a.assert_status(201)["shareUrl"],
        "http://localhost:8080/r/creator"
    );
    app.post(
        &format!("/partners/{pid}/links"),
        &fed,
        json!({"linkKey": "creator", "programId": prog}),
    )
    .await
    .assert_error(409, "linkKey_taken");
    let a = app.post(&format!("/partners/{old_id}/links"), &fed,
        json!({"linkKey": "creator-2", "campaignId": prog, "destinationUrl": "https://shop.example.com/"})).await;
    assert_eq!(
        a.assert_status(201)["destinationUrl"],
        "https://shop.example.com/"
    );
    // 3. Clicks, a sale, and the reads.
    let click = app.click("creator").await;
    let a = app.post("/clicks", &fed, json!({"id": "nw-1", "linkKey": "creator", "landingUrl": "https://shop.example.com/", "ts": "2026-01-01T00:00:00Z"})).await;
    a.assert_status(201);
    app.post("/clicks", &fed, json!({"id": "nw-1", "linkKey": "creator"}))
        .await
        .assert_status(200);
    let sale = app.sale("fed-1", "50.00", &click).await;
    assert_eq!(
        sale.body["commission"]["amount"], "7.50",
        "priced by the snapshot"
    );
    let d = app.get(&format!("/partners/{pid}/dashboard"), &fed).await;
    let d = d.assert_status(200);
    // The default window is the last 30 days: the Network's January click is older.
    assert_eq!(d["clicks"], 1);
    assert_eq!(d["attributedRevenue"], json!(50));
    assert_eq!(d["commissionByStatus"]["accrued"], json!(7.5));
    let d = app
        .get(
            &format!("/partners/{pid}/dashboard?since=2025-12-01T00:00:00Z"),
            &fed,
        )
        .await;
    assert_eq!(d.assert_status(200)["clicks"], 2);
    assert_eq!(
        app.get(&format!("/partners/{pid}/commissions"), &fed)
            .await
            .assert_status(200)["commissions"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    app.get("/commissions", &fed).await.assert_status(200);
    let s = app
        .get(&format!("/partners/{pid}/commission-snapshot"), &fed)
        .await;
    assert_eq!(s.assert_status(200)["snapshot"]["commissionValue"], "15");
    app.get(&format!("/partners/{pid}"), &fed)
        .await
        .assert_status(200);
    assert_eq!(
        app.get("/auth/introspect", &fed).await.body["role"],
        "scoped"
    );
    // 4. Nothing else.
    for path in [
        "/api-keys",
        "/programs",
        "/config/network",
        "/admin/network/me",
        "/config/partner-signup",
        "/admin/network/outbox",
    ] {
        app.get(path, &fed).await.assert_error(403, "forbidden");
    }
    app.post("/programs", &fed, json!({}))
        .await
        .assert_error(403, "forbidden");
    app.post("/config/network/backfill", &fed, json!({}))
        .await
        .assert_error(403, "forbidden");
    let a = app
        .post("/events", &fed, json!({"externalEventId": "x", "value": 1}))
        .await;
    assert_eq!(
        a.assert_error(403, "forbidden_scope")["required"],
        "events:write"
    );
    let a = app.get(&format!("/partners/{pid}/links"), &fed).await;
    assert_eq!(
        a.assert_error(403, "forbidden_scope")["required"],
        "links:read"
    );
}

both_backends!(
    backfill_is_idempotent_across_two_runs,
    backfill_resumes_after_kill_9,
    federation_flow_with_the_federation_key,
);
