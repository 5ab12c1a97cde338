//! Payouts: auto-approval after the holdback, runs grouped per partner and currency with
//! minimums and skip reasons, concurrent runs that never pay twice, the manual rail (CSV,
//! mark paid, cancel), clawbacks netted, balances, and the Network's metering report.

mod rails;
mod runs;

use std::collections::HashSet;
use std::time::Duration;

use openpartner::network_sim::Fault;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app, spawn_app_with, spawn_with_network};

/// A partner with a link on `program`; returns (partner id, link key).
pub(crate) async fn partner(
    app: &TestApp,
    email: &str,
    program: &str,
    body: Value,
) -> (String, String) {
    let mut b =
        json!({"email": email, "name": email, "sendInvite": false, "programIds": [program]});
    if let (Some(b), Some(extra)) = (b.as_object_mut(), body.as_object()) {
        b.extend(extra.clone());
    }
    let id = app.admin_post("/partners", b).await.assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let key = format!("p-{}", &id[id.len() - 8..]).to_lowercase();
    app.create_link(&id, &key, program).await;
    (id, key)
}

/// A sale through the partner's link in `currency`; returns the commission id.
pub(crate) async fn sale(
    app: &TestApp,
    link: &str,
    ext: &str,
    value: &str,
    currency: &str,
) -> String {
    let click = app.click(link).await;
    let a = app
        .admin_post(
            "/events",
            json!({"externalEventId": ext, "value": value, "currency": currency, "clickId": click}),
        )
        .await;
    a.assert_status(201)["commission"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

pub(crate) async fn approved(
    app: &TestApp,
    link: &str,
    ext: &str,
    value: &str,
    currency: &str,
) -> String {
    let id = sale(app, link, ext, value, currency).await;
    app.admin_post(&format!("/commissions/{id}/approve"), json!({}))
        .await
        .assert_status(200);
    id
}

async fn run(app: &TestApp, body: Value) -> crate::helpers::Answer {
    app.admin_post("/payouts/run", body).await
}

/// The production tick (the test default fires on 1 January only, so it names no next run).
pub(crate) const DAILY_TICK: (&str, &str) = ("OPENPARTNER_PAYOUT_SCHEDULE_CRON", "0 0 9 * * *");
