use super::*;

async fn invite_verify_session_then_read_itself(b: Backend) {
    let app = spawn_app(b).await;
    let p = app.create_partner("flow@example.com", true).await;
    let id = p["id"].as_str().unwrap().to_string();
    let token = app.latest_token("flow@example.com", 1).await;
    assert!(token.starts_with("opml_") && token.len() == 53);

    // The landing page does not consume the token (mail scanners prefetch links).
    let page = app
        .client
        .get(app.url(&format!("/auth/magic?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    assert!(
        page.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = page.text().await.unwrap();
    assert!(html.contains(&token) && html.contains("/auth/magic/verify"));

    let (a, session) = app.verify(&token).await;
    let body = a.assert_status(200);
    assert_eq!(body["ok"], true);
    assert_eq!(body["role"], "partner");
    assert_eq!(
        body["partner"],
        json!({"id": id, "name": "Partner flow@example.com", "email": "flow@example.com"})
    );
    let cookie = a.header("set-cookie").unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly")
            && cookie.contains("SameSite=Lax")
            && cookie.contains("Max-Age=2592000")
    );
    assert!(
        !cookie.contains("Secure"),
        "http public URL: no Secure flag"
    );
    let session = session.expect("op_session set");
    assert!(session.starts_with("ops_"));

    // Activated now.
    let me = app.admin_get(&format!("/partners/{id}")).await;
    assert!(me.body["activatedAt"].is_string());
    assert_eq!(me.body["status"], "active");

    // The session works as a bearer token and as the cookie.
    let a = app.get(&format!("/partners/{id}"), &session).await;
    assert_eq!(a.assert_status(200)["email"], "flow@example.com");
    let res = app
        .client
        .get(app.url(&format!("/partners/{id}")))
        .header("cookie", format!("op_session={session}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let who = app.get("/auth/whoami", &session).await;
    assert_eq!(who.body["role"], "partner");
    assert_eq!(who.body["partnerId"], id.as_str());
    let a = app.get("/auth/introspect", &session).await;
    assert_eq!(
        a.body,
        json!({"role": "partner", "restrictedTo": {"partnerId": id}})
    );
    assert_eq!(
        app.admin_get("/auth/whoami").await.body,
        json!({"role": "admin"})
    );

    // Reuse of the same link fails.
    let (a, _) = app.verify(&token).await;
    a.assert_error(400, "invalid_or_expired_token");

    // Sign-out ends the session.
    let a = app
        .call(Method::POST, "/auth/signout", Some(&session), None)
        .await;
    a.assert_status(200);
    assert!(a.header("set-cookie").unwrap().contains("Max-Age=0"));
    app.get(&format!("/partners/{id}"), &session)
        .await
        .assert_error(401, "unauthorized");
}

async fn magic_links_expire_after_15_minutes(b: Backend) {
    let app = spawn_app(b).await;
    let p = app.create_partner("late@example.com", true).await;
    let id = p["id"].as_str().unwrap();
    let first = app.latest_token("late@example.com", 1).await;
    app.clock.advance(Duration::from_secs(15 * 60 + 1));
    let (a, _) = app.verify(&first).await;
    a.assert_error(400, "invalid_or_expired_token");

    // Re-invite: a new link; earlier unexpired links stay valid too.
    app.admin_post(&format!("/partners/{id}/invite"), json!({}))
        .await
        .assert_status(200);
    let second = app.latest_token("late@example.com", 2).await;
    app.clock.advance(Duration::from_secs(60));
    app.admin_post(&format!("/partners/{id}/invite"), json!({}))
        .await
        .assert_status(200);
    let third = app.latest_token("late@example.com", 3).await;
    assert_ne!(second, third);
    app.clock.advance(Duration::from_secs(14 * 60 - 1));
    let (a, _) = app.verify(&second).await;
    a.assert_status(200);
    // Accepted: a further invite is refused, and the other link is still single-use valid.
    app.admin_post(&format!("/partners/{id}/invite"), json!({}))
        .await
        .assert_error(409, "already_activated");
    let (a, _) = app.verify(&third).await;
    a.assert_status(200);

    for bad in [
        "",
        "opml_short",
        "op_0000",
        &format!("opml_{}", "0".repeat(48)),
    ] {
        let (a, _) = app.verify(bad).await;
        a.assert_error(400, "invalid_or_expired_token");
    }
    app.admin_post("/partners/01NOPE/invite", json!({}))
        .await
        .assert_error(404, "not_found");
}

async fn concurrent_use_of_one_link_succeeds_once(b: Backend) {
    let app = spawn_app(b).await;
    app.create_partner("twice@example.com", true).await;
    let token = app.latest_token("twice@example.com", 1).await;
    let codes: Vec<u16> = app
        .concurrently(8, Method::POST, "/auth/magic/verify", None, |_| {
            Some(json!({"token": token}))
        })
        .await
        .iter()
        .map(|a| a.status.as_u16())
        .collect();
    assert_eq!(codes.iter().filter(|c| **c == 200).count(), 1, "{codes:?}");
    assert!(codes.iter().all(|c| *c == 200 || *c == 400), "{codes:?}");
}

async fn revoke_ends_sessions_and_keys_at_once(b: Backend) {
    let app = spawn_app(b).await;
    let p = app.create_partner("rev@example.com", true).await;
    let id = p["id"].as_str().unwrap().to_string();
    let token = app.latest_token("rev@example.com", 1).await;
    let (_, session) = app.verify(&token).await;
    let session = session.unwrap();
    let a = app
        .post(
            &format!("/partners/{id}/api-keys"),
            &session,
            json!({"label": "mine"}),
        )
        .await;
    let key = a.assert_status(201)["plaintext"]
        .as_str()
        .unwrap()
        .to_string();
    // Warm both credentials.
    app.get(&format!("/partners/{id}"), &session)
        .await
        .assert_status(200);
    app.get(&format!("/partners/{id}"), &key)
        .await
        .assert_status(200);

    let a = app
        .admin_post(
            &format!("/partners/{id}/revoke"),
            json!({"reason": "Violated terms"}),
        )
        .await;
    let r = a.assert_status(200);
    assert_eq!(r["ok"], true);
    assert_eq!(r["notified"], true);
    assert!(r["revokedAt"].is_string());
    app.get(&format!("/partners/{id}"), &session)
        .await
        .assert_error(401, "unauthorized");
    app.get(&format!("/partners/{id}"), &key)
        .await
        .assert_error(401, "unauthorized");
    let mails = app.wait_for_mails("rev@example.com", 2).await;
    assert!(
        mails[1].raw.contains("Violated terms"),
        "the reason is in the notification"
    );

    let got = app.admin_get(&format!("/partners/{id}")).await;
    assert_eq!(got.body["revokeReason"], "Violated terms");
    assert_eq!(got.body["status"], "revoked");
    app.admin_post(&format!("/partners/{id}/revoke"), json!({}))
        .await
        .assert_error(409, "already_revoked");
    app.admin_post(&format!("/partners/{id}/invite"), json!({}))
        .await
        .assert_error(409, "partner_revoked");

    // A revoked partner asking for a sign-in link gets none, but a notice saying why.
    app.call(
        Method::POST,
        "/auth/signin",
        None,
        Some(json!({"email": "rev@example.com"})),
    )
    .await
    .assert_status(200);
    let notice = app.wait_for_mails("rev@example.com", 3).await[2].clone();
    assert!(notice.subject().contains("suspended") && notice.magic_token().is_none());
    let a = app
        .admin_post(&format!("/partners/{id}/reinstate"), json!({}))
        .await;
    assert_eq!(a.assert_status(200), &json!({"ok": true}));
    app.admin_post(&format!("/partners/{id}/reinstate"), json!({}))
        .await
        .assert_error(409, "not_revoked");
    // Keys stay dead after reinstatement; the partner signs in with a new link.
    app.get(&format!("/partners/{id}"), &key)
        .await
        .assert_error(401, "unauthorized");
    app.call(
        Method::POST,
        "/auth/signin",
        None,
        Some(json!({"email": "REV@example.com"})),
    )
    .await
    .assert_status(200);
    let fresh = app.latest_token("rev@example.com", 4).await;
    let (a, session) = app.verify(&fresh).await;
    a.assert_status(200);
    app.get(&format!("/partners/{id}"), &session.unwrap())
        .await
        .assert_status(200);

    // notify: false sends nothing.
    let quiet = app.create_partner("quiet@example.com", false).await;
    let qid = quiet["id"].as_str().unwrap();
    let a = app
        .admin_post(&format!("/partners/{qid}/revoke"), json!({"notify": false}))
        .await;
    assert_eq!(a.assert_status(200)["notified"], false);
    let a = app
        .admin_post(&format!("/partners/{qid}/reinstate"), json!({}))
        .await;
    a.assert_status(200);
    let a = app
        .admin_post(
            &format!("/partners/{qid}/revoke"),
            json!({"reason": "x".repeat(501)}),
        )
        .await;
    a.assert_error(400, "invalid_body");
    assert!(app.mails_to("quiet@example.com").is_empty());
    app.admin_post("/partners/01NOPE/revoke", json!({}))
        .await
        .assert_error(404, "not_found");
}

both_backends!(
    invite_verify_session_then_read_itself,
    magic_links_expire_after_15_minutes,
    concurrent_use_of_one_link_succeeds_once,
    revoke_ends_sessions_and_keys_at_once,
);
