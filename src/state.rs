//! The state every handler and job shares. Cheap to clone (everything behind `Arc`).

use std::sync::Arc;

use crate::clock::SharedClock;
use crate::config::Config;
use crate::db::Db;
use crate::email::Mailer;
use crate::http::rate_limit::RateLimits;
use crate::principal::Authenticator;

#[derive(Clone)]
pub struct AppState {
    pub config: Arc<Config>,
    pub db: Db,
    pub clock: SharedClock,
    pub auth: Arc<Authenticator>,
    pub mailer: Arc<Mailer>,
    pub rate_limits: Arc<RateLimits>,
    /// Signs page cursors; kept in the database so every replica accepts every cursor.
    pub cursor_key: Arc<[u8; 32]>,
}
