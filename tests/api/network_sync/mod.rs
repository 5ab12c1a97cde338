//! Partner sync against the simulator: auto-enroll, dedup, outages on a simulated clock,
//! dead rows and manual retry, suspension, two replicas draining, backfill (idempotent, and
//! resumed after kill -9), and the federation flow with the federation key.

mod backfill;
mod outbox;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use openpartner::db;
use openpartner::network_sim::Fault;
use reqwest::Method;
use serde_json::{Value, json};

use crate::both_backends;
use crate::helpers::{Backend, TestApp, spawn_replica, spawn_with_network};

fn upserts_for(sim: &openpartner::network_sim::NetworkSim, partner: &str) -> Vec<Value> {
    sim.lock()
        .upserts
        .iter()
        .filter(|u| u["vendorPartnerId"] == partner)
        .cloned()
        .collect()
}

async fn set_auto_enroll(app: &TestApp, on: bool) {
    app.admin_post("/config/network", json!({"autoEnroll": on}))
        .await
        .assert_status(200);
}
