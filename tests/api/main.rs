//! Black-box tests of the running application over HTTP (and of the CLI binary), each on
//! SQLite and on PostgreSQL.

#[allow(dead_code)] // shared by every test file; not each uses every helper
mod helpers;
#[allow(dead_code)]
mod smtp_sink;

mod access;
mod api_keys;
mod brand;
mod cli;
mod commissions;
mod console;
mod console_mail;
mod console_overview;
mod console_payouts;
mod console_stripe;
mod csv_exports;
mod foundation;
mod hardening;
mod hardening_queues;
mod links;
mod localstripe;
mod logo;
mod mail;
mod marketplace;
mod network;
mod network_connect;
mod network_sync;
mod operations;
mod partner_lifecycle;
mod partner_network;
mod partners;
mod payouts;
mod payouts_after_run;
mod payouts_more;
mod payouts_stripe;
mod portal;
mod portal_figures;
mod programs;
mod resilience;
mod retention;
mod routes;
mod rules;
mod signup;
mod stripe;
mod stripe_billing;
mod stripe_sim;
mod stripe_sim_faults;
mod stripe_webhooks;
mod timeseries;
mod transfer;
mod webhook_delivery;
mod webhook_endpoints;
#[allow(dead_code)]
mod webhook_receiver;
mod webhooks;
mod webhooks_console;
