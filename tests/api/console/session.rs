use super::*;

async fn console_session_and_csrf(b: Backend) {
    let app = spawn_app(b).await;
    // Only an admin key opens a session.
    let scoped = app.scoped_key(&["partners:read"]).await;
    app.call(
        Method::POST,
        "/admin/session",
        None,
        Some(json!({"key": scoped})),
    )
    .await
    .assert_error(401, "unauthorized");
    app.call(
        Method::POST,
        "/admin/session",
        None,
        Some(json!({"key": "nope"})),
    )
    .await
    .assert_error(401, "unauthorized");
    let (cookie, csrf) = app.console_session().await;
    // Reads work with the cookie alone.
    let a = app
        .with_cookie(Method::GET, "/admin/session", &cookie, None, None)
        .await;
    assert_eq!(
        a.assert_status(200),
        &json!({"role": "admin", "csrfToken": csrf})
    );
    app.with_cookie(Method::GET, "/partners", &cookie, None, None)
        .await
        .assert_status(200);
    // Changes need the CSRF token.
    let body = json!({"email": "c@example.com", "name": "C", "sendInvite": false});
    app.with_cookie(Method::POST, "/partners", &cookie, None, Some(body.clone()))
        .await
        .assert_error(403, "csrf_failed");
    app.with_cookie(
        Method::POST,
        "/partners",
        &cookie,
        Some("0000"),
        Some(body.clone()),
    )
    .await
    .assert_error(403, "csrf_failed");
    app.with_cookie(Method::POST, "/partners", &cookie, Some(&csrf), Some(body))
        .await
        .assert_status(201);
    // Bearer clients are unaffected, even with a stray cookie.
    let res = app
        .client
        .post(app.url("/partners"))
        .bearer_auth(&app.admin_key)
        .header("cookie", &cookie)
        .json(&json!({"email": "d@example.com", "name": "D", "sendInvite": false}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    // Sign-out ends the session at once.
    let a = app
        .with_cookie(
            Method::POST,
            "/admin/session/signout",
            &cookie,
            Some(&csrf),
            None,
        )
        .await;
    assert!(a.assert_status(200).get("ok").is_some());
    app.with_cookie(Method::GET, "/partners", &cookie, None, None)
        .await
        .assert_error(401, "unauthorized");
    // The pages and assets are served by the binary.
    for page in [
        "/admin/login",
        "/admin/network",
        "/admin/partners",
        "/admin/programs",
        "/admin/partners/x",
        "/admin/webhooks",
        "/admin/stripe",
    ] {
        let res = app.client.get(app.url(page)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{page}");
        assert!(
            res.headers()["content-security-policy"]
                .to_str()
                .unwrap()
                .contains("default-src 'self'")
        );
        assert!(res.text().await.unwrap().contains("/admin/assets/app.js"));
    }
    let js = app
        .client
        .get(app.url("/admin/assets/app.js"))
        .send()
        .await
        .unwrap();
    assert!(
        js.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/javascript")
    );
    let res = app.client.get(app.url("/admin")).send().await.unwrap();
    assert_eq!(res.headers()["location"], "/admin/overview");
}

// ---- the browser ----

both_backends!(console_session_and_csrf,);
