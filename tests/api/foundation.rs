//! Health, readiness, the error shapes every endpoint shares, request ids and OpenAPI.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, answer, spawn_app};

async fn health_ready_and_request_ids(b: Backend) {
    let app = spawn_app(b).await;
    let a = app.call(Method::GET, "/health", None, None).await;
    assert_eq!(a.assert_status(200), &json!({"status": "ok"}));
    let generated = a
        .header("x-request-id")
        .expect("request id generated")
        .to_string();
    assert_eq!(generated.len(), 26, "a ULID");
    app.call(Method::GET, "/ready", None, None)
        .await
        .assert_status(200);

    let res = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "client-chosen-id")
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], "client-chosen-id");
    // A long one is kept cut to 100 characters, in the answer as in the logs.
    let long = "r".repeat(500);
    let res = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", &long)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["x-request-id"], &long[..100]);
}

async fn ready_is_503_when_the_database_is_gone(b: Backend) {
    let app = spawn_app(b).await;
    app.call(Method::GET, "/ready", None, None)
        .await
        .assert_status(200);
    app.state.db.close().await;
    let a = app.call(Method::GET, "/ready", None, None).await;
    a.assert_error(503, "database_unavailable");
    // Liveness does not depend on the database.
    app.call(Method::GET, "/health", None, None)
        .await
        .assert_status(200);
}

async fn every_error_has_the_json_shape(b: Backend) {
    let app = spawn_app(b).await;
    let key = app.admin_key.clone();

    app.get("/no/such/route", &key)
        .await
        .assert_error(404, "not_found");
    app.call(Method::DELETE, "/health", None, None)
        .await
        .assert_error(405, "method_not_allowed");

    let send_raw = |content_type: Option<&'static str>, body: Vec<u8>| {
        let mut req = app
            .client
            .post(app.url("/api-keys/scoped"))
            .bearer_auth(&key)
            .body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req.send()
    };
    let a = answer(
        send_raw(Some("application/json"), b"{\"scopes\": [".to_vec())
            .await
            .unwrap(),
    )
    .await;
    a.assert_error(400, "invalid_json");
    let a = answer(send_raw(Some("text/plain"), b"{}".to_vec()).await.unwrap()).await;
    a.assert_error(415, "unsupported_media_type");
    let a = answer(send_raw(None, b"{}".to_vec()).await.unwrap()).await;
    a.assert_error(415, "unsupported_media_type");
    let mut huge = b"{\"scopes\": [\"".to_vec();
    huge.extend(std::iter::repeat_n(b'a', 1024 * 1024 + 10));
    huge.extend(b"\"]}");
    let a = answer(send_raw(Some("application/json"), huge).await.unwrap()).await;
    a.assert_error(413, "payload_too_large");

    // Shape errors name the field.
    let a = app
        .admin_post("/api-keys/scoped", json!({"scopes": "partners:read"}))
        .await;
    assert!(a.assert_error(400, "invalid_body")["detail"]["scopes"].is_string());
    let a = app
        .admin_post(
            "/api-keys/scoped",
            json!({"scopes": ["partners:read"], "lable": "typo"}),
        )
        .await;
    a.assert_error(400, "invalid_body");
    let a = app
        .admin_post(
            "/api-keys/scoped",
            json!({"scopes": ["partners:read", "root"]}),
        )
        .await;
    let detail = &a.assert_error(400, "invalid_body")["detail"];
    assert!(detail["scopes"].as_str().unwrap().contains("root"));
    let a = app
        .admin_post("/api-keys/scoped", json!({"scopes": []}))
        .await;
    a.assert_error(400, "invalid_body");
    let a = app
        .admin_post(
            "/api-keys/scoped",
            json!({"scopes": ["links:read"], "label": "x".repeat(101)}),
        )
        .await;
    assert!(a.assert_error(400, "invalid_body")["detail"]["label"].is_string());
}

/// PostgreSQL cannot store a NUL character, so no backend accepts one: a body, query string or
/// path holding one is bad input, never a 500.
async fn nul_characters_are_bad_input(b: Backend) {
    let app = spawn_app(b).await;
    let program = app
        .create_program(
            "https://example.com/",
            json!({"type": "percent", "value": 10}),
        )
        .await;
    let partner = app.create_partner("nul@example.test", false).await;
    let partner = partner["id"].as_str().unwrap();
    app.create_link(partner, "nulkey", &program).await;

    let click = |utm: &str| json!({"id": ulid::Ulid::new().to_string(), "linkKey": "nulkey", "utmSource": utm});
    let a = app.admin_post("/clicks", click("a\u{0}b")).await;
    let detail = &a.assert_error(400, "invalid_body")["detail"];
    assert!(
        detail["utmSource"].as_str().unwrap().contains("NUL"),
        "{detail}"
    );
    app.admin_post("/clicks", click("ab"))
        .await
        .assert_status(201);
    // An escaped backslash followed by `u0000` is plain text.
    let a = app
        .admin_post("/api-keys", json!({"label": "C:\\u0000"}))
        .await;
    assert_eq!(a.assert_status(201)["label"], "C:\\u0000");

    app.admin_get("/partners?email=a%00b")
        .await
        .assert_error(400, "invalid_query");
    app.admin_get(&format!("/partners/{partner}%00"))
        .await
        .assert_error(404, "not_found");
    app.admin_get(&format!("/partners/{partner}"))
        .await
        .assert_status(200);
}

async fn openapi_documents_the_endpoints(b: Backend) {
    let app = spawn_app(b).await;
    let a = app.call(Method::GET, "/openapi.json", None, None).await;
    let spec = a.assert_status(200);
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let paths = spec["paths"].as_object().unwrap();
    for (path, method) in [
        ("/health", "get"),
        ("/ready", "get"),
        ("/api-keys", "get"),
        ("/api-keys", "post"),
        ("/api-keys/scoped", "post"),
        ("/api-keys/{id}", "delete"),
        ("/auth/introspect", "get"),
        ("/programs", "get"),
        ("/programs", "post"),
        ("/programs/{id}", "get"),
        ("/programs/{id}", "patch"),
        ("/partners", "get"),
        ("/partners", "post"),
        ("/partners/{id}", "get"),
        ("/partners/{id}", "patch"),
        ("/partners/{id}/invite", "post"),
        ("/partners/{id}/revoke", "post"),
        ("/partners/{id}/reinstate", "post"),
        ("/partners/{id}/approve", "post"),
        ("/partners/{id}/commission-snapshot", "get"),
        ("/partners/{id}/commission-snapshot", "put"),
        ("/partners/{id}/commission-snapshot", "delete"),
        ("/partners/{id}/api-keys", "get"),
        ("/partners/{id}/api-keys", "post"),
        ("/partners/{id}/api-keys/{key_id}", "delete"),
        ("/auth/magic", "get"),
        ("/auth/magic/verify", "post"),
        ("/auth/whoami", "get"),
        ("/auth/signout", "post"),
        ("/auth/signin", "post"),
        ("/partner-signup", "post"),
        ("/config/partner-signup", "get"),
        ("/config/partner-signup", "post"),
        ("/partners/{id}/links", "get"),
        ("/partners/{id}/links", "post"),
        ("/r/{link_key}", "get"),
        ("/clicks", "post"),
        ("/events", "post"),
        ("/identify", "post"),
        ("/commissions", "get"),
        ("/partners/{id}/commissions", "get"),
        ("/commissions/{id}/approve", "post"),
        ("/commissions/{id}/pay", "post"),
        ("/commissions/{id}/reverse", "post"),
        ("/partners/{id}/dashboard", "get"),
        ("/config/network", "get"),
        ("/config/network", "post"),
        ("/config/network", "delete"),
        ("/config/network/auto-enroll", "post"),
        ("/config/network/start-connect", "post"),
        ("/config/network/complete-connect", "post"),
        ("/admin/network/complete", "get"),
        ("/admin/network/me", "get"),
        ("/admin/network/heartbeat", "post"),
        ("/uploads/logo", "post"),
        ("/uploads/logo", "get"),
        ("/admin/network/outbox", "get"),
        ("/admin/network/outbox/{id}/retry", "post"),
        ("/config/network/backfill", "post"),
        ("/config/network/backfill", "get"),
        ("/admin/network/requests", "get"),
        ("/admin/network/requests/{id}/approve", "post"),
        ("/admin/network/requests/{id}/reject", "post"),
        ("/admin/network/discover/creators", "get"),
        ("/admin/network/offerings/{id}/invite-creator", "post"),
        ("/admin/network/offerings", "get"),
        ("/admin/session", "post"),
        ("/admin/session", "get"),
        ("/admin/session/signout", "post"),
        ("/admin/network", "get"),
        ("/admin/partners", "get"),
        ("/admin/programs", "get"),
        ("/admin/mail", "get"),
        ("/admin/mail/messages", "get"),
        ("/admin/mail/messages/{id}/retry", "post"),
        ("/config/brand", "get"),
        ("/config/brand", "put"),
    ] {
        let op = &paths[path][method];
        assert!(op.is_object(), "{method} {path} missing from /openapi.json");
        assert!(
            op["responses"].is_object(),
            "{method} {path} has no responses"
        );
    }
    assert!(spec["components"]["schemas"]["ErrorBody"].is_object());

    // What openapi-spec-validator checks first (scripts/api-check.sh runs the validator itself):
    // unique operation ids, and path parameters declared exactly as the template names them.
    let mut ids = std::collections::BTreeSet::new();
    for (path, ops) in paths {
        let template: std::collections::BTreeSet<&str> = path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for (method, op) in ops.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap_or_default();
            assert!(
                ids.insert(id),
                "operationId {id} of {method} {path} is not unique"
            );
            let declared: std::collections::BTreeSet<&str> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "path")
                .filter_map(|p| p["name"].as_str())
                .collect();
            assert_eq!(declared, template, "path parameters of {method} {path}");
        }
    }
}

both_backends!(
    health_ready_and_request_ids,
    ready_is_503_when_the_database_is_gone,
    every_error_has_the_json_shape,
    nul_characters_are_bad_input,
    openapi_documents_the_endpoints,
);
