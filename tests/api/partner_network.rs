//! The partner-facing Network routes (`/network/…`): each acts for the calling partner with
//! `x-act-as-vendor-partner`, which must reach the Network as the caller's own id.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app, spawn_with_network};

both_backends!(
    partner_network_routes_act_for_the_caller,
    partner_network_routes_refuse_non_partners,
);

/// A connected app with one published offering and a partner affiliated on the Network:
/// (app, sim, partner id, partner key, offering id, vendor id).
async fn setup(
    b: Backend,
) -> (
    TestApp,
    openpartner::network_sim::NetworkSim,
    String,
    String,
    String,
    String,
) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    let vendor = app.connect_hosted().await;
    let offering = "off_shoes".to_string();
    sim.lock().vendors.get_mut(&vendor).unwrap().offerings.push(
        json!({"id": offering, "title": "Running shoes", "description": "Shoes that run",
            "vendorProgramId": "cmp_x", "published": true}),
    );
    let partner = app.create_partner("creator@example.com", false).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    sim.affiliate(&vendor, &partner, "creator@example.com", "Creator");
    let key = app.partner_key(&partner).await;
    (app, sim, partner, key, offering, vendor)
}

async fn partner_network_routes_act_for_the_caller(b: Backend) {
    let (app, sim, partner, key, offering, vendor) = setup(b).await;
    // Another partner, to be sure the header is always the caller's.
    let other = app.create_partner("other@example.com", false).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    sim.affiliate(&vendor, &other, "other@example.com", "Other");

    let d = app.get("/network/discover?q=shoes&sort=title", &key).await;
    assert_eq!(
        d.assert_status(200)["offerings"][0]["id"],
        offering.as_str()
    );
    let none = app.get("/network/discover?q=hats", &key).await;
    assert_eq!(none.assert_status(200)["offerings"], json!([]));
    let o = app
        .get(&format!("/network/offerings/{offering}"), &key)
        .await;
    assert_eq!(o.assert_status(200)["title"], "Running shoes");
    let v = app.get(&format!("/network/vendors/{vendor}"), &key).await;
    assert_eq!(v.assert_status(200)["id"], vendor.as_str());

    let applied = app
        .post(
            &format!("/network/offerings/{offering}/apply"),
            &key,
            json!({"message": "I run a shoe blog", "preferredSlug": "runner"}),
        )
        .await;
    let request = applied.assert_status(201).clone();
    assert_eq!(request["status"], "pending");
    assert_eq!(request["message"], "I run a shoe blog");
    let rid = request["id"].as_str().unwrap().to_string();
    // The Network's error is mapped like the admin proxy's.
    app.post(
        &format!("/network/offerings/{offering}/apply"),
        &key,
        json!({}),
    )
    .await
    .assert_error(409, "network_call_failed");

    let r = app.get("/network/me/requests", &key).await;
    assert_eq!(r.assert_status(200)["requests"][0]["id"], rid.as_str());
    let c = app
        .post(
            &format!("/network/me/requests/{rid}/cancel"),
            &key,
            json!({}),
        )
        .await;
    assert_eq!(c.assert_status(200)["status"], "cancelled");

    let a = app.get("/network/me/affiliations", &key).await;
    let affs = a.assert_status(200)["affiliations"]
        .as_array()
        .unwrap()
        .clone();
    let mine = affs
        .iter()
        .find(|x| x["vendorId"] == vendor.as_str())
        .unwrap();
    let aff = mine["id"].as_str().unwrap();
    let e = app
        .get(&format!("/network/me/affiliations/{aff}/earnings"), &key)
        .await;
    assert_eq!(e.assert_status(200)["affiliationId"], aff);

    let p = app.get("/network/me/profile", &key).await;
    assert_eq!(p.assert_status(200)["name"], "Creator");
    let patched = app
        .call(
            Method::PATCH,
            "/network/me/profile",
            Some(&key),
            Some(json!({"bio": "<b>Runner</b>", "handle": "runner", "avatarUrl": "https://img.example/a.png"})),
        )
        .await;
    assert_eq!(patched.assert_status(200)["bio"], "<b>Runner</b>");
    // The partner's writes on the Network are in the audit log, with what was sent; the
    // refused second application is not.
    let applied = app.audit_rows("network.apply").await;
    assert_eq!(applied.len(), 1, "{applied:?}");
    assert_eq!(applied[0]["targetId"], offering.as_str());
    assert_eq!(applied[0]["changes"]["preferredSlug"]["after"], "runner");
    assert_ne!(applied[0]["actor"], "admin");
    let cancelled = app.audit_rows("network.request_cancel").await;
    assert_eq!(cancelled[0]["targetId"], rid.as_str());
    let profile = app.audit_rows("network.profile_update").await;
    assert_eq!(profile[0]["targetId"], partner.as_str());
    assert_eq!(profile[0]["changes"]["handle"]["after"], "runner");
    app.call(
        Method::PATCH,
        "/network/me/profile",
        Some(&key),
        Some(json!({"avatarUrl": "javascript:alert(1)"})),
    )
    .await
    .assert_error(400, "invalid_body");
    app.call(
        Method::PATCH,
        "/network/me/profile",
        Some(&key),
        Some(json!({"bio": "x".repeat(1001)})),
    )
    .await
    .assert_error(400, "invalid_body");

    // Every call reached the Network acting for this partner, and only this partner.
    for call in [
        "GET /offerings".to_string(),
        format!("GET /offerings/{offering}"),
        format!("GET /vendors/{vendor}"),
        format!("POST /offerings/{offering}/apply"),
        "GET /creators/me/requests".to_string(),
        format!("POST /creators/me/requests/{rid}/cancel"),
        "GET /creators/me/affiliations".to_string(),
        format!("GET /creators/me/affiliations/{aff}/earnings"),
        "GET /creators/me".to_string(),
        "PATCH /creators/me".to_string(),
    ] {
        let seen = sim.acted_as(&call);
        assert!(!seen.is_empty(), "{call} never reached the Network");
        assert!(seen.iter().all(|p| *p == partner), "{call}: {seen:?}");
    }

    // A forged acting header from the client is not passed on.
    let res = app
        .client
        .get(app.url("/network/me/profile"))
        .bearer_auth(&key)
        .header("x-act-as-vendor-partner", &other)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        sim.acted_as("GET /creators/me")
            .iter()
            .all(|p| *p == partner)
    );
}

async fn partner_network_routes_refuse_non_partners(b: Backend) {
    let (app, sim, _partner, key, offering, _vendor) = setup(b).await;
    let scoped = app.scoped_key(&["partners:read"]).await;
    let routes: Vec<(Method, String)> = vec![
        (Method::GET, "/network/discover".into()),
        (Method::GET, format!("/network/offerings/{offering}")),
        (Method::GET, "/network/vendors/vnd_x".into()),
        (Method::POST, format!("/network/offerings/{offering}/apply")),
        (Method::GET, "/network/me/affiliations".into()),
        (
            Method::GET,
            "/network/me/affiliations/aff_x/earnings".into(),
        ),
        (Method::GET, "/network/me/requests".into()),
        (Method::POST, "/network/me/requests/req_x/cancel".into()),
        (Method::GET, "/network/me/profile".into()),
        (Method::PATCH, "/network/me/profile".into()),
    ];
    let before = sim.lock().acting.len();
    for (method, path) in &routes {
        let body = (*method != Method::GET).then(|| json!({}));
        for k in [app.admin_key.clone(), scoped.clone()] {
            app.call(method.clone(), path, Some(&k), body.clone())
                .await
                .assert_error(403, "partner_only");
        }
        app.call(method.clone(), path, None, body.clone())
            .await
            .assert_error(401, "unauthorized");
    }
    assert_eq!(
        sim.lock().acting.len(),
        before,
        "nothing reached the Network"
    );
    // Bad ids never reach the Network.
    app.get("/network/offerings/..%2Fvendors", &key)
        .await
        .assert_error(404, "not_found");
    app.get(&format!("/network/discover?q={}", "x".repeat(201)), &key)
        .await
        .assert_error(400, "invalid_query");

    // Not connected: 503 network_not_configured.
    let plain = spawn_app(b).await;
    let partner = plain.create_partner("p@example.com", false).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let k = plain.partner_key(&partner).await;
    plain
        .get("/network/me/profile", &k)
        .await
        .assert_error(503, "network_not_configured");
}
