//! The state every handler and job shares. One `Arc`: every request clones it (axum's `State`
//! extractor and each layer), so a clone is a single reference-count increment, not one per
//! service plus the strings some clients hold.

use std::ops::Deref;
use std::sync::Arc;

use crate::clicks::ClickBuffer;
use crate::clock::SharedClock;
use crate::config::Config;
use crate::db::Db;
use crate::email::Mailer;
use crate::link_cache::LinkCache;
use crate::network::client::NetworkClient;
use crate::principal::Authenticator;
use crate::rate_limit::RateLimits;
use crate::trigger::Trigger;

#[derive(Clone)]
pub struct AppState(Arc<Services>);

impl AppState {
    pub fn new(services: Services) -> AppState {
        AppState(Arc::new(services))
    }
}

impl Deref for AppState {
    type Target = Services;

    fn deref(&self) -> &Services {
        &self.0
    }
}

/// What [`AppState`] shares.
pub struct Services {
    pub config: Arc<Config>,
    pub db: Db,
    pub clock: SharedClock,
    pub auth: Arc<Authenticator>,
    pub mailer: Arc<Mailer>,
    pub rate_limits: Arc<RateLimits>,
    /// Signs page cursors; kept in the database so every replica accepts every cursor.
    pub cursor_key: Arc<[u8; 32]>,
    /// Salts visitors' IP hashes (never stored raw); shared by replicas through the database.
    pub ip_salt: Arc<[u8; 32]>,
    /// Link key → redirect target (`None` caches an unknown key). Cleared on any change.
    pub link_cache: Arc<LinkCache>,
    pub clicks: Arc<ClickBuffer>,
    pub network: NetworkClient,
    /// Stripe, when `STRIPE_SECRET_KEY` is set.
    pub stripe: Option<crate::stripe::StripeClient>,
    /// The Network heartbeat's background trigger (`network::heartbeat::trigger`).
    pub heartbeat: Arc<Trigger>,
    /// Set while this process runs (or waits to resume) a backfill.
    pub backfill_worker: Arc<std::sync::atomic::AtomicBool>,
    /// The webhook delivery worker's client and running lanes.
    pub webhooks: Arc<crate::webhooks::worker::Worker>,
}
