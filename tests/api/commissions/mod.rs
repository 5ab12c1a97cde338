//! Conversions and commissions: snapshot vs live-rule pricing, idempotency under concurrent
//! duplicates, the attribution window edge, revoked partners, recurring customers, the state
//! machine, and a dashboard checked against figures computed by hand.

mod attribution;
mod lifecycle;

use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app};

/// A partner on `program` with one link; returns (partner id, link key).
async fn partner_with_link(
    app: &TestApp,
    email: &str,
    program: &str,
    snapshot: Option<Value>,
) -> (String, String) {
    let mut body =
        json!({"email": email, "name": email, "sendInvite": false, "programIds": [program]});
    if let Some(s) = snapshot {
        body["commissionSnapshot"] = s;
        body["campaignGrantSource"] = json!("offering");
    }
    let a = app.admin_post("/partners", body).await;
    let id = a.assert_status(201)["id"].as_str().unwrap().to_string();
    let key = format!("l-{}", &id[id.len() - 8..]).to_lowercase();
    app.create_link(&id, &key, program).await;
    (id, key)
}
