use super::*;

async fn portal_pages_are_locked_down(b: Backend) {
    let app = spawn_app(b).await;
    for path in [
        "/portal",
        "/portal/links",
        "/portal/programs",
        "/portal/commissions",
        "/portal/payouts",
        "/portal/network",
        "/portal/profile",
    ] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let csp = res.headers()["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        assert!(!csp.contains("unsafe"), "{csp}");
        let body = res.text().await.unwrap();
        assert!(
            !body.contains("http://") && !body.contains("https://"),
            "no outside assets"
        );
    }
    app.get("/portal/nope", &app.admin_key)
        .await
        .assert_error(404, "not_found");
    for asset in ["/portal/assets/portal.js", "/portal/assets/portal.css"] {
        let res = app.client.get(app.url(asset)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{asset}");
    }
    let qr = app
        .client
        .get(app.url("/portal/qr/my-link"))
        .send()
        .await
        .unwrap();
    assert_eq!(qr.status(), 200);
    assert_eq!(qr.headers()["content-type"], "image/svg+xml");
    assert!(qr.text().await.unwrap().contains("<svg"));
    app.get("/portal/qr/%3Cscript%3E", &app.admin_key)
        .await
        .assert_error(404, "not_found");

    // A partner session: changes need its CSRF token, reads do not.
    let program = shoes_program(&app).await;
    let (partner, token) = invited(&app, "csrf@example.com", "Csrf", &program).await;
    let (verified, session) = app.verify(&token).await;
    let csrf = verified.assert_status(200)["csrfToken"]
        .as_str()
        .unwrap()
        .to_string();
    let cookie = format!("op_session={}", session.unwrap());
    let body = json!({"linkKey": "csrf-link", "programId": program});
    app.with_cookie(
        Method::POST,
        &format!("/partners/{partner}/links"),
        &cookie,
        None,
        Some(body.clone()),
    )
    .await
    .assert_error(403, "csrf_failed");
    app.with_cookie(
        Method::POST,
        "/network/offerings/off_x/apply",
        &cookie,
        None,
        Some(json!({})),
    )
    .await
    .assert_error(403, "csrf_failed");
    app.with_cookie(
        Method::POST,
        &format!("/partners/{partner}/links"),
        &cookie,
        Some(&csrf),
        Some(body),
    )
    .await
    .assert_status(201);
    let me = app
        .with_cookie(Method::GET, "/me/programs", &cookie, None, None)
        .await;
    assert_eq!(me.assert_status(200)["programs"][0]["id"], program.as_str());
    let setup = app
        .with_cookie(Method::GET, "/me/payout-setup", &cookie, None, None)
        .await;
    let setup = setup.assert_status(200);
    assert_eq!(setup["stripeEnabled"], false);
    assert_eq!(setup["methodReady"], true);
    assert_eq!(setup["payoutEmail"], "csrf@example.com");
    assert_eq!(setup["schedule"], "manual");
    // The magic link's page sends the partner on to the portal.
    let page = app
        .client
        .get(app.url("/auth/magic?token=x"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("location.href = \"/portal\""));
}

both_backends!(portal_pages_are_locked_down,);
