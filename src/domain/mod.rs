//! Parse-don't-validate types shared by every layer: ids, timestamps, scopes, secrets,
//! email addresses, exact money and commission rules.

pub mod backoff;
pub mod brand;
pub mod commission;
pub mod cron;
pub mod cursor;
pub mod email;
pub mod ids;
pub mod mail;
pub mod money;
pub mod network;
pub mod partners;
pub mod payouts;
pub mod rules;
pub mod scopes;
pub mod series;
pub mod terms;
pub mod time;
pub mod tokens;
pub mod urls;
pub mod webhooks;
