//! `/config/brand`: the brand name an admin sets (bounded, audited), and every place a
//! partner sees it (emails, the portal, the sign-in page, the console's header), on every
//! replica.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app, spawn_replica};

both_backends!(admin_sets_the_brand_name, partners_see_the_brand_name);

async fn put_brand(app: &TestApp, body: serde_json::Value) -> crate::helpers::Answer {
    let key = app.admin_key.clone();
    app.call(Method::PUT, "/config/brand", Some(&key), Some(body))
        .await
}

async fn admin_sets_the_brand_name(b: Backend) {
    let app = spawn_app(b).await;
    // Until an admin sets one: the configured name.
    let a = app.admin_get("/config/brand").await;
    assert_eq!(a.assert_status(200), &json!({"brandName": "OpenPartner"}));

    let a = put_brand(&app, json!({"brandName": "  Acme Shoes  "})).await;
    assert_eq!(a.assert_status(200), &json!({"brandName": "Acme Shoes"}));
    let a = app.admin_get("/config/brand").await;
    assert_eq!(a.assert_status(200)["brandName"], "Acme Shoes");
    let row = app.audited_once("config.update", "brand_name").await;
    assert_eq!(
        row["changes"],
        json!({"brandName": {"before": null, "after": "Acme Shoes"}})
    );

    // Bounded: trimmed 1–100 characters, no control characters, nothing else in the body.
    let long = "x".repeat(101);
    for body in [
        json!({"brandName": ""}),
        json!({"brandName": "   "}),
        json!({"brandName": long}),
        json!({"brandName": "Acme\u{0}"}),
        json!({"brandName": "Acme\nShoes"}),
        json!({"brandName": "Acme\tShoes"}),
        json!({}),
        json!({"brandName": null}),
    ] {
        let a = put_brand(&app, body.clone()).await;
        let err = a.assert_error(400, "invalid_body");
        assert!(err["detail"]["brandName"].is_string(), "{body}: {err}");
    }
    for body in [
        json!({"brandName": 7}),
        json!({"brandName": "A", "logo": "x"}),
    ] {
        put_brand(&app, body)
            .await
            .assert_error(400, "invalid_body");
    }
    let a = app
        .client
        .put(app.url("/config/brand"))
        .bearer_auth(&app.admin_key)
        .header("content-type", "application/json")
        .body("{\"brandName\": ")
        .send()
        .await
        .unwrap();
    crate::helpers::answer(a)
        .await
        .assert_error(400, "invalid_json");
    // 100 characters (not bytes) fit.
    let wide = "é".repeat(100);
    let a = put_brand(&app, json!({ "brandName": wide })).await;
    assert_eq!(a.assert_status(200)["brandName"], wide.as_str());
    let a = app.admin_get("/config/brand").await;
    assert_eq!(a.assert_status(200)["brandName"], wide.as_str());

    // Admins only; a console change needs the CSRF token.
    app.call(Method::GET, "/config/brand", None, None)
        .await
        .assert_error(401, "unauthorized");
    let scoped = app.scoped_key(&["partners:write"]).await;
    for method in [Method::GET, Method::PUT] {
        app.call(
            method,
            "/config/brand",
            Some(&scoped),
            Some(json!({"brandName": "X"})),
        )
        .await
        .assert_error(403, "forbidden");
    }
    let partner = app.create_partner("p@example.com", false).await;
    let partner_key = app.partner_key(partner["id"].as_str().unwrap()).await;
    app.call(
        Method::PUT,
        "/config/brand",
        Some(&partner_key),
        Some(json!({"brandName": "X"})),
    )
    .await
    .assert_error(403, "forbidden");
    let (cookie, csrf) = app.console_session().await;
    let body = Some(json!({"brandName": "Cookie Co"}));
    app.with_cookie(Method::PUT, "/config/brand", &cookie, None, body.clone())
        .await
        .assert_error(403, "csrf_failed");
    let a = app
        .with_cookie(Method::PUT, "/config/brand", &cookie, Some(&csrf), body)
        .await;
    assert_eq!(a.assert_status(200)["brandName"], "Cookie Co");
}

async fn partners_see_the_brand_name(b: Backend) {
    let app = spawn_app(b).await;
    put_brand(&app, json!({"brandName": "Acme <Shoes>"}))
        .await
        .assert_status(200);
    let escaped = "Acme &lt;Shoes&gt;";

    // Emails.
    app.create_partner("ada@example.com", true).await;
    let mail = app.wait_for_mails("ada@example.com", 1).await.remove(0);
    assert_eq!(
        mail.subject(),
        "Acme <Shoes> invited you to its partner program"
    );
    assert!(mail.raw.contains(escaped), "{}", mail.raw);

    // The portal, the sign-in page its link opens, the console: HTML-escaped.
    let portal = app.call(Method::GET, "/portal", None, None).await;
    assert!(
        portal
            .text
            .contains(&format!("<strong id=\"brand\">{escaped} partners</strong>")),
        "{}",
        portal.text
    );
    let token = app.latest_token("ada@example.com", 1).await;
    let page = app
        .call(
            Method::GET,
            &format!("/auth/magic?token={token}"),
            None,
            None,
        )
        .await;
    assert!(page.text.contains(escaped), "{}", page.text);
    for path in ["/admin/overview", "/admin/mail", "/admin/settings"] {
        let page = app.call(Method::GET, path, None, None).await;
        assert!(
            page.text
                .contains(&format!("<strong id=\"brand\">{escaped}</strong>")),
            "{path}: {}",
            page.text
        );
    }
    let overview = app.admin_get("/stats/overview").await;
    assert_eq!(overview.assert_status(200)["brandName"], "Acme <Shoes>");

    // Another replica on the same database shows it, and its change shows here.
    let env: Vec<(String, String)> = app.env.clone().into_iter().collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let replica = spawn_replica(b, &env).await;
    let portal = replica.call(Method::GET, "/portal", None, None).await;
    assert!(portal.text.contains(escaped), "{}", portal.text);
    put_brand(&replica, json!({"brandName": "Acme Hats"}))
        .await
        .assert_status(200);
    let portal = app.call(Method::GET, "/portal", None, None).await;
    assert!(
        portal.text.contains("Acme Hats partners"),
        "{}",
        portal.text
    );
    app.admin_post(
        "/partners",
        json!({"email": "bo@example.com", "name": "Bo", "sendInvite": true}),
    )
    .await
    .assert_status(201);
    let mail = app.wait_for_mails("bo@example.com", 1).await.remove(0);
    assert_eq!(
        mail.subject(),
        "Acme Hats invited you to its partner program"
    );
}
