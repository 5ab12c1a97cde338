//! Share links and the click redirect: creation rules, the 302 with cookie and query
//! parameter, batching without loss across a graceful shutdown, and Network click reports.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, spawn_app, spawn_replica};

async fn link_creation_rules(b: Backend) {
    let app = spawn_app(b).await;
    let shop = app
        .create_program(
            "https://shop.example.com/start?ref=op",
            json!({"type": "percent", "value": 10}),
        )
        .await;
    let other = app
        .create_program(
            "https://other.example.org",
            json!({"type": "percent", "value": 10}),
        )
        .await;
    let a = app.admin_post("/partners", json!({"email": "l@example.com", "name": "L", "sendInvite": false, "programIds": [shop]})).await;
    let pid = a.body["id"].as_str().unwrap().to_string();

    let link = app.create_link(&pid, "Spring_Sale-1", &shop).await;
    assert_eq!(link["linkKey"], "Spring_Sale-1");
    assert_eq!(link["partnerId"], pid.as_str());
    assert_eq!(link["programId"], shop.as_str());
    assert_eq!(
        link["destinationUrl"],
        "https://shop.example.com/start?ref=op"
    );
    assert_eq!(link["shareUrl"], "http://localhost:8080/r/Spring_Sale-1");
    assert!(link["createdAt"].is_string() && link["id"].is_string());

    let app_ref = &app;
    let path = format!("/partners/{pid}/links");
    let post = |body: serde_json::Value| {
        let path = path.clone();
        async move { app_ref.admin_post(&path, body).await }
    };
    post(json!({"linkKey": "Spring_Sale-1", "programId": shop}))
        .await
        .assert_error(409, "linkKey_taken");
    for bad in [
        "ab",
        "has space",
        "x".repeat(65).as_str(),
        "emoji🙂",
        "dot.dot",
    ] {
        post(json!({"linkKey": bad, "programId": shop}))
            .await
            .assert_error(400, "invalid_body");
    }
    post(json!({"linkKey": "nokey"}))
        .await
        .assert_error(400, "invalid_body");
    post(json!({"linkKey": "ghost", "programId": "cmp_nope"}))
        .await
        .assert_error(400, "invalid_body");
    // The older body shape: campaignId, and a destination equal to the program's is no override.
    let a = post(json!({"linkKey": "old-shape", "campaignId": shop, "destinationUrl": "https://shop.example.com/start?ref=op"})).await;
    assert_eq!(
        a.assert_status(201)["destinationUrl"],
        "https://shop.example.com/start?ref=op"
    );
    // Overrides: same host or a subdomain only.
    let a = post(json!({"linkKey": "deep", "programId": shop, "destinationUrl": "https://shop.example.com/p/42"})).await;
    assert_eq!(
        a.assert_status(201)["destinationUrl"],
        "https://shop.example.com/p/42"
    );
    post(json!({"linkKey": "sub", "programId": shop, "destinationUrl": "https://eu.shop.example.com/"})).await.assert_status(201);
    for evil in [
        "https://evil.example.net/",
        "https://shop.example.com.evil.net/",
        "https://example.com/",
        "javascript:alert(1)",
    ] {
        post(json!({"linkKey": "evil", "programId": shop, "destinationUrl": evil}))
            .await
            .assert_error(400, "destination_override_not_allowed");
    }

    // A partner may create links only for its granted programs.
    let key = app
        .admin_post(&format!("/partners/{pid}/api-keys"), json!({}))
        .await
        .body["plaintext"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        &format!("/partners/{pid}/links"),
        &key,
        json!({"linkKey": "mine", "programId": shop}),
    )
    .await
    .assert_status(201);
    let a = app
        .post(
            &format!("/partners/{pid}/links"),
            &key,
            json!({"linkKey": "notmine", "programId": other}),
        )
        .await;
    a.assert_error(403, "campaign_not_granted");
    let listed = app.get(&format!("/partners/{pid}/links"), &key).await;
    assert_eq!(
        listed.assert_status(200)["links"].as_array().unwrap().len(),
        5
    );

    // Scopes: links:write creates, links:read lists.
    let w = app.scoped_key(&["links:write"]).await;
    let r = app.scoped_key(&["links:read"]).await;
    app.post(
        &format!("/partners/{pid}/links"),
        &w,
        json!({"linkKey": "by-scope", "programId": shop}),
    )
    .await
    .assert_status(201);
    let a = app
        .post(
            &format!("/partners/{pid}/links"),
            &r,
            json!({"linkKey": "nope", "programId": shop}),
        )
        .await;
    assert_eq!(
        a.assert_error(403, "forbidden_scope")["required"],
        "links:write"
    );
    app.get(&format!("/partners/{pid}/links"), &r)
        .await
        .assert_status(200);
    let a = app.get(&format!("/partners/{pid}/links"), &w).await;
    assert_eq!(
        a.assert_error(403, "forbidden_scope")["required"],
        "links:read"
    );
    app.admin_post(
        "/partners/01NOPE/links",
        json!({"linkKey": "zzz", "programId": shop}),
    )
    .await
    .assert_error(404, "not_found");
}

async fn redirect_sets_cookie_and_query_parameter(b: Backend) {
    let app = spawn_app(b).await;
    let prog = app
        .create_program(
            "https://shop.example.com/landing?x=1#top",
            json!({"type": "percent", "value": 10}),
        )
        .await;
    let p = app.create_partner("r@example.com", false).await;
    let pid = p["id"].as_str().unwrap();
    app.call(
        Method::PATCH,
        &format!("/partners/{pid}"),
        Some(&app.admin_key),
        Some(json!({"programIds": [prog]})),
    )
    .await;
    app.create_link(pid, "go-shop", &prog).await;
    let res = app
        .client
        .get(app.url("/r/go-shop?utm_source=newsletter&utm_campaign=spring"))
        .header("user-agent", "TestBrowser/1.0")
        .header("referer", "https://blog.example/post")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 302);
    let location = res.headers()["location"].to_str().unwrap().to_string();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_string();
    let click_id = location
        .split("op_click=")
        .nth(1)
        .unwrap()
        .split('#')
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        location,
        format!("https://shop.example.com/landing?x=1&op_click={click_id}#top")
    );
    assert_eq!(click_id.len(), 26);
    assert!(
        cookie.starts_with(&format!("op_click={click_id};")),
        "{cookie}"
    );
    assert!(
        cookie.contains("Max-Age=5184000"),
        "60-day window: {cookie}"
    );

    app.state.clicks.flush().await;
    use sqlx::Row;
    let row = sqlx::query("SELECT partner_id, program_id, ip_hash, user_agent, referer, utm_source, utm_campaign, revoked FROM clicks WHERE id = $1")
        .bind(&click_id)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap();
    assert_eq!(row.get::<String, _>(0), pid);
    assert_eq!(row.get::<String, _>(1), prog);
    let ip_hash: String = row.get(2);
    assert!(
        !ip_hash.contains("127.0.0.1") && ip_hash.len() == 32,
        "a salted hash, never the raw IP"
    );
    assert_eq!(row.get::<String, _>(3), "TestBrowser/1.0");
    assert_eq!(row.get::<String, _>(4), "https://blog.example/post");
    assert_eq!(row.get::<String, _>(5), "newsletter");
    assert_eq!(row.get::<String, _>(6), "spring");
    assert_eq!(row.get::<i64, _>(7), 0);

    // Unknown key: a 404 page, not JSON and not a redirect.
    let res = app
        .client
        .get(app.url("/r/no-such-link"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    // A link created after its key was looked up works at once (no stale negative cache).
    let res = app
        .client
        .get(app.url("/r/late-link"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    app.create_link(pid, "late-link", &prog).await;
    app.click("late-link").await;
    // Changing the program's destination applies at once.
    app.call(
        Method::PATCH,
        &format!("/programs/{prog}"),
        Some(&app.admin_key),
        Some(json!({"destinationUrl": "https://shop.example.com/new"})),
    )
    .await
    .assert_status(200);
    let res = app.client.get(app.url("/r/go-shop")).send().await.unwrap();
    assert!(
        res.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("https://shop.example.com/new?op_click=")
    );
}

async fn revoked_partner_links_still_redirect_but_are_flagged(b: Backend) {
    let app = spawn_app(b).await;
    let p = app.create_partner("gone@example.com", false).await;
    let pid = p["id"].as_str().unwrap();
    app.create_link(pid, "still-works", "cmp_default").await;
    app.click("still-works").await;
    app.admin_post(&format!("/partners/{pid}/revoke"), json!({"notify": false}))
        .await
        .assert_status(200);
    let click = app.click("still-works").await;
    app.state.clicks.flush().await;
    use sqlx::Row;
    let revoked: i64 = sqlx::query("SELECT revoked FROM clicks WHERE id = $1")
        .bind(&click)
        .fetch_one(app.state.db.pool())
        .await
        .unwrap()
        .get(0);
    assert_eq!(revoked, 1);
}

async fn no_click_is_lost_across_a_graceful_shutdown(b: Backend) {
    let mut app = spawn_app(b).await;
    let p = app.create_partner("busy@example.com", false).await;
    app.create_link(p["id"].as_str().unwrap(), "busy-link", "cmp_default")
        .await;
    // Many concurrent visitors.
    let answered = app
        .concurrently(400, Method::GET, "/r/busy-link", None, |_| None)
        .await
        .iter()
        .filter(|a| a.status == 302)
        .count();
    assert_eq!(answered, 400);
    let env: Vec<(String, String)> = app.env.clone().into_iter().collect();
    app.stop().await;
    // A fresh instance on the same database counts every answered click.
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let restarted = spawn_replica(b, &env).await;
    assert_eq!(restarted.clicks_in_db().await, 400);
}

async fn network_click_reports_are_idempotent(b: Backend) {
    let app = spawn_app(b).await;
    let p = app.create_partner("net@example.com", false).await;
    let pid = p["id"].as_str().unwrap();
    app.create_link(pid, "net-link", "cmp_default").await;
    let key = app.scoped_key(&["clicks:write"]).await;
    let body = json!({"id": "nw_click_1", "linkKey": "net-link", "landingUrl": "https://shop.example.com/", "ts": "2026-01-02T03:04:05Z", "extra": "ignored"});
    let a = app.post("/clicks", &key, body.clone()).await;
    assert_eq!(
        a.assert_status(201),
        &json!({"ok": true, "id": "nw_click_1"})
    );
    let a = app.post("/clicks", &key, body).await;
    assert_eq!(
        a.assert_status(200),
        &json!({"ok": true, "id": "nw_click_1", "replayed": true})
    );
    assert_eq!(app.clicks_in_db().await, 1);
    let a = app
        .post(
            "/clicks",
            &key,
            json!({"id": "x", "linkKey": "nope", "landingUrl": "https://a.example"}),
        )
        .await;
    a.assert_error(404, "link_not_found");
    let a = app
        .post(
            "/clicks",
            &key,
            json!({"id": "y", "linkKey": "net-link", "ts": "yesterday"}),
        )
        .await;
    a.assert_error(400, "invalid_body");
    let other = app.scoped_key(&["partners:read"]).await;
    let a = app
        .post("/clicks", &other, json!({"id": "z", "linkKey": "net-link"}))
        .await;
    assert_eq!(
        a.assert_error(403, "forbidden_scope")["required"],
        "clicks:write"
    );
}

both_backends!(
    link_creation_rules,
    redirect_sets_cookie_and_query_parameter,
    revoked_partner_links_still_redirect_but_are_flagged,
    no_click_is_lost_across_a_graceful_shutdown,
    network_click_reports_are_idempotent,
);
