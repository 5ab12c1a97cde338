//! Who gets in, and who learns what: console sessions bound to the key that opened them,
//! session cookies that need their CSRF token and their own token kind, pages that cannot be
//! framed, a public sign-up that says the same to everyone and grants only open programs,
//! a database outage answered 503, and the races around keys, grants and approval.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, spawn_app, spawn_app_with};

async fn console_sessions_live_as_long_as_their_key(b: Backend) {
    let app = spawn_app_with(b, &[("ADMIN_API_KEY", "configured-admin-key-0123456789")]).await;
    // An admin API key of its own, and a session opened with it.
    let a = app.admin_post("/api-keys", json!({"label": "ops"})).await;
    let key = a.assert_status(201)["plaintext"]
        .as_str()
        .unwrap()
        .to_string();
    let key_id = a.body["id"].as_str().unwrap().to_string();
    let (cookie, csrf) = app.console_session_with(&key).await;
    let token = cookie.trim_start_matches("op_admin=").to_string();
    app.with_cookie(Method::GET, "/partners", &cookie, None, None)
        .await
        .assert_status(200);
    // A session token is never a sign-in key: a session cannot renew itself.
    app.call(
        Method::POST,
        "/admin/session",
        None,
        Some(json!({"key": token})),
    )
    .await
    .assert_error(401, "unauthorized");
    // Revoking the key ends its sessions at once.
    app.call(
        Method::DELETE,
        &format!("/api-keys/{key_id}"),
        Some(&app.admin_key),
        None,
    )
    .await
    .assert_status(200);
    app.with_cookie(Method::GET, "/partners", &cookie, None, None)
        .await
        .assert_error(401, "unauthorized");
    let _ = csrf;
    // A session of the configured key lives while the setting is unchanged...
    let (configured, _) = app
        .console_session_with("configured-admin-key-0123456789")
        .await;
    app.with_cookie(Method::GET, "/partners", &configured, None, None)
        .await
        .assert_status(200);
    // ...and another replica whose ADMIN_API_KEY was changed does not honour it.
    let mut env: Vec<(String, String)> = app.env.clone().into_iter().collect();
    env.retain(|(k, _)| k != "ADMIN_API_KEY" && k != "OPENPARTNER_DATA_DIR");
    env.push((
        "ADMIN_API_KEY".into(),
        "rotated-admin-key-9876543210".into(),
    ));
    env.push((
        "OPENPARTNER_DATA_DIR".into(),
        app.env["OPENPARTNER_DATA_DIR"].clone(),
    ));
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let rotated = crate::helpers::spawn_replica(b, &env).await;
    rotated
        .with_cookie(Method::GET, "/partners", &configured, None, None)
        .await
        .assert_error(401, "unauthorized");
    // Sign out everyone.
    let (c2, t2) = app.console_session().await;
    let (c3, _) = app.console_session().await;
    let a = app
        .with_cookie(
            Method::POST,
            "/admin/session/signout-all",
            &c2,
            Some(&t2),
            None,
        )
        .await;
    assert!(a.assert_status(200)["ended"].as_u64().unwrap() >= 3);
    for c in [&c2, &c3, &configured] {
        app.with_cookie(Method::GET, "/partners", c, None, None)
            .await
            .assert_error(401, "unauthorized");
    }
}

async fn cookies_need_their_csrf_token_and_kind(b: Backend) {
    let app = spawn_app(b).await;
    let p = app.create_partner("cookie@example.com", true).await;
    let id = p["id"].as_str().unwrap().to_string();
    let token = app.latest_token("cookie@example.com", 1).await;
    let (a, session) = app.verify(&token).await;
    let session = session.expect("a session cookie");
    let csrf = a.assert_status(200)["csrfToken"]
        .as_str()
        .unwrap()
        .to_string();
    let cookie = format!("op_session={session}");
    // Reads with the cookie alone; the token is also at GET /auth/session.
    let s = app
        .with_cookie(Method::GET, "/auth/session", &cookie, None, None)
        .await;
    assert_eq!(s.assert_status(200)["csrfToken"], csrf.as_str());
    assert_eq!(s.body["partnerId"], id.as_str());
    // A change made with the partner cookie needs the CSRF token.
    let path = format!("/partners/{id}/api-keys");
    app.with_cookie(Method::POST, &path, &cookie, None, Some(json!({})))
        .await
        .assert_error(403, "csrf_failed");
    app.with_cookie(Method::POST, &path, &cookie, Some(&csrf), Some(json!({})))
        .await
        .assert_status(201);
    // An admin console token sent as op_session is not taken (nor a partner's as op_admin).
    let (admin_cookie, admin_csrf) = app.console_session().await;
    let admin_token = admin_cookie.trim_start_matches("op_admin=");
    let disguised = format!("op_session={admin_token}");
    app.with_cookie(
        Method::POST,
        "/partners",
        &disguised,
        Some(&admin_csrf),
        Some(json!({"email": "x@example.com", "name": "X"})),
    )
    .await
    .assert_error(401, "unauthorized");
    app.with_cookie(
        Method::GET,
        "/partners",
        &format!("op_admin={session}"),
        None,
        None,
    )
    .await
    .assert_error(401, "unauthorized");
    // No HTML page of ours can be framed.
    for page in [
        "/admin/login",
        "/auth/magic?token=x",
        "/r/no-such-link",
        "/admin/network/complete?ntoken=x",
    ] {
        let res = app.client.get(app.url(page)).send().await.unwrap();
        let csp = res.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("frame-ancestors 'none'"), "{page}: {csp}");
        assert_eq!(res.headers()["x-frame-options"], "DENY", "{page}");
    }
}

async fn signup_says_the_same_to_everyone(b: Backend) {
    let app = spawn_app(b).await;
    // A private program, and one open to sign-up.
    let private = app
        .create_program(
            "https://private.example.com",
            json!({"type": "percent", "value": 10}),
        )
        .await;
    let open = app
        .admin_post(
            "/programs",
            json!({"name": "Open", "destinationUrl": "https://open.example.com",
                   "commission": {"type": "percent", "value": 5}, "openToSignup": true}),
        )
        .await;
    let open = open.assert_status(201)["id"].as_str().unwrap().to_string();
    let signup = |email: &str, name: &str| {
        app.call(
            Method::POST,
            "/partner-signup",
            None,
            Some(json!({"email": email, "name": name})),
        )
    };
    let fresh = signup("new@example.com", "<b>Visit evil.example now</b>").await;
    app.create_partner("known@example.com", false).await;
    let known = signup("known@example.com", "Someone").await;
    assert_eq!(fresh.status, known.status);
    assert_eq!(
        fresh.body, known.body,
        "the answer does not say who is registered"
    );
    assert_eq!(fresh.status.as_u16(), 201);
    // The unverified address gets no text the caller wrote; the known one a sign-in link.
    let mail = app.wait_for_mails("new@example.com", 1).await.remove(0);
    assert!(!mail.raw.contains("evil.example"), "{}", mail.raw);
    assert!(!mail.raw.contains("Visit"), "{}", mail.raw);
    let known_mail = app.wait_for_mails("known@example.com", 1).await.remove(0);
    assert!(known_mail.magic_token().is_some());
    // Sign-up grants only the programs open to it.
    let list = app.admin_get("/partners?email=new@example.com").await;
    let granted: Vec<Value> = list.body["partners"][0]["programIds"]
        .as_array()
        .unwrap()
        .clone();
    assert!(granted.contains(&json!("cmp_default")));
    assert!(granted.contains(&json!(open)));
    assert!(!granted.contains(&json!(private)), "{granted:?}");
    assert_eq!(
        app.admin_get("/programs/cmp_default").await.body["openToSignup"],
        true
    );
    assert_eq!(
        app.admin_get(&format!("/programs/{private}")).await.body["openToSignup"],
        false
    );
}

async fn partner_key_mint_never_outlives_a_revoke(b: Backend) {
    let app = spawn_app(b).await;
    for round in 0..5 {
        let p = app
            .create_partner(&format!("race{round}@example.com"), false)
            .await;
        let id = p["id"].as_str().unwrap().to_string();
        let mint_path = format!("/partners/{id}/api-keys");
        let revoke_path = format!("/partners/{id}/revoke");
        let admin = app.admin_key.clone();
        let (mints, revoke) = tokio::join!(
            app.concurrently(8, Method::POST, &mint_path, Some(&admin), |_| Some(json!(
                {}
            ))),
            app.post(&revoke_path, &admin, json!({"reason": "race"})),
        );
        revoke.assert_status(200);
        // Every key minted in the race is dead now: none authenticates.
        for m in mints.iter().filter(|m| m.status == 201) {
            let key = m.body["plaintext"].as_str().unwrap();
            app.get("/auth/whoami", key)
                .await
                .assert_error(401, "unauthorized");
        }
        for m in mints.iter().filter(|m| m.status != 201) {
            m.assert_error(409, "partner_revoked");
        }
    }
}

async fn concurrent_links_lose_no_grant(b: Backend) {
    let app = spawn_app(b).await;
    let p = app.create_partner("grants@example.com", false).await;
    let id = p["id"].as_str().unwrap().to_string();
    app.call(
        Method::PATCH,
        &format!("/partners/{id}"),
        Some(&app.admin_key),
        Some(json!({"programIds": []})),
    )
    .await
    .assert_status(200);
    let mut programs = Vec::new();
    for i in 0..6 {
        programs.push(
            app.create_program(
                &format!("https://p{i}.example.com"),
                json!({"type": "percent", "value": 1}),
            )
            .await,
        );
    }
    let path = format!("/partners/{id}/links");
    let answers = app
        .concurrently(6, Method::POST, &path, Some(&app.admin_key), |i| {
            Some(json!({"linkKey": format!("grant-{i}"), "programId": programs[i]}))
        })
        .await;
    for a in &answers {
        a.assert_status(201);
    }
    let granted = app.admin_get(&format!("/partners/{id}")).await.body["programIds"].clone();
    for prog in &programs {
        assert!(
            granted.as_array().unwrap().contains(&json!(prog)),
            "{prog} lost: {granted}"
        );
    }
}

async fn approval_and_its_email_commit_together(b: Backend) {
    let app = spawn_app(b).await;
    app.admin_post(
        "/config/partner-signup",
        json!({"policy": "require_review"}),
    )
    .await
    .assert_status(200);
    app.call(
        Method::POST,
        "/partner-signup",
        None,
        Some(json!({"email": "review@example.com", "name": "R"})),
    )
    .await
    .assert_status(201);
    let list = app.admin_get("/partners?email=review@example.com").await;
    let id = list.body["partners"][0]["id"].as_str().unwrap().to_string();
    let answers = app
        .concurrently(
            6,
            Method::POST,
            &format!("/partners/{id}/approve"),
            Some(&app.admin_key),
            |_| None,
        )
        .await;
    assert_eq!(answers.iter().filter(|a| a.status == 200).count(), 1);
    // Exactly one approval email, with a working sign-in link.
    let mails = app.wait_for_mails("review@example.com", 2).await;
    assert_eq!(mails.len(), 2, "the sign-up confirmation and one approval");
    let token = mails[1].magic_token().unwrap();
    let (a, session) = app.verify(&token).await;
    a.assert_status(200);
    assert!(session.is_some());
}

both_backends!(
    console_sessions_live_as_long_as_their_key,
    cookies_need_their_csrf_token_and_kind,
    signup_says_the_same_to_everyone,
    partner_key_mint_never_outlives_a_revoke,
    concurrent_links_lose_no_grant,
    approval_and_its_email_commit_together,
);
