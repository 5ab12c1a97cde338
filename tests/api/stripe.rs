//! Stripe Connect onboarding against the Stripe simulator: start → the partner visits the link
//! → the signed `account.updated` reaches our webhook and is recorded → status shows payouts
//! enabled. Who may onboard whom, a key-less instance, and Stripe's refusals and lost answers.

use openpartner::domain::ids::PartnerId;
use openpartner::stripe_sim::Fault;
use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, spawn_app, spawn_with_stripe};

fn urls(app: &crate::helpers::TestApp) -> serde_json::Value {
    json!({"returnUrl": app.url("/health?onboarded=1"), "refreshUrl": app.url("/health?again=1")})
}

async fn onboarding_start_link_webhook_and_status(b: Backend) {
    let (app, sim) = spawn_with_stripe(b, &[]).await;
    let p = app.create_partner("ann@example.com", false).await;
    let id = p["id"].as_str().unwrap().to_string();
    let key = app.partner_key(&id).await;
    let start = format!("/partners/{id}/connect/start");
    let status = format!("/partners/{id}/connect/status");

    // Before any onboarding: no account, nothing asked of Stripe.
    let s = app.get(&status, &key).await;
    assert_eq!(
        s.assert_status(200),
        &json!({"accountId": null, "detailsSubmitted": false, "payoutsEnabled": false})
    );
    assert!(sim.requests().is_empty());

    let a = app.post(&start, &key, urls(&app)).await;
    let link = a.assert_status(200).clone();
    let account = link["accountId"].as_str().unwrap().to_string();
    assert!(account.starts_with("acct_"), "{account}");
    // Audited as the partner's own key: the account id, not the onboarding link.
    let rows = app.audit_rows("partner.connect_start").await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0]["targetId"], id.as_str());
    assert_eq!(
        rows[0]["changes"],
        json!({"stripeConnectAccountId": {"before": null, "after": account}})
    );
    assert!(!rows[0].to_string().contains(link["url"].as_str().unwrap()));
    assert!(
        link["url"].as_str().unwrap().starts_with(&sim.url),
        "{link}"
    );
    assert!(link["expiresAt"].as_str().unwrap().ends_with('Z'), "{link}");
    // The wire: an Express account for the partner, made under a key derived from its id.
    let made = sim.requests_to("POST", "/v1/accounts");
    assert_eq!(made.len(), 1);
    let r = &made[0];
    assert_eq!(
        r.idempotency_key.as_deref(),
        Some(format!("openpartner_connect_account_{id}").as_str())
    );
    for (k, v) in [
        ("type", "express"),
        ("email", "ann@example.com"),
        ("capabilities[transfers][requested]", "true"),
        ("metadata[partner_id]", id.as_str()),
    ] {
        assert_eq!(r.field(k), Some(v), "{k}");
    }
    let l = sim.requests_to("POST", "/v1/account_links").pop().unwrap();
    assert_eq!(l.field("account"), Some(account.as_str()));
    assert_eq!(l.field("type"), Some("account_onboarding"));
    assert_eq!(
        l.field("return_url"),
        Some(app.url("/health?onboarded=1").as_str())
    );
    assert_eq!(
        l.field("refresh_url"),
        Some(app.url("/health?again=1").as_str())
    );
    assert_eq!(
        app.admin_get(&format!("/partners/{id}")).await.body["stripeConnectAccountId"],
        account.as_str()
    );
    let s = app.get(&status, &key).await;
    assert_eq!(
        s.assert_status(200),
        &json!({"accountId": account, "detailsSubmitted": false, "payoutsEnabled": false})
    );

    // Starting again reuses the account: a new link, no second account.
    let again = app.post(&start, &key, urls(&app)).await;
    assert_eq!(again.assert_status(200)["accountId"], account.as_str());
    assert_eq!(
        (
            sim.requests_to("POST", "/v1/accounts").len(),
            sim.accounts().len()
        ),
        (1, 1)
    );

    // The partner follows the link; Stripe sends it back to the return URL.
    let browser = reqwest::Client::new();
    let landed = browser
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(landed.status(), 200);
    assert_eq!(landed.url().as_str(), app.url("/health?onboarded=1"));
    // The signed account.updated reached our endpoint, was stored, then recorded.
    let delivery = sim.deliveries().pop().unwrap();
    assert_eq!(
        (delivery.event_type.as_str(), delivery.status),
        ("account.updated", Some(200))
    );
    let event = app
        .stripe_event_when(&delivery.event_id, |e| e["status"] != "pending")
        .await;
    assert_eq!(
        (event["status"].as_str(), event["outcome"].as_str()),
        (Some("processed"), Some("recorded"))
    );
    assert_eq!(event["objectId"], account.as_str());
    let stored = openpartner::db::stripe::connect_status(
        app.state.db.pool(),
        &PartnerId::from_string(id.clone()),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(
        (stored.details_submitted, stored.payouts_enabled),
        (Some(true), Some(true))
    );
    let s = app.get(&status, &key).await;
    assert_eq!(
        s.assert_status(200),
        &json!({"accountId": account, "detailsSubmitted": true, "payoutsEnabled": true})
    );
    // A used link sends the partner to the refresh URL.
    let back = browser
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(back.url().as_str(), app.url("/health?again=1"));

    // The admin may read it too; an admin changing the account clears the stored status.
    app.admin_get(&status).await.assert_status(200);
    app.call(
        Method::PATCH,
        &format!("/partners/{id}"),
        Some(&app.admin_key),
        Some(json!({"stripeConnectAccountId": "acct_elsewhere"})),
    )
    .await
    .assert_status(200);
    let stored =
        openpartner::db::stripe::connect_status(app.state.db.pool(), &PartnerId::from_string(id))
            .await
            .unwrap()
            .unwrap();
    assert_eq!(
        (stored.account_id.as_deref(), stored.payouts_enabled),
        (Some("acct_elsewhere"), None)
    );
}

async fn onboarding_is_for_the_partner_itself_or_an_admin(b: Backend) {
    let (app, sim) = spawn_with_stripe(b, &[]).await;
    let a = app.create_partner("a@example.com", false).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let other = app.create_partner("b@example.com", false).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let key_a = app.partner_key(&a).await;
    let scoped = app.scoped_key(&["partners:read", "partners:write"]).await;
    for path in [
        format!("/partners/{other}/connect/start"),
        "/partners/nobody/connect/start".into(),
    ] {
        app.post(&path, &key_a, urls(&app))
            .await
            .assert_error(403, "forbidden");
        app.post(&path, &scoped, urls(&app))
            .await
            .assert_error(403, "forbidden");
    }
    app.get(&format!("/partners/{other}/connect/status"), &key_a)
        .await
        .assert_error(403, "forbidden");
    app.get(&format!("/partners/{other}/connect/status"), &scoped)
        .await
        .assert_error(403, "forbidden");
    assert!(sim.requests().is_empty(), "nothing reached Stripe");
    app.admin_post("/partners/nobody/connect/start", urls(&app))
        .await
        .assert_error(404, "not_found");

    // Strict body: both URLs absolute http(s), nothing else.
    let bad = app
        .post(
            &format!("/partners/{a}/connect/start"),
            &key_a,
            json!({"returnUrl": "/done", "refreshUrl": "ftp://x.example/"}),
        )
        .await;
    let detail = bad.assert_error(400, "invalid_body")["detail"].clone();
    assert!(
        detail.get("returnUrl").is_some() && detail.get("refreshUrl").is_some(),
        "{detail}"
    );
    let missing = app
        .post(
            &format!("/partners/{a}/connect/start"),
            &key_a,
            json!({"returnUrl": "https://x.example/"}),
        )
        .await;
    assert!(
        missing.assert_error(400, "invalid_body")["detail"]
            .get("refreshUrl")
            .is_some()
    );
    let mut extra = urls(&app);
    extra["accountId"] = json!("acct_mine");
    app.post(&format!("/partners/{a}/connect/start"), &key_a, extra)
        .await
        .assert_error(400, "invalid_body");
    assert!(sim.requests().is_empty());

    // The admin onboards another partner; a revoked partner is not onboarded.
    let made = app
        .admin_post(&format!("/partners/{other}/connect/start"), urls(&app))
        .await;
    made.assert_status(200);
    app.admin_post(&format!("/partners/{a}/revoke"), json!({"notify": false}))
        .await
        .assert_status(200);
    app.admin_post(&format!("/partners/{a}/connect/start"), urls(&app))
        .await
        .assert_error(409, "partner_revoked");
}

async fn without_a_stripe_key_onboarding_is_unavailable(b: Backend) {
    let app = spawn_app(b).await;
    let id = app.create_partner("c@example.com", false).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.admin_post(&format!("/partners/{id}/connect/start"), urls(&app))
        .await
        .assert_error(503, "stripe_not_configured");
    app.admin_get(&format!("/partners/{id}/connect/status"))
        .await
        .assert_error(503, "stripe_not_configured");
}

async fn stripe_refusals_and_lost_answers(b: Backend) {
    let (app, sim) = spawn_with_stripe(b, &[]).await;
    let id = app.create_partner("d@example.com", false).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let start = format!("/partners/{id}/connect/start");
    // The account's creation runs at Stripe but its answer is lost: 502, and the retry gets
    // the same account back through the idempotency key.
    sim.inject(Fault {
        count: 1,
        path: Some("/v1/accounts".into()),
        drop_after_processing: true,
        ..Default::default()
    });
    app.admin_post(&start, urls(&app))
        .await
        .assert_error(502, "stripe_call_failed");
    assert_eq!(sim.accounts().len(), 1);
    assert_eq!(
        app.admin_get(&format!("/partners/{id}")).await.body["stripeConnectAccountId"],
        json!(null)
    );
    // Stripe refuses the link: 502 with Stripe's code and message; the account is kept.
    sim.inject(Fault {
        count: 1,
        path: Some("/v1/account_links".into()),
        status: Some(400),
        body: Some(r#"{"error":{"type":"invalid_request_error","code":"account_invalid","message":"The account is not valid."}}"#.into()),
        ..Default::default()
    });
    let refused = app.admin_post(&start, urls(&app)).await;
    let body = refused.assert_error(502, "stripe_call_failed").clone();
    assert!(
        body["detail"]
            .as_str()
            .unwrap()
            .contains("account_invalid: The account is not valid."),
        "{body}"
    );
    assert_eq!(body["stripeCode"], "account_invalid");
    let account = sim.accounts()[0].id.clone();
    assert_eq!(
        app.admin_get(&format!("/partners/{id}")).await.body["stripeConnectAccountId"],
        account.as_str()
    );
    let ok = app.admin_post(&start, urls(&app)).await;
    assert_eq!(ok.assert_status(200)["accountId"], account.as_str());
    assert_eq!(
        (
            sim.accounts().len(),
            sim.requests_to("POST", "/v1/accounts").len()
        ),
        (1, 2)
    );
    // A status read Stripe cannot answer.
    sim.inject(Fault {
        count: 1,
        path: Some("/v1/accounts/".into()),
        status: Some(500),
        ..Default::default()
    });
    app.admin_get(&format!("/partners/{id}/connect/status"))
        .await
        .assert_error(502, "stripe_call_failed");
}

both_backends!(
    onboarding_start_link_webhook_and_status,
    onboarding_is_for_the_partner_itself_or_an_admin,
    without_a_stripe_key_onboarding_is_unavailable,
    stripe_refusals_and_lost_answers,
);
