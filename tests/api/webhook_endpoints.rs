//! Webhook endpoints: create (the secret once), list, get, patch, delete, and their
//! validation; admin only; the secret never again, nor in the logs.

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, captured_logs};
use crate::webhooks::setup;

async fn endpoints_are_managed_and_validated(b: Backend) {
    let (app, rx) = setup(b, &[]).await;
    let url = rx.url("/hooks/crm");
    let a = app
        .admin_post(
            "/webhooks",
            json!({"url": url, "events": ["partner.created", "link.created", "link.created"], "description": "CRM"}),
        )
        .await;
    let created = a.assert_status(201).clone();
    let secret = created["secret"].as_str().unwrap().to_string();
    let raw = secret.strip_prefix("whsec_").expect("whsec_ prefix");
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .unwrap();
    assert_eq!(bytes.len(), 24);
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(
        created["events"],
        json!(["link.created", "partner.created"])
    );
    assert_eq!(created["enabled"], true);
    assert_eq!(created["description"], "CRM");
    assert!(created["createdAt"].is_string());
    // Never again: not in the list, not in one endpoint, not in the logs.
    let list = app.admin_get("/webhooks").await;
    assert!(!list.text.contains(raw), "{}", list.text);
    let listed = &list.assert_status(200)["webhooks"][0];
    for key in ["id", "url", "events", "enabled", "description", "createdAt"] {
        assert!(listed.get(key).is_some(), "{key} missing: {listed}");
    }
    assert!(listed.get("secret").is_none());
    let one = app.admin_get(&format!("/webhooks/{id}")).await;
    assert_eq!(one.assert_status(200), listed);
    // PATCH: every field, null clears the description.
    let path = format!("/webhooks/{id}");
    let patch = |body: Value| app.call(Method::PATCH, &path, Some(&app.admin_key), Some(body));
    let a = patch(json!({"events": ["*"], "description": null})).await;
    assert_eq!(a.assert_status(200)["events"], json!(["*"]));
    assert_eq!(a.body["description"], Value::Null);
    let a = patch(json!({"enabled": false})).await;
    assert_eq!(a.assert_status(200)["enabled"], false);
    assert_eq!(a.body["disabledReason"], "admin");
    let a = patch(json!({"enabled": true, "url": rx.url("/hooks/other")})).await;
    assert_eq!(a.assert_status(200)["enabled"], true);
    assert_eq!(a.body["url"], rx.url("/hooks/other"));
    assert_eq!(a.body["disabledReason"], Value::Null);
    // Bad input is a 400 naming the field, never a 500.
    for (body, field) in [
        (
            json!({"url": url, "events": ["partner.exploded"]}),
            "events",
        ),
        (json!({"url": url, "events": []}), "events"),
        (json!({"url": url}), "events"),
        (
            json!({"url": "ftp://example.com/x", "events": ["*"]}),
            "url",
        ),
        (json!({"url": "not a url", "events": ["*"]}), "url"),
        (json!({"events": ["*"]}), "url"),
        (
            json!({"url": url, "events": ["*"], "secret": "mine"}),
            "secret",
        ),
    ] {
        let a = app.admin_post("/webhooks", body.clone()).await;
        let e = a.assert_error(400, "invalid_body");
        assert!(e["detail"].get(field).is_some(), "{body}: {}", a.text);
    }
    patch(json!({"events": ["webhook.test"]}))
        .await
        .assert_error(400, "invalid_body");
    // Admin only.
    let scoped = app.scoped_key(&["partners:read", "partners:write"]).await;
    app.get("/webhooks", &scoped)
        .await
        .assert_error(403, "forbidden");
    app.call(Method::GET, "/webhooks", None, None)
        .await
        .assert_error(401, "unauthorized");
    // Unknown ids and cursors.
    app.admin_get("/webhooks/wh_nope")
        .await
        .assert_error(404, "not_found");
    app.admin_get(&format!("/webhooks/{id}/deliveries?status=lost"))
        .await
        .assert_error(400, "invalid_query");
    app.admin_get(&format!("/webhooks/{id}/deliveries?cursor=forged"))
        .await
        .assert_error(400, "invalid_cursor");
    app.admin_post(
        &format!("/webhooks/{id}/deliveries/whd_nope/retry"),
        json!({}),
    )
    .await
    .assert_error(404, "not_found");
    // Delete.
    let a = app
        .call(Method::DELETE, &path, Some(&app.admin_key), None)
        .await;
    assert_eq!(a.assert_status(200), &json!({"ok": true}));
    app.admin_get(&path).await.assert_error(404, "not_found");
    app.call(Method::DELETE, &path, Some(&app.admin_key), None)
        .await
        .assert_error(404, "not_found");
    assert!(
        !captured_logs().contains(raw),
        "the secret reached the logs"
    );
}

both_backends!(endpoints_are_managed_and_validated);
