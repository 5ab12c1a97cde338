//! Self-signup under both policies, sign-in without account enumeration (a revoked partner is
//! told why by email, and by its magic-link page), and per-IP rate limits.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, spawn_app, spawn_app_with};

async fn self_signup_auto_approve(b: Backend) {
    let app = spawn_app(b).await;
    assert_eq!(
        app.admin_get("/config/partner-signup")
            .await
            .assert_status(200),
        &json!({"policy": "auto_approve", "disabled": false})
    );
    let a = app
        .call(Method::POST, "/partner-signup", None,
            Some(json!({"email": "Creator@Example.com", "name": "Creator", "profile": {"handle": "@c"}})))
        .await;
    let body = a.assert_status(201).clone();
    assert_eq!(body, json!({"ok": true, "status": "active"}));
    let id = app.partner_id_by_email("creator@example.com").await;
    let token = app.latest_token("creator@example.com", 1).await;
    let (a, session) = app.verify(&token).await;
    assert_eq!(a.assert_status(200)["status"], "active");
    let session = session.unwrap();
    let me = app.get(&format!("/partners/{id}"), &session).await;
    assert!(me.assert_status(200)["activatedAt"].is_string());

    let a = app
        .call(
            Method::POST,
            "/partner-signup",
            None,
            Some(json!({"email": "creator@example.com", "name": "Again"})),
        )
        .await;
    // The same answer as for a new address (no enumeration); the partner gets a sign-in link.
    assert_eq!(
        a.assert_status(201),
        &json!({"ok": true, "status": "active"})
    );
    let mails = app.wait_for_mails("creator@example.com", 2).await;
    assert!(mails[1].magic_token().is_some(), "a sign-in link");
    assert!(!mails[1].raw.contains("Again"), "nothing the caller wrote");

    let a = app
        .call(
            Method::POST,
            "/partner-signup",
            None,
            Some(json!({"email": "nope", "name": ""})),
        )
        .await;
    let d = &a.assert_error(400, "invalid_body")["detail"];
    assert!(d["email"].is_string() && d["name"].is_string());
}

async fn self_signup_require_review_and_disabled(b: Backend) {
    let app = spawn_app(b).await;
    let a = app
        .admin_post(
            "/config/partner-signup",
            json!({"policy": "require_review"}),
        )
        .await;
    assert_eq!(
        a.assert_status(200),
        &json!({"policy": "require_review", "disabled": false})
    );
    let a = app
        .call(
            Method::POST,
            "/partner-signup",
            None,
            Some(json!({"email": "rev@example.com", "name": "Rev"})),
        )
        .await;
    let body = a.assert_status(201).clone();
    assert_eq!(body["status"], "pending_review");
    let id = app.partner_id_by_email("rev@example.com").await;
    let token = app.latest_token("rev@example.com", 1).await;
    // The link verifies the email but does not activate, and opens no session.
    let (a, session) = app.verify(&token).await;
    assert_eq!(a.assert_status(200)["status"], "pending_review");
    assert!(session.is_none());
    let p = app.admin_get(&format!("/partners/{id}")).await;
    assert_eq!(p.body["activatedAt"], serde_json::Value::Null);
    assert_eq!(p.body["status"], "pending_review");
    // No sign-in link before approval.
    app.call(
        Method::POST,
        "/auth/signin",
        None,
        Some(json!({"email": "rev@example.com"})),
    )
    .await
    .assert_status(200);

    let a = app
        .admin_post(&format!("/partners/{id}/approve"), json!({}))
        .await;
    let approved = a.assert_status(200);
    assert!(approved["partner"]["activatedAt"].is_string());
    assert_eq!(approved["partner"]["status"], "active");
    app.admin_post(&format!("/partners/{id}/approve"), json!({}))
        .await
        .assert_error(409, "not_pending_review");
    let mails = app.wait_for_mails("rev@example.com", 2).await;
    assert_eq!(mails.len(), 2, "only the signup and the approval emails");
    let (a, session) = app.verify(&mails[1].magic_token().unwrap()).await;
    a.assert_status(200);
    app.get(&format!("/partners/{id}"), &session.unwrap())
        .await
        .assert_status(200);

    // Omitted fields keep their value.
    let a = app
        .admin_post("/config/partner-signup", json!({"disabled": true}))
        .await;
    assert_eq!(
        a.assert_status(200),
        &json!({"policy": "require_review", "disabled": true})
    );
    let a = app
        .call(
            Method::POST,
            "/partner-signup",
            None,
            Some(json!({"email": "late@example.com", "name": "Late"})),
        )
        .await;
    a.assert_error(403, "signup_disabled");
    app.admin_post("/config/partner-signup", json!({"policy": "open"}))
        .await
        .assert_error(400, "invalid_body");
    let key = app.scoped_key(&["partners:write"]).await;
    app.get("/config/partner-signup", &key)
        .await
        .assert_error(403, "forbidden");
}

async fn signin_does_not_reveal_accounts(b: Backend) {
    let app = spawn_app(b).await;
    app.create_partner("known@example.com", false).await;
    app.create_partner("pending@example.com", true).await;
    for email in [
        "known@example.com",
        "unknown@example.com",
        "pending@example.com",
        "not an email",
    ] {
        let a = app
            .call(
                Method::POST,
                "/auth/signin",
                None,
                Some(json!({"email": email})),
            )
            .await;
        assert_eq!(a.assert_status(200), &json!({"ok": true}), "{email}");
    }
    let mails = app.wait_for_mails("known@example.com", 1).await;
    assert!(mails[0].subject().contains("sign-in"));
    assert!(app.mails_to("unknown@example.com").is_empty());
    assert_eq!(
        app.mails_to("pending@example.com").len(),
        1,
        "only its invite"
    );
}

async fn a_revoked_partner_signing_in_is_told_why_by_email_only(b: Backend) {
    let app = spawn_app(b).await;
    let p = app.create_partner("rev@example.com", true).await;
    let id = p["id"].as_str().unwrap().to_string();
    let invite = app.latest_token("rev@example.com", 1).await;
    app.verify(&invite).await.0.assert_status(200);
    // A sign-in link issued before the revoke: its page will say why it cannot be used.
    app.call(
        Method::POST,
        "/auth/signin",
        None,
        Some(json!({"email": "rev@example.com"})),
    )
    .await
    .assert_status(200);
    let earlier = app.latest_token("rev@example.com", 2).await;
    let reason = "Chargebacks & <self-referrals>";
    app.admin_post(
        &format!("/partners/{id}/revoke"),
        json!({"reason": reason, "notify": false}),
    )
    .await
    .assert_status(200);

    // The answer is exactly the one anybody gets: same status, headers that matter, body.
    let ask = |email: &'static str| {
        let app = &app;
        async move {
            app.call(
                Method::POST,
                "/auth/signin",
                None,
                Some(json!({"email": email})),
            )
            .await
        }
    };
    let revoked = ask("REV@example.com").await;
    let unknown = ask("nobody@example.com").await;
    assert_eq!(revoked.status, unknown.status);
    assert_eq!(revoked.text, unknown.text);
    assert_eq!(
        revoked.header("content-type"),
        unknown.header("content-type")
    );
    assert_eq!(revoked.assert_status(200), &json!({"ok": true}));

    // The mail says the access is suspended, and why; it carries no sign-in link.
    let mails = app.wait_for_mails("rev@example.com", 3).await;
    let notice = &mails[2];
    assert_eq!(
        notice.subject(),
        "Your OpenPartner partner account is suspended"
    );
    assert!(notice.magic_token().is_none(), "no sign-in link");
    assert!(
        notice.raw.contains(&format!("Reason: {reason}")),
        "{}",
        notice.raw
    );
    assert!(
        notice
            .raw
            .contains("Chargebacks &amp; &lt;self-referrals&gt;"),
        "the HTML part is escaped: {}",
        notice.raw
    );
    assert!(app.mails_to("nobody@example.com").is_empty());

    // The magic-link page of a revoked partner states the reason, without the sign-in button.
    let page = app
        .client
        .get(app.url(&format!("/auth/magic?token={earlier}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("suspended"), "{html}");
    assert!(
        html.contains("Chargebacks &amp; &lt;self-referrals&gt;"),
        "{html}"
    );
    assert!(
        !html.contains(&earlier) && !html.contains("<self-referrals>"),
        "{html}"
    );
    // The page only read the link: once reinstated, the partner can still use it.
    app.admin_post(&format!("/partners/{id}/reinstate"), json!({}))
        .await
        .assert_status(200);
    let page = app
        .client
        .get(app.url(&format!("/auth/magic?token={earlier}")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&earlier) && !page.contains("suspended"));
    let (a, session) = app.verify(&earlier).await;
    a.assert_status(200);
    assert!(session.is_some());
}

async fn public_endpoints_are_rate_limited_per_ip(b: Backend) {
    let app = spawn_app_with(b, &[("OPENPARTNER_RATE_LIMIT_PER_MINUTE", "3")]).await;
    for i in 0..3 {
        app.call(
            Method::POST,
            "/auth/signin",
            None,
            Some(json!({"email": format!("x{i}@example.com")})),
        )
        .await
        .assert_status(200);
    }
    let a = app
        .call(
            Method::POST,
            "/auth/signin",
            None,
            Some(json!({"email": "x@example.com"})),
        )
        .await;
    a.assert_error(429, "rate_limited");
    assert!(a.header("retry-after").unwrap().parse::<u64>().unwrap() >= 1);
    // Budgets are per endpoint.
    for _ in 0..3 {
        app.call(
            Method::POST,
            "/auth/magic/verify",
            None,
            Some(json!({"token": "opml_x"})),
        )
        .await
        .assert_error(400, "invalid_or_expired_token");
    }
    app.call(
        Method::POST,
        "/auth/magic/verify",
        None,
        Some(json!({"token": "opml_x"})),
    )
    .await
    .assert_error(429, "rate_limited");
    for i in 0..3 {
        app.call(
            Method::POST,
            "/partner-signup",
            None,
            Some(json!({"email": format!("s{i}@example.com"), "name": "S"})),
        )
        .await
        .assert_status(201);
    }
    app.call(
        Method::POST,
        "/partner-signup",
        None,
        Some(json!({"email": "s9@example.com", "name": "S"})),
    )
    .await
    .assert_error(429, "rate_limited");
}

both_backends!(
    self_signup_auto_approve,
    self_signup_require_review_and_disabled,
    signin_does_not_reveal_accounts,
    a_revoked_partner_signing_in_is_told_why_by_email_only,
    public_endpoints_are_rate_limited_per_ip,
);
