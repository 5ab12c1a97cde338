//! OpenPartner: the brand instance of a partner (affiliate / creator) program.
//! See README.md for running it and `docs/` for the API and protocol.

pub mod cache;
pub mod cli;
pub mod clicks;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod email;
pub mod error;
pub mod http;
pub mod instruments;
pub mod jobs;
pub mod keys;
pub mod link_cache;
pub mod network;
#[cfg(feature = "simulators")]
pub mod network_sim;
pub mod principal;
pub mod rate_limit;
pub mod secrets;
pub mod server;
pub mod service;
pub mod startup;
pub mod state;
pub mod stripe;
#[cfg(feature = "simulators")]
pub mod stripe_sim;
pub mod telemetry;
pub mod transfer;
pub mod trigger;
pub mod uploads;
pub mod views;
pub mod webhooks;
