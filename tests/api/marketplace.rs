//! The marketplace from the brand's side, against the simulator: applications listed by
//! status, approve (the Network federates the creator in over real HTTP with the federation
//! key, also when the creator is already a partner), reject, discovery, invitations, offerings,
//! and each failure mapping.

use openpartner::network_sim::Fault;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, eventually, spawn_app, spawn_reachable_with_network};

/// Connects, publishes one shared program, and returns (vendor id, program id, offering id).
async fn listed(
    app: &TestApp,
    sim: &openpartner::network_sim::NetworkSim,
) -> (String, String, String) {
    let vendor = app.connect_hosted().await;
    let a = app
        .admin_post("/programs", json!({"name": "Creators", "destinationUrl": "https://shop.example.com/", "commission": {"type": "percent", "value": "12.5"},
            "holdbackDays": 14, "shareOnNetwork": true, "marketplaceDescription": "Join us"}))
        .await;
    let program = a.assert_status(201)["id"].as_str().unwrap().to_string();
    eventually("the offering published", || {
        !sim.lock().vendors[&vendor].offerings.is_empty()
    })
    .await;
    let offering = sim.lock().vendors[&vendor].offerings[0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    (vendor, program, offering)
}

async fn approve_federates_the_creator_into_this_instance(b: Backend) {
    let (app, sim) = spawn_reachable_with_network(b).await;
    let (vendor, program, _) = listed(&app, &sim).await;
    let request = sim
        .apply(&vendor, None, "ana@example.com", "Ana Creator")
        .unwrap();
    let req_id = request["id"].as_str().unwrap();
    let a = app
        .admin_get("/admin/network/requests?status=pending")
        .await;
    let pending = a.assert_status(200)["requests"].as_array().unwrap().clone();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["creator"]["email"], "ana@example.com");
    assert_eq!(
        app.admin_get("/admin/network/requests").await.body["requests"]
            .as_array()
            .unwrap()
            .len(),
        1
    );

    let a = app
        .admin_post(
            &format!("/admin/network/requests/{req_id}/approve"),
            json!({"decisionNote": "Welcome"}),
        )
        .await;
    let approved = a.assert_status(200).clone();
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["decisionNote"], "Welcome");
    let row = app.audited_once("marketplace.approve", req_id).await;
    assert_eq!(row["changes"]["decisionNote"]["after"], "Welcome");
    assert!(
        approved["message"].is_null() && approved.as_object().unwrap().contains_key("message"),
        "a null the Network sent is passed on as null"
    );
    let pid = approved["partnerId"].as_str().unwrap().to_string();
    // The partner exists here, created through the federation key.
    let p = app
        .admin_get(&format!("/partners/{pid}"))
        .await
        .body
        .clone();
    assert_eq!(p["email"], "ana@example.com");
    assert_eq!(p["campaignGrantSource"], "offering");
    assert_eq!(p["programIds"], json!([program]));
    assert_eq!(p["metadata"]["source"], "openpartner_network");
    assert_eq!(p["metadata"]["creatorHandle"], "@ana");
    assert_eq!(
        p["metadata"]["network"]["networkCreatorId"],
        request["creator"]["id"]
    );
    assert!(
        p["activatedAt"].is_string(),
        "federated partners are active at once"
    );
    let s = app
        .admin_get(&format!("/partners/{pid}/commission-snapshot"))
        .await;
    assert_eq!(s.body["snapshot"]["commissionValue"], "12.5");
    assert_eq!(s.body["snapshot"]["holdbackDays"], 14);
    let links = app.admin_get(&format!("/partners/{pid}/links")).await.body["links"].clone();
    assert_eq!(links.as_array().unwrap().len(), 1);
    assert_eq!(links[0]["linkKey"], "ana");
    assert_eq!(approved["shareUrl"], links[0]["shareUrl"]);
    // It was the federation key that did the work (its use is recorded off the request path).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let keys = app.admin_get("/api-keys").await;
        let fed = keys.body["apiKeys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["label"] == "OpenPartner Network federation")
            .unwrap()
            .clone();
        if fed["lastUsedAt"].is_string() {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the federation key was never used"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(
        app.admin_get("/admin/network/requests?status=approved")
            .await
            .body["requests"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert!(
        app.admin_get("/admin/network/requests?status=pending")
            .await
            .body["requests"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    app.admin_get("/admin/network/requests?status=maybe")
        .await
        .assert_error(400, "invalid_query");
    // Deciding twice is the Network's conflict, passed through.
    let a = app
        .admin_post(
            &format!("/admin/network/requests/{req_id}/approve"),
            json!({}),
        )
        .await;
    let e = a.assert_error(409, "network_call_failed");
    assert!(e["detail"].as_str().unwrap().starts_with("409: "));
}

async fn approving_a_creator_who_is_already_a_partner_links_the_existing_one(b: Backend) {
    let (app, sim) = spawn_reachable_with_network(b).await;
    let (vendor, program, _) = listed(&app, &sim).await;
    let existing = app.admin_post("/partners", json!({"email": "bobby@example.com", "name": "Bobby", "sendInvite": false, "programIds": []})).await;
    let existing_id = existing.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    // Another partner already owns the key the Network will try first.
    let other = app.create_partner("other@example.com", false).await;
    app.create_link(other["id"].as_str().unwrap(), "bobby", "cmp_default")
        .await;
    let request = sim
        .apply(&vendor, None, "Bobby@Example.com", "Bobby")
        .unwrap();
    let a = app
        .admin_post(
            &format!(
                "/admin/network/requests/{}/approve",
                request["id"].as_str().unwrap()
            ),
            json!({}),
        )
        .await;
    let approved = a.assert_status(200).clone();
    assert_eq!(
        approved["partnerId"],
        existing_id.as_str(),
        "no duplicate partner"
    );
    assert_eq!(
        approved["linkKey"], "bobby-2",
        "the Network retried with a suffix"
    );
    let p = app
        .admin_get(&format!("/partners/{existing_id}"))
        .await
        .body
        .clone();
    assert_eq!(
        p["programIds"],
        json!([program]),
        "admitted to the offering's program"
    );
    let list = app.admin_get("/partners?email=bobby@example.com").await;
    assert_eq!(list.body["partners"].as_array().unwrap().len(), 1);
}

async fn reject_discover_invite_and_offerings(b: Backend) {
    let (app, sim) = spawn_reachable_with_network(b).await;
    let (vendor, _, offering) = listed(&app, &sim).await;
    let request = sim.apply(&vendor, None, "cy@example.com", "Cy").unwrap();
    let a = app
        .admin_post(
            &format!(
                "/admin/network/requests/{}/reject",
                request["id"].as_str().unwrap()
            ),
            json!({"decisionNote": "Not a fit"}),
        )
        .await;
    assert_eq!(a.assert_status(200)["status"], "rejected");
    let row = app
        .audited_once("marketplace.reject", request["id"].as_str().unwrap())
        .await;
    assert_eq!(row["changes"]["decisionNote"]["after"], "Not a fit");
    let rejected = app
        .admin_get("/admin/network/requests?status=rejected")
        .await;
    assert_eq!(rejected.body["requests"][0]["decisionNote"], "Not a fit");
    let none = app.admin_get("/partners?email=cy@example.com").await;
    assert_eq!(
        none.body["partners"],
        json!([]),
        "a rejected creator is not federated in"
    );

    sim.seed_creator("alice.fit@example.com", "Alice Fit");
    sim.seed_creator("bob@example.com", "Bob Cook");
    let a = app
        .admin_get("/admin/network/discover/creators?q=alice&niche=fitness&limit=5")
        .await;
    let d = a.assert_status(200);
    assert_eq!(
        d["query"],
        json!({"q": "alice", "niche": "fitness", "limit": "5"}),
        "the query passes through"
    );
    let names: Vec<&str> = d["creators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Alice Fit"]);
    let creator = d["creators"][0]["id"].as_str().unwrap().to_string();

    let path = format!("/admin/network/offerings/{offering}/invite-creator");
    let a = app
        .admin_post(
            &path,
            json!({"creatorId": creator, "message": "Come along"}),
        )
        .await;
    let first = a.assert_status(201).clone();
    // The Network answers a repeat with 200; the contract says 201 whatever its 2xx.
    let a = app.admin_post(&path, json!({"creatorId": creator})).await;
    assert_eq!(
        a.assert_status(201)["id"],
        first["id"],
        "idempotent per creator"
    );
    assert_eq!(a.body["message"], "Come along");
    assert_eq!(sim.lock().invitations.len(), 1);
    // Each invite asked of the Network is recorded, the repeat too.
    let rows = app.audit_rows("marketplace.invite_creator").await;
    assert_eq!(rows.len(), 2, "{rows:?}");
    for row in &rows {
        assert_eq!(row["targetId"], offering.as_str());
        assert_eq!(row["changes"]["creatorId"]["after"], creator.as_str());
    }
    app.admin_post(&path, json!({}))
        .await
        .assert_error(400, "invalid_body");
    let a = app
        .admin_post(
            "/admin/network/offerings/off_nope/invite-creator",
            json!({"creatorId": creator}),
        )
        .await;
    let e = a.assert_error(404, "network_call_failed");
    assert_eq!(e["detail"], r#"404: {"error":"offering_not_found"}"#);
    app.admin_post(
        "/admin/network/offerings/bad%20id/invite-creator",
        json!({"creatorId": creator}),
    )
    .await
    .assert_error(404, "not_found");

    let a = app.admin_get("/admin/network/offerings").await;
    let offerings = a.assert_status(200)["offerings"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(offerings.len(), 1);
    assert_eq!(offerings[0]["id"], offering.as_str());
}

async fn failures_map_to_clear_errors(b: Backend) {
    // Not connected.
    let plain = spawn_app(b).await;
    for (method, path) in [
        (Method::GET, "/admin/network/requests"),
        (Method::POST, "/admin/network/requests/req_1/approve"),
        (Method::POST, "/admin/network/requests/req_1/reject"),
        (Method::GET, "/admin/network/discover/creators?q=x"),
        (Method::GET, "/admin/network/offerings"),
    ] {
        let a = plain.call(method, path, Some(&plain.admin_key), None).await;
        a.assert_error(503, "network_not_configured");
    }
    let a = plain
        .admin_post(
            "/admin/network/offerings/off_1/invite-creator",
            json!({"creatorId": "nc_1"}),
        )
        .await;
    a.assert_error(503, "network_not_configured");

    let (app, sim) = spawn_reachable_with_network(b).await;
    listed(&app, &sim).await;
    sim.inject(Fault {
        count: 1,
        path: Some("/vendors/me/requests".into()),
        status: Some(401),
        body: Some(r#"{"error":"invalid_token"}"#.into()),
        ..Default::default()
    });
    let a = app.admin_get("/admin/network/requests").await;
    assert_eq!(
        a.assert_error(401, "network_call_failed")["detail"],
        r#"401: {"error":"invalid_token"}"#
    );
    let long = "z".repeat(700);
    sim.inject(Fault {
        count: 1,
        path: Some("/vendors/me/discover".into()),
        status: Some(500),
        body: Some(format!("boom {long}")),
        ..Default::default()
    });
    let a = app.admin_get("/admin/network/discover/creators").await;
    let detail = a.assert_error(500, "network_call_failed")["detail"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        detail,
        format!("500: boom {}", &long[..495]),
        "first 500 chars of the body"
    );
    sim.inject(Fault {
        count: 1,
        drop: Some(true),
        ..Default::default()
    });
    let a = app.admin_get("/admin/network/offerings").await;
    let body: Value = a.assert_error(503, "network_unreachable").clone();
    assert!(!body["detail"].as_str().unwrap().is_empty());
    let key = app
        .scoped_key(&["partners:read", "partners:write", "links:write"])
        .await;
    app.get("/admin/network/requests", &key)
        .await
        .assert_error(403, "forbidden");
    app.post("/admin/network/requests/x/approve", &key, json!({}))
        .await
        .assert_error(403, "forbidden");
    let a = app
        .admin_post(
            "/admin/network/requests/req_1/approve",
            json!({"programId": "cmp_nope"}),
        )
        .await;
    a.assert_error(400, "invalid_body");
}

both_backends!(
    approve_federates_the_creator_into_this_instance,
    approving_a_creator_who_is_already_a_partner_links_the_existing_one,
    reject_discover_invite_and_offerings,
    failures_map_to_clear_errors,
);
