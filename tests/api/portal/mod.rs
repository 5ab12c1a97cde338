//! The partner portal: its pages over HTTP (policy, CSRF, QR codes), and the real portal driven
//! in headless Chromium: magic-link sign-in, home with a chart, links, commissions, payouts,
//! Stripe onboarding against the Stripe simulator, applying to a Network offering against the
//! Network simulator. Screenshots of every page, desktop and phone width, land in
//! `target/screenshots/portal-*`.

mod access;
mod pages;

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::console::Browser;
use crate::helpers::{Backend, TestApp, spawn_app, spawn_with_network, spawn_with_stripe};

/// A program at 30 % of the first sale then 10 %, no holdback; returns its id.
async fn shoes_program(app: &TestApp) -> String {
    let a = app
        .admin_post(
            "/programs",
            json!({"name": "Shoes", "destinationUrl": "https://shoes.example/", "holdbackDays": 0,
            "commissionRules": [
                {"trigger": "first", "type": "percent", "value": 30},
                {"trigger": "subsequent", "type": "percent", "value": 10, "recurringMonths": 12}
            ]}),
        )
        .await;
    a.assert_status(201)["id"].as_str().unwrap().to_string()
}

/// An invited partner in `program`; returns (partner id, magic-link token).
async fn invited(app: &TestApp, email: &str, name: &str, program: &str) -> (String, String) {
    let a = app
        .admin_post(
            "/partners",
            json!({"email": email, "name": name, "sendInvite": true, "programIds": [program]}),
        )
        .await;
    let id = a.assert_status(201)["id"].as_str().unwrap().to_string();
    (id, app.latest_token(email, 1).await)
}
