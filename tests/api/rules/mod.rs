//! Compound commission rules as the Network sends them, and the federation reads as it makes
//! them: a rule set federated in and priced (first 30 %, then 10 %), `recurringMonths`
//! ending, exactly one `first` among concurrent events, fixed rules and foreign currencies,
//! tolerant bodies, `limit=500`, dashboard numbers and `byCurrency`, flagged clicks.

mod pricing;
mod reads;

use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_app};

/// The federation key's scopes (NETWORK-PROTOCOL.md §2).
const FEDERATION: &[&str] = &[
    "partners:read",
    "partners:write",
    "links:write",
    "commissions:read",
    "clicks:write",
];

/// A program with a long attribution window and these live terms; returns its id.
async fn program(app: &TestApp, rules: Value) -> String {
    let a = app
        .admin_post(
            "/programs",
            json!({"name": "Rules", "destinationUrl": "https://shop.example.com",
                   "commissionRules": rules, "attributionWindowDays": 3650}),
        )
        .await;
    a.assert_status(201)["id"].as_str().unwrap().to_string()
}

/// Federates a partner in as the Network does (its key, its body, extra fields it may add);
/// returns (partner id, link key).
async fn federate(
    app: &TestApp,
    key: &str,
    email: &str,
    program: &str,
    snapshot: Value,
) -> (String, String) {
    let a = app
        .post(
            "/partners",
            key,
            json!({"email": email, "name": "Creator", "sendInvite": false, "programIds": [program],
                   "campaignGrantSource": "offering", "commissionSnapshot": snapshot,
                   "metadata": {"source": "openpartner_network", "networkCreatorId": "cr_1",
                                "creatorHandle": "@c", "somethingNew": {"x": 1}},
                   "networkFieldAddedLater": true}),
        )
        .await;
    let id = a.assert_status(201)["id"].as_str().unwrap().to_string();
    let link = format!("f-{}", &id[id.len() - 8..]).to_lowercase();
    app.post(
        &format!("/partners/{id}/links"),
        key,
        json!({"linkKey": link, "programId": program, "unknownLinkField": 1}),
    )
    .await
    .assert_status(201);
    (id, link)
}
