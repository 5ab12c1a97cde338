//! Application services: the operations handlers call when one request must change several
//! things together (a partner, its snapshot, its invite email) or needs more than one query.

pub mod commissions;
pub mod conversions;
pub mod links;
pub mod magic;
pub mod partners;
pub mod payout_jobs;
pub mod payouts;
pub mod stripe_billing;
pub mod stripe_connect;
pub mod stripe_error;
pub mod stripe_events;
pub mod stripe_reversals;
