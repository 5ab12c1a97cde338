//! Stripe, as the brand instance speaks to it: a thin typed client over reqwest for the few
//! calls we make (Connect Express accounts, account links, transfers), and the verification of
//! the webhooks Stripe signs. The wire is Stripe's real one: form-encoded bodies with bracketed
//! keys, `Authorization: Bearer sk_…`, `Idempotency-Key`, errors as
//! `{error: {type, code, message}}`. What we do with Stripe (Connect onboarding, processing
//! the events) is in `service::stripe_connect` and `service::stripe_events`.

pub mod client;
pub mod signature;

pub use client::{Account, AccountLink, StripeClient, StripeError, Transfer};
