//! The Network connection against the simulator: both connect flows, the token kept secret,
//! push-now failure reasons, background heartbeats, logo upload, the cron's slots across two
//! instances, offerings, and the deliberate absence of a disconnect.

mod connect;
mod offerings;
mod panel;

use std::time::Duration;

use openpartner::db;
use openpartner::network_sim::Fault;
use reqwest::Method;
use serde_json::json;

use crate::both_backends;
use crate::helpers::{
    ADMIN_EMAIL, Backend, TestApp, captured_logs, eventually, spawn_replica, spawn_with_network,
};
