//! Hardening: answered clicks survive kill -9 (real binary, under load), a NUL wedges nothing,
//! slowloris connections are cut off (real binary), the connection cap and the request and
//! body timeouts, `X-Forwarded-For` read from our proxies' side, the payout account is admin
//! only, holdback enforced, list bounds.

mod crashes;
mod sockets;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use openpartner::db;
use openpartner::db::clicks::Click;
use openpartner::network_sim::Fault;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::both_backends;
use crate::helpers::{Backend, TestApp, free_port, spawn_app, spawn_app_with, spawn_with_network};

/// A partner with a link on the default program; returns the link key.
async fn linked(app: &TestApp, email: &str) -> String {
    let p = app.create_partner(email, false).await;
    let id = p["id"].as_str().unwrap();
    let key = format!("k-{}", &id[id.len() - 8..]).to_lowercase();
    app.create_link(id, &key, "cmp_default").await;
    key
}

/// Starts the real binary on `app`'s database; returns it and its base URL once it answers.
async fn real_binary(app: &TestApp, env: &[(&str, &str)]) -> (std::process::Child, String) {
    let port = free_port();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_openpartner"));
    cmd.envs(app.env.iter())
        .envs(env.iter().copied())
        .env("OPENPARTNER_BIND", format!("127.0.0.1:{port}"))
        .env("OPENPARTNER_LOG", "warn")
        .arg("serve")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let child = cmd.spawn().expect("the binary starts");
    let base = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while reqwest::get(format!("{base}/health")).await.is_err() {
        assert!(Instant::now() < deadline, "the binary did not start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, base)
}

async fn payout_account_is_admin_only(b: Backend) {
    let app = spawn_app(b).await;
    let p = app.create_partner("pay@example.com", false).await;
    let path = format!("/partners/{}", p["id"].as_str().unwrap());
    let writer = app.scoped_key(&["partners:read", "partners:write"]).await;
    let patch = |key: String, body: Value| {
        let path = path.clone();
        let app = &app;
        async move { app.call(Method::PATCH, &path, Some(&key), Some(body)).await }
    };
    patch(
        writer.clone(),
        json!({"stripeConnectAccountId": "acct_evil"}),
    )
    .await
    .assert_error(403, "forbidden");
    patch(writer.clone(), json!({"name": "Renamed"}))
        .await
        .assert_status(200);
    let a = patch(
        app.admin_key.clone(),
        json!({"stripeConnectAccountId": "acct_good"}),
    )
    .await;
    assert_eq!(a.assert_status(200)["stripeConnectAccountId"], "acct_good");
}

async fn holdback_is_enforced(b: Backend) {
    let app = spawn_app(b).await;
    app.call(
        Method::PATCH,
        "/programs/cmp_default",
        Some(&app.admin_key),
        Some(json!({"holdbackDays": 14})),
    )
    .await
    .assert_status(200);
    let key = linked(&app, "hold@example.com").await;
    let c = app.click(&key).await;
    let sale = app.sale("held", "100.00", &c).await;
    let id = sale.assert_status(201)["commission"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/commissions/{id}/approve");
    let approve = |body: Option<Value>| app.call(Method::POST, &path, Some(&app.admin_key), body);
    let a = approve(None).await;
    assert!(a.assert_error(409, "not_mature")["matureAt"].is_string());
    approve(Some(json!({"force": true, "typo": 1})))
        .await
        .assert_error(400, "invalid_body");
    let a = approve(Some(json!({"force": true}))).await;
    let c = a.assert_status(200);
    assert_eq!(c["status"], "approved");
    assert_eq!(c["approvalForced"], true);
    approve(None).await.assert_error(409, "invalid_transition");
    // A matured commission is approved without force, and not marked forced.
    let c2 = app.click(&key).await;
    let id2 = app.sale("matured", "100.00", &c2).await.body["commission"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.clock.advance(Duration::from_secs(14 * 86_400));
    let a = app
        .admin_post(&format!("/commissions/{id2}/approve"), json!({}))
        .await;
    assert_eq!(a.assert_status(200)["approvalForced"], false);
}

async fn lists_are_bounded(b: Backend) {
    let app = spawn_app(b).await;
    // A 1 MB list of one id, repeated: refused at once by its length.
    let many: Vec<&str> = vec!["cmp_default"; 60_000];
    app.admin_post(
        "/partners",
        json!({"email": "l@example.com", "name": "L", "programIds": many}),
    )
    .await
    .assert_error(400, "invalid_body");
    // Duplicates within the bound are folded.
    let dup: Vec<&str> = vec!["cmp_default"; 1_000];
    let a = app
        .admin_post(
            "/partners",
            json!({"email": "d@example.com", "name": "D", "programIds": dup, "sendInvite": false}),
        )
        .await;
    assert_eq!(a.assert_status(201)["programIds"], json!(["cmp_default"]));
}

both_backends!(
    payout_account_is_admin_only,
    holdback_is_enforced,
    lists_are_bounded,
);
