//! Hardening of the background queues: a suspended vendor parks the Network outbox (no spin).

use std::time::Duration;

use openpartner::network_sim::{Fault, NetworkSim};
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_with_network};

/// How many protocol calls the simulator got that are exactly `METHOD /path`.
fn calls(sim: &NetworkSim, call: &str) -> usize {
    sim.lock().calls.iter().filter(|c| *c == call).count()
}

async fn outbox_rows(app: &TestApp) -> Vec<Value> {
    app.admin_get("/admin/network/outbox").await.body["rows"]
        .as_array()
        .unwrap()
        .clone()
}

async fn a_suspension_parks_the_outbox_until_a_status_check(b: Backend) {
    let (app, sim) = spawn_with_network(b, true, &[]).await;
    let vendor = app.connect_hosted().await;
    app.admin_post("/config/network", json!({"autoEnroll": true}))
        .await
        .assert_status(200);
    // Five pushes wait in the outbox after an outage.
    sim.inject(Fault {
        count: 5,
        path: Some("/partners/upsert".into()),
        status: Some(503),
        ..Default::default()
    });
    let mut ids = Vec::new();
    for i in 0..5 {
        let p = app
            .create_partner(&format!("parked{i}@example.com"), false)
            .await;
        ids.push(p["id"].as_str().unwrap().to_string());
    }
    assert_eq!(outbox_rows(&app).await.len(), 5);

    // The Network suspends the vendor; this instance does not know it yet.
    sim.set_status(&vendor, "suspended");
    app.clock.advance(Duration::from_secs(60));
    let before = calls(&sim, "POST /partners/upsert");
    let drained = tokio::time::timeout(
        Duration::from_secs(10),
        openpartner::network::sync::drain(&app.state),
    )
    .await
    .expect("a drain that meets a suspension ends")
    .unwrap();
    assert_eq!(drained, 1);
    assert_eq!(
        calls(&sim, "POST /partners/upsert") - before,
        1,
        "one refused push, then the drain stops"
    );
    let rows = outbox_rows(&app).await;
    assert_eq!(rows.len(), 5);
    assert!(
        rows.iter()
            .all(|r| r["status"] == "pending" && r["attempts"] == 1),
        "a suspension is not a failed attempt: {rows:?}"
    );

    // While suspended, each drain asks the Network once and sends nothing.
    for _ in 0..3 {
        app.clock.advance(Duration::from_secs(3600));
        let (me, pushes) = (
            calls(&sim, "GET /vendors/me"),
            calls(&sim, "POST /partners/upsert"),
        );
        let drained = tokio::time::timeout(
            Duration::from_secs(10),
            openpartner::network::sync::drain(&app.state),
        )
        .await
        .expect("a drain while suspended ends")
        .unwrap();
        assert_eq!(drained, 0);
        assert_eq!(calls(&sim, "GET /vendors/me") - me, 1);
        assert_eq!(calls(&sim, "POST /partners/upsert"), pushes);
    }

    // Active again: the status check says so, and every row goes out once.
    sim.set_status(&vendor, "active");
    let drained = openpartner::network::sync::drain(&app.state).await.unwrap();
    assert_eq!(drained, 5);
    for id in &ids {
        let pushed = sim
            .lock()
            .upserts
            .iter()
            .filter(|u| u["vendorPartnerId"] == id.as_str())
            .count();
        assert_eq!(pushed, 1, "partner {id}");
    }
    assert!(outbox_rows(&app).await.is_empty(), "nothing left pending");
}

both_backends!(
    a_suspension_parks_the_outbox_until_a_status_check,
);
