use super::*;

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

both_backends!(
    a_reconnect_publishes_offerings_anew,
    offerings_follow_share_on_network,
);
