//! Programs (campaigns): the default program, create/get/list/patch, the /campaigns alias,
//! exact commission values and validation.

use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, spawn_app};

async fn default_program_exists_and_programs_round_trip(b: Backend) {
    let app = spawn_app(b).await;
    let list = app.admin_get("/programs").await;
    let programs = list.assert_status(200)["programs"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(programs.len(), 1);
    assert_eq!(programs[0]["id"], "cmp_default");
    assert_eq!(programs[0]["name"], "Default program");

    let a = app
        .admin_post(
            "/programs",
            json!({"name": "Spring", "destinationUrl": "https://shop.example.com/spring",
                   "commission": {"type": "percent", "value": 12.5}, "holdbackDays": 30}),
        )
        .await;
    let p = a.assert_status(201).clone();
    let id = p["id"].as_str().unwrap();
    assert!(id.starts_with("cmp_") && id.len() == 30, "{id}");
    assert_eq!(
        p["commission"],
        json!({"type": "percent", "value": "12.5", "currency": "USD"})
    );
    assert_eq!(p["attributionWindowDays"], 60);
    assert_eq!(p["holdbackDays"], 30);
    assert_eq!(p["shareOnNetwork"], false);

    // Fixed amounts keep the currency's minor digits, given as string or number.
    let a = app
        .admin_post(
            "/campaigns",
            json!({"name": "Flat", "destinationUrl": "https://shop.example.com",
                   "commission": {"type": "fixed", "value": "5", "currency": "eur"}}),
        )
        .await;
    let flat = a.assert_status(201).clone();
    assert_eq!(
        flat["commission"],
        json!({"type": "fixed", "value": "5.00", "currency": "EUR"})
    );

    let got = app.admin_get(&format!("/programs/{id}")).await;
    assert_eq!(got.assert_status(200), &p);
    let via_alias = app.admin_get(&format!("/campaigns/{id}")).await;
    assert_eq!(via_alias.assert_status(200), &p);
    assert_eq!(
        app.admin_get("/campaigns").await.body["programs"]
            .as_array()
            .unwrap()
            .len(),
        3
    );

    let a = app
        .call(
            Method::PATCH,
            &format!("/programs/{id}"),
            Some(&app.admin_key),
            Some(json!({"commission": {"type": "percent", "value": "7.25"}, "name": "Spring 2"})),
        )
        .await;
    let patched = a.assert_status(200);
    assert_eq!(patched["commission"]["value"], "7.25");
    assert_eq!(patched["name"], "Spring 2");
    assert_eq!(patched["destinationUrl"], "https://shop.example.com/spring");

    app.admin_get("/programs/cmp_nope")
        .await
        .assert_error(404, "not_found");
}

async fn program_validation_names_fields(b: Backend) {
    let app = spawn_app(b).await;
    let a = app.admin_post("/programs", json!({})).await;
    let detail = &a.assert_error(400, "invalid_body")["detail"];
    for f in ["name", "destinationUrl", "commission"] {
        assert!(detail[f].is_string(), "{f} not named: {detail}");
    }
    let base = json!({"name": "x", "destinationUrl": "https://a.example", "commission": {"type": "percent", "value": "10"}});
    let with = |k: &str, v: serde_json::Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    for (body, field) in [
        (with("destinationUrl", json!("not a url")), "destinationUrl"),
        (
            with("destinationUrl", json!("ftp://a.example")),
            "destinationUrl",
        ),
        (
            with("commission", json!({"type": "percent", "value": "101"})),
            "commission.value",
        ),
        (
            with("commission", json!({"type": "percent", "value": "1.23456"})),
            "commission.value",
        ),
        (
            with("commission", json!({"type": "fixed", "value": "5.001"})),
            "commission.value",
        ),
        (
            with("commission", json!({"type": "bonus", "value": "5"})),
            "commission.type",
        ),
        (
            with(
                "commission",
                json!({"type": "fixed", "value": "5", "currency": "dollars"}),
            ),
            "commission.currency",
        ),
        (with("holdbackDays", json!(-1)), "holdbackDays"),
        (
            with("attributionWindowDays", json!(0)),
            "attributionWindowDays",
        ),
        (
            with("shareOnNetwork", json!(true)),
            "marketplaceDescription",
        ),
    ] {
        let a = app.admin_post("/programs", body.clone()).await;
        let detail = &a.assert_error(400, "invalid_body")["detail"];
        assert!(
            detail[field].is_string(),
            "{field} not named for {body}: {detail}"
        );
    }
    let ok = with("shareOnNetwork", json!(true));
    let mut ok = ok;
    ok["marketplaceDescription"] = json!("Great products for creators");
    app.admin_post("/programs", ok).await.assert_status(201);
    // Unknown fields are rejected, not dropped.
    let a = app
        .admin_post("/programs", with("commision", json!({})))
        .await;
    a.assert_error(400, "invalid_body");
}

async fn programs_are_admin_only(b: Backend) {
    let app = spawn_app(b).await;
    let key = app.scoped_key(&["partners:read", "partners:write"]).await;
    app.get("/programs", &key)
        .await
        .assert_error(403, "forbidden");
    app.post("/programs", &key, json!({}))
        .await
        .assert_error(403, "forbidden");
}

both_backends!(
    default_program_exists_and_programs_round_trip,
    program_validation_names_fields,
    programs_are_admin_only,
);
