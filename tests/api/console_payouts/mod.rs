//! The console's Commissions and Payouts pages in headless Chromium: filtering, approving one
//! or many (refused in the holdback unless forced), reversing with a reason; a payout run
//! previewed then confirmed, the CSV export, mark paid, cancel, and retrying a refused Stripe
//! transfer. Screenshots land in `target/screenshots/`.

mod commissions;
mod runs;

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::both_backends;
use crate::console::open_signed_in;
use crate::helpers::{Backend, TestApp, spawn_app, spawn_with_stripe};

/// A partner named `name` with a link on `program`; returns (partner id, link key).
async fn partner_on(app: &TestApp, email: &str, name: &str, programs: &[&str]) -> (String, String) {
    let p = app
        .admin_post(
            "/partners",
            json!({"email": email, "name": name, "sendInvite": false, "programIds": programs}),
        )
        .await;
    let id = p.assert_status(201)["id"].as_str().unwrap().to_string();
    let key = format!("c-{}", &id[id.len() - 8..]).to_lowercase();
    app.create_link(&id, &key, programs[0]).await;
    (id, key)
}

/// A sale through the link; returns the commission id.
async fn sale(app: &TestApp, key: &str, ext: &str, value: &str) -> String {
    let click = app.click(key).await;
    app.sale(ext, value, &click).await.assert_status(201)["commission"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn commission(app: &TestApp, id: &str) -> Value {
    let list = app.admin_get("/commissions?limit=500").await;
    list.assert_status(200)["commissions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .cloned()
        .unwrap_or_else(|| panic!("no commission {id}"))
}
