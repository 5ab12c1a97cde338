//! Connecting safely: a stranger's Network verification token cannot take the connection over
//! (only an admin completes a connect, only the one this instance started, for the vendor it
//! started it for, and a refusal changes nothing); the hosted one-click's contact.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{ADMIN_EMAIL, Backend, TestApp, answer, spawn_with_network};
use openpartner::db;
use openpartner::network_sim::NetworkSim;

/// Starts a self-host connect; returns (pending vendor id, emailed token).
async fn start(app: &TestApp, sim: &NetworkSim, body: Value) -> (String, String) {
    let a = app.admin_post("/config/network/start-connect", body).await;
    let vendor = a.assert_status(202)["vendorId"]
        .as_str()
        .unwrap()
        .to_string();
    let token = sim
        .lock()
        .verifications
        .iter()
        .find(|v| v.vendor_id == vendor)
        .unwrap()
        .token
        .clone();
    (vendor, token)
}

/// What a refused completion must leave exactly as it was.
async fn connection_row(app: &TestApp) -> String {
    let c = db::network::get(app.state.db.pool()).await.unwrap();
    format!(
        "{:?}",
        (
            c.vendor_id,
            c.vendor_token_enc,
            c.display_name,
            c.tier,
            c.scoped_key_id,
            c.pending_vendor_id,
            c.pending_scoped_key_id,
            c.connected_at,
        )
    )
}

async fn complete_with_cookie(
    app: &TestApp,
    cookie: &str,
    csrf: Option<&str>,
    token: &str,
) -> crate::helpers::Answer {
    let mut req = app
        .client
        .post(app.url("/config/network/complete-connect"))
        .header("cookie", cookie)
        .json(&json!({ "ntoken": token }));
    if let Some(csrf) = csrf {
        req = req.header("x-csrf-token", csrf);
    }
    answer(req.send().await.unwrap()).await
}

async fn a_stranger_cannot_take_the_connection_over(b: Backend) {
    let (app, sim) = spawn_with_network(b, false, &[]).await;
    // Connected through the email flow.
    let (ours, token) = start(
        &app,
        &sim,
        json!({"contactEmail": "ops@brand.example", "displayName": "Brand Co"}),
    )
    .await;
    app.admin_post(
        "/config/network/complete-connect",
        json!({ "ntoken": token }),
    )
    .await
    .assert_status(200);
    let federation = sim.lock().vendors[&ours].scoped_key.clone();
    app.heartbeat_idle().await;
    let before = connection_row(&app).await;

    // A stranger signs their own vendor up on the Network and gets its emailed token.
    let http = reqwest::Client::new();
    let signup = http
        .post(format!("{}/vendors/signup", sim.url))
        .json(&json!({"instanceUrl": app.base, "scopedKey": "op_the_strangers_own_key", "displayName": "Not you",
            "tier": "self_hosted", "contact": {"email": "stranger@evil.example"},
            "portalCallbackUrl": app.url("/admin/network/complete")}))
        .send()
        .await
        .unwrap();
    assert_eq!(signup.status(), 200);
    let theirs = signup.json::<Value>().await.unwrap()["vendorId"]
        .as_str()
        .unwrap()
        .to_string();
    let stolen = sim
        .lock()
        .verifications
        .iter()
        .find(|v| v.vendor_id == theirs)
        .unwrap()
        .token
        .clone();

    // Without credentials: refused.
    app.call(
        Method::POST,
        "/config/network/complete-connect",
        None,
        Some(json!({ "ntoken": stolen })),
    )
    .await
    .assert_error(401, "unauthorized");
    // Not an admin: refused.
    let scoped = app.scoped_key(&["partners:write"]).await;
    app.post(
        "/config/network/complete-connect",
        &scoped,
        json!({ "ntoken": stolen }),
    )
    .await
    .assert_error(403, "forbidden");
    // An admin's console session, but a forged request (no CSRF token): refused.
    let (cookie, csrf) = app.console_session().await;
    complete_with_cookie(&app, &cookie, None, &stolen)
        .await
        .assert_error(403, "csrf_failed");
    // An admin tricked into it, with no connect of its own waiting: refused before the
    // Network is even asked.
    let verifies = sim.calls_to("/vendors/verify-and-issue-token");
    app.admin_post(
        "/config/network/complete-connect",
        json!({ "ntoken": stolen }),
    )
    .await
    .assert_error(409, "no_pending_connect");
    assert_eq!(sim.calls_to("/vendors/verify-and-issue-token"), verifies);
    assert_eq!(connection_row(&app).await, before);

    // Our admin starts a reconnect (no contact name: the Network gets none, not `null`)...
    let (next, next_token) = start(&app, &sim, json!({"contactEmail": "ops@brand.example"})).await;
    assert_eq!(sim.lock().vendors[&next].contact_name, None);
    let waiting = connection_row(&app).await;
    // ...and the stranger's token, even from a signed-in admin, is another vendor's: refused.
    let a = complete_with_cookie(&app, &cookie, Some(&csrf), &stolen).await;
    a.assert_error(409, "vendor_mismatch");
    assert_eq!(connection_row(&app).await, waiting, "nothing changed");
    let c = app.admin_get("/config/network").await.body.clone();
    assert_eq!(c["enabled"], true);
    assert_eq!(c["vendorId"], ours.as_str());
    assert_eq!(c["pendingVendorId"], next.as_str());
    // The federation key the Network holds still works.
    app.get("/auth/introspect", &federation)
        .await
        .assert_status(200);
    let keys = app.admin_get("/api-keys").await.body["apiKeys"].clone();
    let live_federation_keys = keys
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["label"] == "OpenPartner Network federation" && k["revokedAt"].is_null())
        .count();
    assert_eq!(live_federation_keys, 2, "the live key and the pending one");
    // A token the Network does not know is its refusal, reported; still nothing changed.
    let a = app
        .admin_post(
            "/config/network/complete-connect",
            json!({"ntoken": "nt_unknown"}),
        )
        .await;
    let refused = a.assert_error(400, "invalid_connect_token");
    assert!(refused["detail"].as_str().unwrap().contains("400: "));
    assert_eq!(refused["networkStatus"], 400);
    assert_eq!(connection_row(&app).await, waiting);

    // Our own token, from the console (session and CSRF token): connected to the new vendor;
    // only now is the old federation key revoked.
    let a = complete_with_cookie(&app, &cookie, Some(&csrf), &next_token).await;
    assert_eq!(
        a.assert_status(200),
        &json!({"ok": true, "vendorId": next, "displayName": "OpenPartner"})
    );
    let c = app.admin_get("/config/network").await.body.clone();
    assert_eq!(c["vendorId"], next.as_str());
    assert!(c.get("pendingVendorId").is_none());
    app.get("/auth/introspect", &federation)
        .await
        .assert_error(401, "unauthorized");
    let fresh = sim.lock().vendors[&next].scoped_key.clone();
    app.get("/auth/introspect", &fresh).await.assert_status(200);
}

async fn the_completion_page_asks_an_admin_to_sign_in(b: Backend) {
    let (app, sim) = spawn_with_network(b, false, &[]).await;
    let (_, token) = start(&app, &sim, json!({"contactEmail": "ops@brand.example"})).await;
    let res = app
        .client
        .get(app.url(&format!("/admin/network/complete?ntoken={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csp = res.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    // It reads the console session, sends its CSRF token, and otherwise links to the sign-in
    // page, which brings the admin back here.
    for needle in [
        "/admin/session",
        "x-csrf-token",
        "/admin/login?next=",
        "/config/network/complete-connect",
    ] {
        assert!(html.contains(needle), "{needle} missing");
    }
    assert!(html.contains(&format!("\"{token}\"")));
    // Whatever the query holds stays inside a JSON string.
    let res = app
        .client
        .get(app.url("/admin/network/complete?ntoken=%3C%2Fscript%3E%3Cscript%3Ealert(1)"))
        .send()
        .await
        .unwrap();
    assert!(!res.text().await.unwrap().contains("</script><script>alert"));
    // The sign-in page sends the admin back only to a console page of this site.
    let js = app
        .client
        .get(app.url("/admin/assets/app.js"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(js.contains("url.origin !== location.origin"));
}

async fn one_click_names_a_real_contact(b: Backend) {
    // Neither a contactEmail nor OPENPARTNER_ADMIN_EMAIL: refused, nothing minted.
    let (app, sim) = spawn_with_network(b, true, &[("OPENPARTNER_ADMIN_EMAIL", "")]).await;
    app.call(
        Method::POST,
        "/config/network/auto-enroll",
        Some(&app.admin_key),
        None,
    )
    .await
    .assert_error(400, "admin_email_unresolvable");
    app.admin_post("/config/network/auto-enroll", json!({}))
        .await
        .assert_error(400, "admin_email_unresolvable");
    assert_eq!(sim.calls_to("/vendors/signup"), 0);
    assert_eq!(
        app.admin_get("/api-keys").await.body["apiKeys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|k| k["kind"] == "scoped")
            .count(),
        0
    );
    // Bad fields.
    for (body, field) in [
        (json!({"contactEmail": "not an email"}), "contactEmail"),
        (
            json!({"contactEmail": "a@brand.example", "contactName": "A\u{0}B"}),
            "contactName",
        ),
        (
            json!({"contactEmail": "a@brand.example", "displayName": "x".repeat(121)}),
            "displayName",
        ),
        (
            json!({"contactEmail": "a@brand.example", "nope": 1}),
            "nope",
        ),
    ] {
        let a = app.admin_post("/config/network/auto-enroll", body).await;
        let e = a.assert_error(400, "invalid_body");
        assert!(e["detail"].to_string().contains(field), "{e}");
    }
    // The request names the contact.
    let a = app
        .admin_post("/config/network/auto-enroll", json!({"contactEmail": " Ana@Brand.Example ", "contactName": "Ana Ops", "displayName": "Brand Co"}))
        .await;
    let vendor = a.assert_status(200)["vendorId"]
        .as_str()
        .unwrap()
        .to_string();
    let v = sim.lock().vendors[&vendor].clone();
    assert_eq!(v.contact_email, "ana@brand.example");
    assert_eq!(v.contact_name.as_deref(), Some("Ana Ops"));
    assert_eq!(v.display_name, "Brand Co");

    // OPENPARTNER_ADMIN_EMAIL is the default; the no-reply sender never is a contact.
    let (app, sim) =
        spawn_with_network(b, true, &[("MAIL_FROM", "Brand <no-reply@brand.example>")]).await;
    app.admin_post(
        "/config/network/auto-enroll",
        json!({"contactEmail": "No-Reply@brand.example"}),
    )
    .await
    .assert_error(400, "invalid_body");
    let a = app
        .call(
            Method::POST,
            "/config/network/auto-enroll",
            Some(&app.admin_key),
            None,
        )
        .await;
    let vendor = a.assert_status(200)["vendorId"]
        .as_str()
        .unwrap()
        .to_string();
    let v = sim.lock().vendors[&vendor].clone();
    assert_eq!(v.contact_email, ADMIN_EMAIL);
    assert_eq!(v.contact_name, None, "no name is sent as none, not null");
    assert_eq!(v.display_name, "OpenPartner");
}

both_backends!(
    a_stranger_cannot_take_the_connection_over,
    the_completion_page_asks_an_admin_to_sign_in,
    one_click_names_a_real_contact,
);
