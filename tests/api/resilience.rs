//! A request whose client disconnects still runs to completion. That is what keeps the pool
//! sound: on PostgreSQL a `begin()` cancelled mid-flight leaves a connection inside a
//! transaction sqlx does not track (sqlx #4393), and later writes on it vanish (the benchmark
//! lost clicks that way). Here the disconnect is made certain: the Network is slowed down so
//! the client gives up while the create handler is still pushing the partner.

use std::time::{Duration, Instant};

use openpartner::network_sim::Fault;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{Backend, spawn_with_network};

async fn a_disconnecting_client_does_not_cancel_the_request(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    app.connect_hosted().await;
    app.admin_post("/config/network", json!({"autoEnroll": true}))
        .await
        .assert_status(200);
    sim.inject(Fault {
        count: 1,
        path: Some("/partners/upsert".into()),
        delay_ms: Some(600),
        ..Default::default()
    });
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .unwrap();
    let res = impatient
        .post(app.url("/partners"))
        .bearer_auth(&app.admin_key)
        .json(&json!({"email": "patient@example.com", "name": "Patient", "sendInvite": false}))
        .send()
        .await;
    assert!(res.is_err(), "the client gave up before the answer");
    // The handler went on: the partner exists, its push finished with the identity stored, and
    // nothing is left half-done in the outbox (the push completes its row just after storing
    // the identity, so both are awaited together).
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let list = app.admin_get("/partners?email=patient@example.com").await;
        let partners = list.body["partners"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let pushed = partners.len() == 1
            && partners[0]["metadata"]["network"]["networkCreatorId"].is_string();
        let outbox = app.admin_get("/admin/network/outbox").await;
        if pushed && outbox.body["rows"] == json!([]) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the abandoned request was cancelled midway: {} / outbox {}",
            list.text,
            outbox.text
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

both_backends!(a_disconnecting_client_does_not_cancel_the_request);
