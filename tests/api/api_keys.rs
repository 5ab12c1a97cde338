//! API keys over HTTP: minting, listing without secrets, hashing at rest, revocation (local and
//! across replicas), scope and role checks, and introspection.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::json;
use sqlx::Row;

use crate::both_backends;
use crate::helpers::{Backend, spawn_app, spawn_app_with};

async fn admin_and_scoped_keys_are_minted_and_listed(b: Backend) {
    let app = spawn_app(b).await;
    let a = app.admin_post("/api-keys", json!({"label": "ops"})).await;
    let created = a.assert_status(201).clone();
    let plaintext = created["plaintext"].as_str().unwrap();
    assert!(plaintext.starts_with("op_") && plaintext.len() == 51);
    assert!(plaintext.starts_with(created["prefix"].as_str().unwrap()));
    assert_eq!(created["label"], "ops");
    assert!(created["createdAt"].as_str().unwrap().ends_with('Z'));

    // The new admin key works, also with a lowercase scheme.
    let res = app
        .client
        .get(app.url("/api-keys"))
        .header("authorization", format!("bearer {plaintext}"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // A POST with no body at all is fine for the admin key.
    let a = app
        .call(Method::POST, "/api-keys", Some(&app.admin_key), None)
        .await;
    a.assert_status(201);

    let a = app
        .admin_post(
            "/api-keys/scoped",
            json!({"scopes": ["partners:read", "links:write"], "label": "network"}),
        )
        .await;
    let scoped = a.assert_status(201).clone();
    assert_eq!(scoped["scopes"], json!(["partners:read", "links:write"]));

    let list = app.admin_get("/api-keys").await;
    let keys = list.assert_status(200)["apiKeys"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(keys.len(), 4, "test admin + 2 admin + 1 scoped");
    let listed = keys.iter().find(|k| k["id"] == scoped["id"]).unwrap();
    assert_eq!(listed["kind"], "scoped");
    assert_eq!(listed["scopes"], json!(["partners:read", "links:write"]));
    assert_eq!(listed["revokedAt"], json!(null));
    for field in [
        "id",
        "prefix",
        "label",
        "kind",
        "scopes",
        "partnerId",
        "createdAt",
        "lastUsedAt",
        "revokedAt",
    ] {
        assert!(listed.get(field).is_some(), "{field} missing");
    }
    // Never a secret or a hash in a listing.
    assert!(!list.text.contains(plaintext));
    assert!(!list.text.contains(scoped["plaintext"].as_str().unwrap()));
    assert!(!list.text.contains("hash"));
}

async fn keys_are_stored_only_as_hashes(b: Backend) {
    let app = spawn_app(b).await;
    let key = app.scoped_key(&["partners:read"]).await;
    let rows = sqlx::query("SELECT id, prefix, key_hash, kind, scopes, label FROM api_keys")
        .fetch_all(app.state.db.pool())
        .await
        .unwrap();
    let expected_hash = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(key.as_bytes()))
    };
    let mut found = false;
    for row in rows {
        for i in 0..6 {
            let v: Option<String> = row.get(i);
            assert_ne!(v.as_deref(), Some(key.as_str()), "a key is stored in clear");
            assert!(
                !v.unwrap_or_default().contains(&key[3..]),
                "key material stored"
            );
        }
        if row.get::<String, _>("key_hash") == expected_hash {
            found = true;
        }
    }
    assert!(found, "the SHA-256 of the key is what is stored");
}

async fn missing_unknown_and_malformed_keys_are_401(b: Backend) {
    let app = spawn_app(b).await;
    let a = app.call(Method::GET, "/api-keys", None, None).await;
    a.assert_error(401, "unauthorized");
    assert_eq!(a.header("www-authenticate"), Some("Bearer"));
    let unknown = format!("op_{}", "ab".repeat(24));
    app.get("/api-keys", &unknown)
        .await
        .assert_error(401, "unauthorized");
    app.get("/api-keys", "garbage")
        .await
        .assert_error(401, "unauthorized");
    let res = app
        .client
        .get(app.url("/api-keys"))
        .header("authorization", format!("Basic {}", app.admin_key))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

async fn revoked_key_fails_on_the_next_request(b: Backend) {
    let app = spawn_app(b).await;
    let a = app.admin_post("/api-keys", json!({})).await;
    let id = a.body["id"].as_str().unwrap().to_string();
    let key = a.body["plaintext"].as_str().unwrap().to_string();
    // Warm the cache so revocation must invalidate it.
    app.get("/api-keys", &key).await.assert_status(200);
    app.get("/api-keys", &key).await.assert_status(200);
    let a = app
        .call(
            Method::DELETE,
            &format!("/api-keys/{id}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    assert_eq!(a.assert_status(200), &json!({"ok": true}));
    app.get("/api-keys", &key)
        .await
        .assert_error(401, "unauthorized");
    let a = app
        .call(
            Method::DELETE,
            &format!("/api-keys/{id}"),
            Some(&app.admin_key),
            None,
        )
        .await;
    a.assert_error(404, "not_found");
    // lastUsedAt is written off the request path: wait for it (bounded).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let listed = app.admin_get("/api-keys").await;
        let row = listed.body["apiKeys"]
            .as_array()
            .unwrap()
            .iter()
            .find(|k| k["id"] == id)
            .unwrap()
            .clone();
        assert!(row["revokedAt"].is_string());
        if row["lastUsedAt"].is_string() {
            break;
        }
        assert!(Instant::now() < deadline, "use was never recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn revocation_reaches_another_replica(b: Backend) {
    let app = spawn_app_with(b, &[("OPENPARTNER_AUTH_CACHE_TTL_SECS", "1")]).await;
    // A second instance on the same database.
    let env: Vec<(String, String)> = app.env.clone().into_iter().collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let replica = crate::helpers::spawn_replica(b, &env).await;
    let key = app.scoped_key(&["partners:read"]).await;
    let listed = app.admin_get("/api-keys").await;
    let id = listed.body["apiKeys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| key.starts_with(k["prefix"].as_str().unwrap()) && k["kind"] == "scoped")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    replica
        .call(Method::GET, "/auth/introspect", Some(&key), None)
        .await
        .assert_status(200);
    app.call(
        Method::DELETE,
        &format!("/api-keys/{id}"),
        Some(&app.admin_key),
        None,
    )
    .await
    .assert_status(200);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let a = replica
            .call(Method::GET, "/auth/introspect", Some(&key), None)
            .await;
        if a.status == 401 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the replica still accepts a revoked key"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn scoped_keys_cannot_use_admin_routes(b: Backend) {
    let app = spawn_app(b).await;
    let key = app
        .scoped_key(&["partners:read", "partners:write", "links:write"])
        .await;
    app.get("/api-keys", &key)
        .await
        .assert_error(403, "forbidden");
    app.post("/api-keys", &key, json!({}))
        .await
        .assert_error(403, "forbidden");
    app.post(
        "/api-keys/scoped",
        &key,
        json!({"scopes": ["partners:read"]}),
    )
    .await
    .assert_error(403, "forbidden");
}

async fn introspect_describes_each_kind_of_key(b: Backend) {
    let app = spawn_app_with(b, &[("ADMIN_API_KEY", "configured-admin-key-0123456789")]).await;
    let a = app.admin_get("/auth/introspect").await;
    assert_eq!(
        a.assert_status(200),
        &json!({"role": "admin", "unrestricted": true})
    );
    let a = app
        .get("/auth/introspect", "configured-admin-key-0123456789")
        .await;
    assert_eq!(
        a.assert_status(200),
        &json!({"role": "admin", "unrestricted": true})
    );
    app.get("/api-keys", "configured-admin-key-0123456789")
        .await
        .assert_status(200);
    let key = app
        .scoped_key(&[
            "partners:read",
            "partners:write",
            "links:write",
            "commissions:read",
            "clicks:write",
        ])
        .await;
    let a = app.get("/auth/introspect", &key).await;
    assert_eq!(
        a.assert_status(200),
        &json!({"role": "scoped", "scopes": ["partners:read", "partners:write", "links:write", "commissions:read", "clicks:write"]})
    );
    app.call(Method::GET, "/auth/introspect", None, None)
        .await
        .assert_error(401, "unauthorized");
}

both_backends!(
    admin_and_scoped_keys_are_minted_and_listed,
    keys_are_stored_only_as_hashes,
    missing_unknown_and_malformed_keys_are_401,
    revoked_key_fails_on_the_next_request,
    revocation_reaches_another_replica,
    scoped_keys_cannot_use_admin_routes,
    introspect_describes_each_kind_of_key,
);
